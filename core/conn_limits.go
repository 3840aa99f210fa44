package core

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jocko/jocko/wire"
)

// Connection limits (issue 9): how many connections the broker keeps, how
// long an idle one lives, and how many request bytes all connections
// together may hold while their requests are read and handled. An idle
// connection holds no buffer: the 64 KiB read buffer comes from a pool when
// bytes arrive and goes back when none are buffered, and the frame buffer a
// busy connection keeps for its next request is dropped after
// frameKeepIdle without one.

// frameKeepIdle is how long a connection keeps its spare frame buffer while
// it waits for the next request: a busy client's next request comes
// sooner; an idle one then holds nothing.
const frameKeepIdle = time.Second

// errIdle ends a connection idle for connections.max.idle.ms.
var errIdle = errors.New("idle longer than connections.max.idle.ms")

// readerPool holds the connections' read buffers, taken when bytes arrive
// and given back when none are buffered. A reader is Reset to nil before
// it goes back, so it holds neither a connection nor bytes.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// connReader is one connection's read side: the connection and, while
// bytes are buffered, a pooled reader. Only the connection's reading
// goroutine uses it.
type connReader struct {
	c  net.Conn
	br *bufio.Reader // nil while nothing is buffered
}

// reader returns the buffered reader, taking one from the pool if needed.
func (r *connReader) reader() *bufio.Reader {
	if r.br == nil {
		r.br = readerPool.Get().(*bufio.Reader)
		r.br.Reset(r.c)
	}
	return r.br
}

// release gives the reader back if it buffers nothing (force: in any case,
// when the connection ends).
func (r *connReader) release(force bool) {
	if r.br != nil && (force || r.br.Buffered() == 0) {
		r.br.Reset(nil)
		readerPool.Put(r.br)
		r.br = nil
	}
}

// connState is what the reading side of a connection shares with its
// writer.
type connState struct {
	// inflight counts requests read whose replies are not yet written: a
	// connection waiting on its own long poll is not idle.
	inflight atomic.Int32
	// idleMs is connections.max.idle.ms as the reader last read it for a
	// request; the writer uses it for its write deadline (<= 0: none).
	idleMs atomic.Int64
	// mutedUntilMs is when a throttled client's connection may be read
	// again (KIP-219; quota_enforce.go), in the broker clock's Unix ms.
	mutedUntilMs atomic.Int64
}

// readPrefix waits for the next request's 4-byte size. With nothing
// buffered it reads straight from the connection, drops the spare frame
// buffer after frameKeepIdle, and ends the connection with errIdle once it
// has waited idle long (<= 0: never) with no reply pending.
func (b *Broker) readPrefix(r *connReader, spare *[]byte, cs *connState, idle time.Duration) ([4]byte, error) {
	var p [4]byte
	if r.br != nil {
		// Bytes of the next request are buffered already (pipelining).
		_, err := io.ReadFull(r.br, p[:])
		return p, err
	}
	now := b.env.Clock.Now()
	wait := idle
	if *spare != nil && (idle <= 0 || frameKeepIdle < idle) {
		wait = frameKeepIdle
	}
	since := now
	n := 0
	for n < 4 {
		if wait > 0 {
			r.c.SetReadDeadline(now.Add(wait))
		} else {
			r.c.SetReadDeadline(time.Time{})
		}
		k, err := r.c.Read(p[n:])
		n += k
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			if n > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return p, err
		}
		now = b.env.Clock.Now()
		switch {
		case *spare != nil && n == 0:
			*spare = nil // idle a while: the buffer goes back to the heap
			wait = idle - now.Sub(since)
			if idle <= 0 {
				wait = 0
			}
		case cs.inflight.Load() > 0 || idle <= 0:
			since, wait = now, idle // waiting on its own replies is not idle
		default:
			return p, errIdle
		}
	}
	return p, nil
}

