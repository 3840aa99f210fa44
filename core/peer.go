package core

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/wire"
)

// peerRequestTimeout bounds a request to another broker whose context has
// no deadline of its own.
const peerRequestTimeout = 30 * time.Second

// peerResponseBytesMax bounds a response frame from another broker.
const peerResponseBytesMax = 256 << 20

// errNoPeerAddress is returned for a broker the metadata has no address for.
var errNoPeerAddress = errors.New("no address known for broker")

// peerConn is one connection to another broker, for the requests this
// broker sends (replica fetches, forwarded commands, heartbeats, ISR
// changes). One request at a time: its owner serialises use.
type peerConn struct {
	c    net.Conn
	addr string
	br   *bufio.Reader
	corr int32
	buf  []byte
	fmt  *kmsg.RequestFormatter
}

// dialPeer connects to the broker at addr.
func (b *Broker) dialPeer(ctx context.Context, addr string) (*peerConn, error) {
	c, err := b.env.Net.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	clientID := "jocko-broker-" + strconv.Itoa(int(b.cfg.NodeID))
	return &peerConn{c: c, addr: addr, br: bufio.NewReaderSize(c, 64<<10),
		fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))}, nil
}

// do sends req (at the version the caller set) and reads its response.
// ctx ending aborts the exchange; any error leaves the connection unusable.
func (p *peerConn) do(ctx context.Context, now time.Time, req kmsg.Request) (kmsg.Response, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(peerRequestTimeout)
	}
	p.c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { p.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	p.corr++
	p.buf = p.fmt.AppendRequest(p.buf[:0], req, p.corr)
	if _, err := p.c.Write(p.buf); err != nil {
		return nil, p.ctxErr(ctx, err)
	}
	frame, err := wire.ReadFrame(p.br, peerResponseBytesMax, nil)
	if err != nil {
		return nil, p.ctxErr(ctx, err)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	corr, err := wire.ParseResponse(frame, resp)
	if err != nil {
		return nil, err
	}
	if corr != p.corr {
		return nil, fmt.Errorf("broker %s answered correlation id %d to request %d", p.addr, corr, p.corr)
	}
	return resp, nil
}

func (p *peerConn) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (p *peerConn) close() { p.c.Close() }

// peerPool keeps one connection per other broker for short requests
// (forwarded commands, heartbeats, ISR changes); replica fetchers own
// their connections.
type peerPool struct {
	mu    sync.Mutex // guards conns
	conns map[int32]*pooledPeer
}

type pooledPeer struct {
	// turn serialises requests on c and guards c: a one-slot semaphore, so
	// that a request waiting for its turn gives up when its context ends
	// (a heartbeat must not wait out a hung request to a dead broker).
	turn chan struct{}
	c    *peerConn
}

// acquire takes pp's turn, or fails when ctx ends first.
func (pp *pooledPeer) acquire(ctx context.Context) error {
	select {
	case pp.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (pp *pooledPeer) release() { <-pp.turn }

// peerAddr is broker id's Kafka address from the metadata.
func (b *Broker) peerAddr(id int32) (string, error) {
	br, ok := b.node.State().Brokers[id]
	if !ok || br.Host == "" {
		return "", fmt.Errorf("%w %d", errNoPeerAddress, id)
	}
	return net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port))), nil
}

// peerRequest sends req to broker id over the pooled connection, dialling
// (again) when there is none, it broke, or the broker's address changed.
func (b *Broker) peerRequest(ctx context.Context, id int32, req kmsg.Request) (kmsg.Response, error) {
	addr, err := b.peerAddr(id)
	if err != nil {
		return nil, err
	}
	b.peers.mu.Lock()
	if b.peers.conns == nil {
		b.peers.conns = map[int32]*pooledPeer{}
	}
	pp := b.peers.conns[id]
	if pp == nil {
		pp = &pooledPeer{turn: make(chan struct{}, 1)}
		b.peers.conns[id] = pp
	}
	b.peers.mu.Unlock()
	if err := pp.acquire(ctx); err != nil {
		return nil, err
	}
	defer pp.release()
	if pp.c != nil && pp.c.addr != addr {
		pp.c.close()
		pp.c = nil
	}
	if pp.c == nil {
		if pp.c, err = b.dialPeer(ctx, addr); err != nil {
			return nil, err
		}
	}
	resp, err := pp.c.do(ctx, b.env.Clock.Now(), req)
	if err != nil {
		pp.c.close()
		pp.c = nil
	}
	return resp, err
}

// closePeers closes the pooled connections (at shutdown), in broker order.
func (b *Broker) closePeers() {
	b.peers.mu.Lock()
	defer b.peers.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(b.peers.conns)) {
		pp := b.peers.conns[id]
		pp.turn <- struct{}{}
		if pp.c != nil {
			pp.c.close()
			pp.c = nil
		}
		pp.release()
	}
}
