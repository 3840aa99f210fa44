package storage

import (
	"github.com/jocko/jocko/io/buggify"
	"math/bits"
	"sync"
)

// Read buffers come from a small pool of power-of-two size classes, so that
// a broker serving fetches does not allocate (and the garbage collector does
// not sweep) a fresh buffer of up to a few MiB for every partition of every
// fetch. The pool is bounded in bytes; what does not fit is left to the GC.
const (
	readPoolClassMin = 16                   // 64 KiB: smaller reads are cheap to allocate
	readPoolClassMax = 24                   // 16 MiB: larger buffers are not kept
	readPoolBytesMax = 64 << 20             // total bytes of idle pooled buffers
	readPoolClasses  = readPoolClassMax + 1 // indexed by log2(capacity)
)

// readPool is the package's pool of read buffers.
var readPool bufferPool

type bufferPool struct {
	mu    sync.Mutex
	free  [readPoolClasses][][]byte
	bytes int // capacity held in free
}

// poolClass returns the size class whose buffers hold n bytes, and false
// when buffers of that size are not pooled.
func poolClass(n int64) (int, bool) {
	if n <= 0 {
		return 0, false
	}
	c := bits.Len64(uint64(n - 1)) // smallest c with 1<<c >= n
	c = max(c, readPoolClassMin)
	return c, c <= readPoolClassMax
}

// get returns a buffer of length n, pooled if n has a size class.
func (p *bufferPool) get(n int64) []byte {
	c, ok := poolClass(n)
	if !ok {
		return make([]byte, n)
	}
	p.mu.Lock()
	if k := len(p.free[c]); k > 0 {
		b := p.free[c][k-1]
		p.free[c][k-1] = nil
		p.free[c] = p.free[c][:k-1]
		p.bytes -= cap(b)
		p.mu.Unlock()
		return b[:n]
	}
	p.mu.Unlock()
	return make([]byte, n, 1<<c)
}

// put keeps b for a later get, if it is of a pooled class and the pool has
// room; otherwise it drops it.
func (p *bufferPool) put(b []byte) {
	c, ok := poolClass(int64(cap(b)))
	if !ok || cap(b) != 1<<c {
		return
	}
	if buggify.Active() {
		// Under the simulator every broker of the cluster shares this
		// pool: poison what is handed back, so that a read of stale bytes
		// (one broker's data showing up in another's answer) fails its
		// CRC instead of passing unnoticed.
		for i := range b { // the bytes the last user filled
			b[i] = 0xa5
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bytes+cap(b) > readPoolBytesMax {
		return
	}
	p.free[c] = append(p.free[c], b[:0])
	p.bytes += cap(b)
}

// ReadPooled is Read into a buffer from the package's read pool. Once done
// with data (for a fetch: once the response is written), the caller may
// hand it back with Release, and must not touch it afterwards.
func (l *Log) ReadPooled(offset int64, maxBytes int, upTo int64) ([]byte, error) {
	return l.read(offset, maxBytes, upTo, nil, true)
}

// Release returns a buffer from ReadPooled to the pool. Releasing nil, or
// a buffer that did not come from the pool, is harmless as long as nothing
// else uses it.
func Release(data []byte) { readPool.put(data) }