// admitConn decides whether a new connection may stay: max.connections
// and max.connections.per.ip (Kafka closes the connection at once, as
// here). The caller holds connsMu; refused says why, or "".
func (b *Broker) admitConnLocked(ip string) (refused string) {
	st := b.node.State()
	if max := b.brokerInt(st, "max.connections"); int64(len(b.conns)) >= max {
		return "max.connections"
	}
	if max := b.brokerInt(st, "max.connections.per.ip"); int64(b.connsByIP[ip]) >= max {
		return "max.connections.per.ip"
	}
	return ""
}

// remoteIP is the host part of a connection's remote address.
func remoteIP(c net.Conn) string {
	a := c.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}

// byteBudget is queued.max.request.bytes: the request bytes all
// connections together hold while their requests are read and handled.
// As in Kafka, the budget is soft: a connection starts reading a request
// only while bytes are left, and a request it has started always
// completes (so no two connections can wait on each other), charging its
// buffer as it grows; a slow client therefore charges what it has sent,
// not what it announced.
type byteBudget struct {
	mu    sync.Mutex    // guards held and freed
	held  int64         // bytes charged and not yet given back
	freed chan struct{} // closed (and replaced) when bytes are given back
}

// admit waits until the budget (limit < 0: none) has bytes left, or ctx ends.
func (q *byteBudget) admit(ctx context.Context, limit int64) bool {
	for {
		q.mu.Lock()
		if limit < 0 || q.held < limit {
			q.mu.Unlock()
			return true
		}
		if q.freed == nil {
			q.freed = make(chan struct{})
		}
		ch := q.freed
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// take charges n bytes.
func (q *byteBudget) take(n int64) {
	q.mu.Lock()
	q.held += n
	q.mu.Unlock()
}

// give returns n bytes and wakes connections waiting in admit.
func (q *byteBudget) give(n int64) {
	if n == 0 {
		return
	}
	q.mu.Lock()
	q.held -= n
	if q.freed != nil {
		close(q.freed)
		q.freed = nil
	}
	q.mu.Unlock()
}

// Held returns the bytes charged now (for tests and metrics).
func (q *byteBudget) Held() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.held
}

// readRequest reads the next request frame: the size, a wait for the
// byte budget, then the body into spare or a growing buffer. It returns
// the frame and the bytes charged to the budget (to give back once the
// request is handled).
func (b *Broker) readRequest(ctx context.Context, r *connReader, spare []byte, cs *connState) ([]byte, int64, error) {
	st := b.node.State()
	idleMs := b.brokerInt(st, "connections.max.idle.ms")
	cs.idleMs.Store(idleMs)
	idle := time.Duration(idleMs) * time.Millisecond
	keep := spare
	prefix, err := b.readPrefix(r, &keep, cs, idle)
	if err != nil {
		return nil, 0, err
	}
	size, err := wire.FrameSize(prefix, b.cfg.RequestBytesMax)
	if err != nil {
		return nil, 0, err
	}
	if err := b.awaitUnmuted(ctx, cs); err != nil {
		return nil, 0, err
	}
	if !b.reqBytes.admit(ctx, b.brokerInt(st, "queued.max.request.bytes")) {
		return nil, 0, ctx.Err()
	}
	var charged int64
	if cap(keep) >= size {
		charged = int64(size)
		b.reqBytes.take(charged)
	}
	if idle > 0 {
		r.c.SetReadDeadline(b.env.Clock.Now().Add(idle)) // a request stuck half-sent ends too
	} else {
		r.c.SetReadDeadline(time.Time{})
	}
	frame, err := wire.ReadFrameBody(r.reader(), size, keep, func(capacity int) {
		b.reqBytes.take(int64(capacity) - charged)
		charged = int64(capacity)
	})
	r.release(false)
	if err != nil {
		b.reqBytes.give(charged)
		return nil, 0, err
	}
	return frame, charged, nil
}

// clientWait is how long a request may wait for what its client asked
// (Fetch's max_wait_ms, acks=all Produce's timeout_ms): ms, cut to
// request.wait.max.ms so no client holds a broker's resources longer.
func (b *Broker) clientWait(ms int32) time.Duration {
	d := time.Duration(ms) * time.Millisecond
	if max := time.Duration(b.brokerInt(b.node.State(), "request.wait.max.ms")) * time.Millisecond; d > max {
		d = max
	}
	return earlyTimeout(d)
}
