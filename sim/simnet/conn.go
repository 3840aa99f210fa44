package simnet

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/jocko/jocko/sim/trace"
)

// Reasons a connection is reset (recorded in the trace).
const (
	resetCrash = iota + 1
	resetPartition
	resetLoss
	resetListenerClosed
	resetPeerClosed
)

// pipe carries one direction of a connection.
type pipe struct {
	id       uint64 // conn id * 2 + direction
	n        *Net
	from, to string
	src, dst *endpoint
	queue    []segment
	inflight int
	buf      []byte
	eof      bool // FIN delivered
	rst      bool
	armed    bool
	finSent  bool
	lastAt   time.Time
}

type segment struct {
	at   time.Time
	data []byte
	fin  bool
}

// endpoint is one side of a connection; it implements net.Conn.
type endpoint struct {
	n             *Net
	inc           *incarnation
	id            uint64
	local, remote Addr
	peerHost      string
	in, out       *pipe
	closed        bool
	rdl, wdl      time.Time
	sig           chan struct{}
}

var _ net.Conn = (*endpoint)(nil)

func (e *endpoint) wakeLocked() {
	close(e.sig)
	e.sig = make(chan struct{})
}

// freeze blocks the calling goroutine forever: a dead process runs no code.
func freeze() { select {} }

// wait blocks until ch is closed or the deadline passes.
func wait(ch chan struct{}, deadline time.Time) {
	if deadline.IsZero() {
		<-ch
		return
	}
	d := time.Until(deadline)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	select {
	case <-ch:
	case <-t.C:
	}
	t.Stop()
}

func (e *endpoint) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: e.local, Addr: e.remote, Err: err}
}

func expired(dl time.Time) bool { return !dl.IsZero() && !time.Now().Before(dl) }

// Read implements net.Conn.
func (e *endpoint) Read(b []byte) (int, error) {
	n := e.n
	n.mu.Lock()
	for {
		if e.inc.dead {
			n.mu.Unlock()
			freeze()
		}
		p := e.in
		switch {
		case e.closed:
			n.mu.Unlock()
			return 0, e.opErr("read", net.ErrClosed)
		case len(p.buf) > 0:
			k := copy(b, p.buf)
			p.buf = p.buf[k:]
			if len(p.buf) == 0 {
				p.buf = nil
			}
			p.src.wakeLocked() // window space for the writer
			n.mu.Unlock()
			return k, nil
		case p.rst:
			n.mu.Unlock()
			return 0, e.opErr("read", syscall.ECONNRESET)
		case p.eof:
			n.mu.Unlock()
			return 0, io.EOF
		case expired(e.rdl):
			n.mu.Unlock()
			return 0, e.opErr("read", os.ErrDeadlineExceeded)
		}
		ch, dl := e.sig, e.rdl
		n.mu.Unlock()
		wait(ch, dl)
		n.mu.Lock()
	}
}

// Write implements net.Conn. It blocks while the window is full.
func (e *endpoint) Write(b []byte) (int, error) {
	n := e.n
	n.mu.Lock()
	total := 0
	for len(b) > 0 {
		if e.inc.dead {
			n.mu.Unlock()
			freeze()
		}
		p := e.out
		switch {
		case e.closed:
			n.mu.Unlock()
			return total, e.opErr("write", net.ErrClosed)
		case p.rst || p.dst.closed:
			n.mu.Unlock()
			return total, e.opErr("write", syscall.ECONNRESET)
		case expired(e.wdl):
			n.mu.Unlock()
			return total, e.opErr("write", os.ErrDeadlineExceeded)
		}
		space := n.cfg.WindowBytes - p.inflight - len(p.buf)
		if space <= 0 {
			ch, dl := e.sig, e.wdl
			n.mu.Unlock()
			wait(ch, dl)
			n.mu.Lock()
			continue
		}
		k := min(space, len(b), n.cfg.SegmentBytes)
		p.sendLocked(append([]byte(nil), b[:k]...), false)
		b = b[k:]
		total += k
	}
	n.mu.Unlock()
	return total, nil
}

