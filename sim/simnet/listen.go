package simnet

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/jocko/jocko/sim/trace"
)

// Addr is a simulated address, "host:port".
type Addr struct {
	Host string
	Port int
}

// Network implements net.Addr.
func (a Addr) Network() string { return "tcp" }

// String implements net.Addr.
func (a Addr) String() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }

// Node is one incarnation's view of the network; it implements jio.Network.
// Once the incarnation is crashed, every call blocks forever.
type Node struct {
	net *Net
	inc *incarnation
}

// Name returns the host name.
func (nd *Node) Name() string { return nd.inc.host.name }

// Net returns the network this node belongs to.
func (nd *Node) Net() *Net { return nd.net }

func (nd *Node) splitLocal(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("simnet: bad port in %q", addr)
	}
	switch h {
	case "", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost":
		h = nd.inc.host.name
	}
	return h, port, nil
}

// Listen implements jio.Network. The host part must be empty, a loopback or
// wildcard address, or this node's name; port 0 picks a free port.
func (nd *Node) Listen(ctx context.Context, addr string) (net.Listener, error) {
	h, port, err := nd.splitLocal(addr)
	if err != nil {
		return nil, err
	}
	n := nd.net
	n.mu.Lock()
	defer n.mu.Unlock()
	inc := nd.inc
	if inc.dead {
		n.mu.Unlock()
		freeze()
	}
	if h != inc.host.name {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Err: syscall.EADDRNOTAVAIL}
	}
	if port == 0 {
		for inc.listeners[inc.host.nextPort] != nil {
			inc.host.nextPort++
		}
		port = inc.host.nextPort
		inc.host.nextPort++
	}
	if inc.listeners[port] != nil {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Err: syscall.EADDRINUSE}
	}
	l := &listener{n: n, inc: inc, port: port, addr: Addr{h, port}, sig: make(chan struct{})}
	inc.listeners[port] = l
	return l, nil
}

// DialContext implements jio.Network (and fits kgo.Dialer).
func (nd *Node) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	h, port, err := nd.splitLocal(addr)
	if err != nil {
		return nil, err
	}
	n := nd.net
	n.mu.Lock()
	src := nd.inc
	if src.dead {
		n.mu.Unlock()
		freeze()
	}
	dst := n.hosts[h]
	if dst == nil {
		n.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: h, IsNotFound: true}}
	}
	n.connID++
	id := n.connID
	n.tr.Record(trace.NetDial, src.host.id, dst.id, id)
	if err := n.waitPathLocked(ctx, src, h); err != nil {
		n.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: Addr{h, port}, Err: err}
	}
	rtt := n.delayLocked(n.linkLocked(src.host.name, h)) + n.delayLocked(n.linkLocked(h, src.host.name))
	n.mu.Unlock()
	if err := sleepCtx(ctx, rtt); err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: Addr{h, port}, Err: err}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if src.dead {
		n.mu.Unlock()
		freeze()
	}
	if dst.inc.silent {
		// Nobody answers: the dial times out.
		n.mu.Unlock()
		err := sleepCtx(ctx, n.cfg.ConnectTimeout)
		n.mu.Lock()
		if err == nil {
			err = syscall.ETIMEDOUT
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: Addr{h, port}, Err: err}
	}
	l := dst.inc.listeners[port]
	if dst.inc.dead || l == nil || l.closed || len(l.queue) >= n.cfg.Backlog {
		n.tr.Record(trace.NetRefused, src.host.id, dst.id, uint64(port))
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: Addr{h, port}, Err: syscall.ECONNREFUSED}
	}
	return n.connectLocked(id, src, l), nil
}

// waitPathLocked waits while the path is held, fails if it drops.
func (n *Net) waitPathLocked(ctx context.Context, src *incarnation, dst string) error {
	for {
		fwd := n.linkLocked(src.host.name, dst).mode
		back := n.linkLocked(dst, src.host.name).mode
		if fwd == Drop || back == Drop {
			n.mu.Unlock()
			err := sleepCtx(ctx, n.cfg.ConnectTimeout)
			n.mu.Lock()
			if err != nil {
				return err
			}
			return syscall.ETIMEDOUT
		}
		if fwd == Open && back == Open {
			return nil
		}
		ch := n.sig
		n.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		n.mu.Lock()
		if src.dead {
			n.mu.Unlock()
			freeze()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func (n *Net) connectLocked(id uint64, src *incarnation, l *listener) *endpoint {
	srcName, dstName := src.host.name, l.inc.host.name
	c := &endpoint{n: n, inc: src, id: id, peerHost: dstName, sig: make(chan struct{})}
	s := &endpoint{n: n, inc: l.inc, id: id, peerHost: srcName, sig: make(chan struct{})}
	src.host.nextPort++
	c.local, c.remote = Addr{srcName, src.host.nextPort}, l.addr
	s.local, s.remote = l.addr, c.local
	c2s := &pipe{id: id * 2, n: n, from: srcName, to: dstName, src: c, dst: s}
	s2c := &pipe{id: id*2 + 1, n: n, from: dstName, to: srcName, src: s, dst: c}
	c.out, c.in = c2s, s2c
	s.out, s.in = s2c, c2s
	src.ends[id] = c
	l.inc.ends[id] = s
	l.queue = append(l.queue, s)
	l.wakeLocked()
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type listener struct {
	n      *Net
	inc    *incarnation
	port   int
	addr   Addr
	queue  []*endpoint
	closed bool
	sig    chan struct{}
}

func (l *listener) wakeLocked() {
	close(l.sig)
	l.sig = make(chan struct{})
}

// Accept implements net.Listener.
func (l *listener) Accept() (net.Conn, error) {
	n := l.n
	n.mu.Lock()
	for {
		if l.inc.dead {
			n.mu.Unlock()
			freeze()
		}
		if l.closed {
			n.mu.Unlock()
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
		}
		if len(l.queue) > 0 {
			e := l.queue[0]
			l.queue = l.queue[1:]
			n.tr.Record(trace.NetAccept, l.inc.host.id, e.id, 0)
			n.mu.Unlock()
			return e, nil
		}
		ch := l.sig
		n.mu.Unlock()
		<-ch
		n.mu.Lock()
	}
}

// Close implements net.Listener.
func (l *listener) Close() error {
	l.n.mu.Lock()
	defer l.n.mu.Unlock()
	if l.inc.dead {
		l.n.mu.Unlock()
		freeze()
	}
	l.closeLocked()
	return nil
}

func (l *listener) closeLocked() {
	if l.closed {
		return
	}
	l.closed = true
	delete(l.inc.listeners, l.port)
	for _, e := range l.queue {
		e.resetLocked(resetListenerClosed)
	}
	l.queue = nil
	l.wakeLocked()
}

// Addr implements net.Listener.
func (l *listener) Addr() net.Addr { return l.addr }
