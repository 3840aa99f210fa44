package storage

import (
	"bytes"
	"math"
	"testing"

	"github.com/spf13/afero"
)

// TestReadPooledMatchesRead: ReadPooled returns what Read does, for reads
// that fill a buffer again and again after Release, including one that
// stops at the high watermark.
func TestReadPooledMatchesRead(t *testing.T) {
	l := openT(t, afero.NewMemMapFs(), DefaultConfig(), newMock())
	for i := range 40 {
		appendT(t, l, simpleBatch(4, 1000+i*300, epochMs, byte('a'+i%26)))
	}
	for _, c := range []struct {
		off  int64
		max  int
		upTo int64
	}{{0, 1, math.MaxInt64}, {0, 100 << 10, math.MaxInt64}, {37, 70 << 10, 80}, {100, 1 << 20, math.MaxInt64}, {0, 1 << 20, 60}} {
		for range 3 {
			want, err := l.Read(c.off, c.max, c.upTo)
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.ReadPooled(c.off, c.max, c.upTo)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("ReadPooled(%d, %d, %d) = %d bytes, %v; Read gave %d", c.off, c.max, c.upTo, len(got), err, len(want))
			}
			Release(got)
		}
	}
}

// TestBufferPoolClassesAndBound: buffers come back by size class, odd
// capacities are not kept, and the pool holds at most readPoolBytesMax.
func TestBufferPoolClassesAndBound(t *testing.T) {
	var p bufferPool
	b := p.get(100 << 10)
	if len(b) != 100<<10 || cap(b) != 128<<10 {
		t.Fatalf("get(100 KiB): len %d cap %d, want 128 KiB class", len(b), cap(b))
	}
	b[0] = 7
	p.put(b[:10])
	if c := p.get(65<<10 + 1); cap(c) != 128<<10 || c[0] != 7 {
		t.Fatalf("the released buffer was not reused: cap %d", cap(c))
	}
	if small := p.get(10); cap(small) != 1<<readPoolClassMin {
		t.Fatalf("get(10): cap %d, want the smallest class", cap(small))
	}
	p.put(make([]byte, 0, 100<<10)) // not a class size
	if p.bytes != 0 {
		t.Fatalf("pool kept an odd-sized buffer: %d bytes", p.bytes)
	}
	if huge := p.get(32 << 20); len(huge) != 32<<20 || p.bytes > readPoolBytesMax {
		t.Fatal("get beyond the largest class must still allocate")
	}
	for range 2 * readPoolBytesMax / (16 << 20) {
		p.put(make([]byte, 16<<20))
	}
	if p.bytes > readPoolBytesMax {
		t.Fatalf("pool holds %d bytes, bound %d", p.bytes, readPoolBytesMax)
	}
}

// BenchmarkReadPooled: 1 MiB reads, as one partition of a franz-go fetch,
// into fresh buffers (Read) or pooled ones (ReadPooled + Release).
func BenchmarkReadPooled(b *testing.B) {
	l := benchLog(b)
	for range 64 {
		if _, err := l.Append(simpleBatch(64, 1024, epochMs, 'v'), 1); err != nil {
			b.Fatal(err)
		}
	}
	for _, pooled := range []bool{false, true} {
		name := map[bool]string{false: "fresh", true: "pooled"}[pooled]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(1 << 20)
			b.ReportAllocs()
			for b.Loop() {
				var data []byte
				var err error
				if pooled {
					data, err = l.ReadPooled(0, 1<<20, math.MaxInt64)
				} else {
					data, err = l.Read(0, 1<<20, math.MaxInt64)
				}
				if err != nil || len(data) == 0 {
					b.Fatal(err)
				}
				Release(data)
			}
		})
	}
}