// Close implements net.Conn: the peer reads what was sent, then EOF.
func (e *endpoint) Close() error {
	n := e.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if e.inc.dead {
		n.mu.Unlock()
		freeze()
	}
	if e.closed {
		return e.opErr("close", net.ErrClosed)
	}
	e.closed = true
	if !e.out.rst && !e.out.finSent {
		e.out.finSent = true
		e.out.sendLocked(nil, true)
	}
	delete(e.inc.ends, e.id)
	e.wakeLocked()
	e.out.dst.wakeLocked() // a peer blocked writing to us fails now
	return nil
}

// resetLocked tears the whole connection down for both sides; undelivered
// data is dropped, data already delivered stays readable.
func (e *endpoint) resetLocked(reason int) {
	if e.in.rst && e.out.rst {
		return
	}
	e.n.tr.Record(trace.NetReset, e.id, uint64(reason), 0)
	for _, p := range []*pipe{e.in, e.out} {
		p.rst = true
		p.queue = nil
		p.inflight = 0
		delete(e.n.held, p)
		p.src.wakeLocked()
		p.dst.wakeLocked()
	}
	peer := e.out.dst
	delete(e.inc.ends, e.id)
	delete(peer.inc.ends, peer.id)
}

func (p *pipe) sendLocked(data []byte, fin bool) {
	n := p.n
	now := time.Now()
	at := now.Add(n.delayLocked(n.linkLocked(p.from, p.to)))
	if at.Before(p.lastAt) {
		at = p.lastAt
	}
	p.lastAt = at
	p.queue = append(p.queue, segment{at: at, data: data, fin: fin})
	p.inflight += len(data)
	if !p.armed && !n.held[p] {
		p.armLocked(p.queue[0].at.Sub(now))
	}
}

func (p *pipe) armLocked(d time.Duration) {
	if p.armed || p.rst {
		return
	}
	p.armed = true
	time.AfterFunc(d, p.deliver)
}

// deliver moves due segments into the reader's buffer, in order.
func (p *pipe) deliver() {
	n := p.n
	n.mu.Lock()
	defer n.mu.Unlock()
	p.armed = false
	if p.rst || len(p.queue) == 0 {
		return
	}
	l := n.linkLocked(p.from, p.to)
	if l.mode != Open {
		n.held[p] = true // Drop already reset live connections; hold the rest
		return
	}
	now := time.Now()
	for len(p.queue) > 0 && !p.queue[0].at.After(now) {
		s := p.queue[0]
		p.queue = p.queue[1:]
		if l.loss > 0 && n.rng.Float64() < l.loss {
			p.src.resetLocked(resetLoss)
			return
		}
		p.inflight -= len(s.data)
		p.buf = append(p.buf, s.data...)
		if s.fin {
			p.eof = true
			n.tr.Record(trace.NetFin, p.id, 0, 0)
		} else {
			n.tr.Record(trace.NetDeliver, p.id, uint64(len(s.data)), trace.Bytes8(s.data))
		}
	}
	if len(p.queue) > 0 {
		p.armLocked(p.queue[0].at.Sub(now))
	}
	p.dst.wakeLocked()
}

// LocalAddr implements net.Conn.
func (e *endpoint) LocalAddr() net.Addr { return e.local }

// RemoteAddr implements net.Conn.
func (e *endpoint) RemoteAddr() net.Addr { return e.remote }

// SetDeadline implements net.Conn.
func (e *endpoint) SetDeadline(t time.Time) error {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	e.rdl, e.wdl = t, t
	e.wakeLocked()
	return nil
}

// SetReadDeadline implements net.Conn.
func (e *endpoint) SetReadDeadline(t time.Time) error {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	e.rdl = t
	e.wakeLocked()
	return nil
}

// SetWriteDeadline implements net.Conn.
func (e *endpoint) SetWriteDeadline(t time.Time) error {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	e.wdl = t
	e.wakeLocked()
	return nil
}
