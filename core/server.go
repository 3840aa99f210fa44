package core

import (
	"context"
	"encoding/base64"
	"errors"
	"github.com/jocko/jocko/io/buggify"
	"io"
	"net"
	"sort"
	"time"

	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// accept serves connections until the listener closes.
func (b *Broker) accept(ctx context.Context, ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		ok, closing := b.trackConn(c)
		if closing {
			c.Close()
			return nil
		}
		if !ok {
			c.Close()
			continue
		}
		go func() {
			defer b.connWG.Done()
			defer b.untrackConn(c)
			b.serveConn(ctx, c)
		}()
	}
}

// trackConn admits c unless a connection limit refuses it (ok false) or
// the broker is closing.
func (b *Broker) trackConn(c net.Conn) (ok, closing bool) {
	b.connsMu.Lock()
	defer b.connsMu.Unlock()
	if b.conns == nil {
		return false, true
	}
	ip := remoteIP(c)
	if why := b.admitConnLocked(ip); why != "" {
		if now := b.env.Clock.Now(); now.Sub(b.refusedLog) >= time.Second {
			b.refusedLog = now
			b.log.Warn("refusing connection: limit reached", "remote", c.RemoteAddr().String(), "limit", why,
				"open", len(b.conns), "open_from_ip", b.connsByIP[ip])
		}
		return false, false
	}
	b.connSeq++
	b.conns[c] = b.connSeq
	b.connsByIP[ip]++
	b.connWG.Add(1)
	return true, false
}

func (b *Broker) untrackConn(c net.Conn) {
	b.connsMu.Lock()
	defer b.connsMu.Unlock()
	if _, ok := b.conns[c]; ok {
		ip := remoteIP(c)
		if b.connsByIP[ip]--; b.connsByIP[ip] <= 0 {
			delete(b.connsByIP, ip)
		}
	}
	delete(b.conns, c)
	c.Close()
}

// closeConns closes every connection and refuses new ones.
func (b *Broker) closeConns() {
	b.connsMu.Lock()
	defer b.connsMu.Unlock()
	// In accept order: a map's order follows addresses, which must not
	// reach the outside (the simulator replays by seed).
	open := make([]net.Conn, 0, len(b.conns))
	for c := range b.conns {
		open = append(open, c)
	}
	sort.Slice(open, func(i, j int) bool { return b.conns[open[i]] < b.conns[open[j]] })
	for _, c := range open {
		c.Close()
	}
	b.conns = nil
}

// request is one decoded request on a connection.
type request struct {
	hdr    wire.RequestHeader
	msg    kmsg.Request
	remote string
	conn   *connState // nil outside a connection (tests)
}

// reply is what a handler returns: a response now, a function that waits and
// then returns the response (acks=all produce, long-poll fetch), or nothing
// (acks=0 produce). Responses leave a connection in request order.
type reply struct {
	resp kmsg.Response
	wait func() kmsg.Response
	none bool
}

type pending struct {
	corr  int32
	key   int16     // the request's API key
	began time.Time // when it was dispatched; zero unless the broker is measured
	reply reply
}

// serveConn reads requests, dispatches them in order, and hands replies to a
// writer goroutine so that a request waiting for fsync or new data does not
// stop the next one from being read (Kafka clients pipeline requests).
func (b *Broker) serveConn(ctx context.Context, c net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan pending, b.cfg.InFlightMax)
	written := make(chan struct{})
	cs := &connState{}
	go func() {
		defer close(written)
		b.writeReplies(c, queue, cancel, cs)
	}()
	// The client is gone (or the broker stops): cancel first, so that
	// long polls and acks=all waits still queued end now instead of at
	// their client-chosen limits, then let the writer drain.
	defer func() { cancel(); close(queue); <-written }()
	rd := &connReader{c: c}
	defer rd.release(true)
	remote := c.RemoteAddr().String()
	var spare []byte // a frame buffer no handler holds on to any more
	for {
		frame, charged, err := b.readRequest(ctx, rd, spare, cs)
		spare = nil
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				b.log.Info("closing connection", "remote", remote, "reason", err)
			}
			return
		}
		hdr, msg, err := wire.ParseRequest(frame)
		r := &request{hdr: hdr, msg: msg, remote: remote, conn: cs}
		var began time.Time
		if b.measured {
			began = b.env.Clock.Now()
		}
		rep, ok := b.dispatch(ctx, r, err)
		b.reqBytes.give(charged)
		if !ok {
			return
		}
		if err == nil && frameFreeAfterDispatch(hdr.Key) && cap(frame) <= frameReuseBytesMax {
			spare = frame
		}
		cs.inflight.Add(1)
		select {
		case queue <- pending{corr: hdr.CorrelationID, key: hdr.Key, began: began, reply: rep}:
		case <-ctx.Done():
			return
		}
	}
}

// frameReuseBytesMax bounds the request frame buffer a connection keeps for
// its next request: enough for producers' default 1 MiB batches; larger
// frames are allocated per request, so idle connections stay cheap.
const frameReuseBytesMax = 2 << 20

// frameFreeAfterDispatch reports whether nothing refers to a request frame
// of this API once its handler has returned, so that the buffer can take
// the next request. kmsg copies strings but not bytes fields out of a
// frame: Produce's records are appended to the log inside the handler (its
// wait closure keeps only the response), and a Fetch request has no bytes
// fields a long poll could still read. Other APIs may keep bytes (group
// member metadata, say) and get a fresh frame each time.
func frameFreeAfterDispatch(key int16) bool {
	return key == int16(kmsg.Produce) || key == int16(kmsg.Fetch)
}

// writeReplies writes each reply in request order. A client that does not
// read its replies for connections.max.idle.ms is cut off.
func (b *Broker) writeReplies(c net.Conn, queue <-chan pending, cancel func(), cs *connState) {
	var buf []byte
	var ff fetchFrame
	for p := range queue {
		resp := p.reply.resp
		if p.reply.wait != nil {
			resp = p.reply.wait()
		}
		if p.reply.none || resp == nil {
			cs.inflight.Add(-1)
			b.measure(p, nil)
			continue
		}
		if idle := cs.idleMs.Load(); idle > 0 {
			c.SetWriteDeadline(b.env.Clock.Now().Add(time.Duration(idle) * time.Millisecond))
		}
		if buggify.On(buggify.CoreDelayResponse) {
			b.env.Clock.Sleep(time.Duration(1+buggify.Intn(50)) * time.Millisecond)
		}
		var err error
		if fr, ok := resp.(*fetchResponse); ok {
			bufs := net.Buffers(ff.encode(p.corr, fr.FetchResponse))
			_, err = bufs.WriteTo(c)
			b.measure(p, fr.FetchResponse)
			fr.release()
		} else {
			buf = wire.AppendResponse(buf[:0], p.corr, resp)
			_, err = c.Write(buf)
			b.measure(p, resp)
		}
		cs.inflight.Add(-1)
		if err != nil {
			cancel()
			c.Close()
			// Drain so the reader never blocks on a full queue.
			for range queue {
			}
			return
		}
		if cap(buf) > 4<<20 {
			buf = nil
		}
	}
}

// dispatch runs the handler for r. ok=false closes the connection, as Kafka
// does for requests it cannot parse or versions it does not serve.
func (b *Broker) dispatch(ctx context.Context, r *request, parseErr error) (reply, bool) {
	key, ver := r.hdr.Key, r.hdr.Version
	a, known := apis[key]
	if key == apiVersionsKey && (parseErr != nil || !known || ver > a.max) {
		// KIP-511: answer an ApiVersions we cannot parse with v0 and
		// UNSUPPORTED_VERSION, so the client retries with a version we serve.
		return reply{resp: b.apiVersionsUnsupported()}, true
	}
	if parseErr != nil || !known || ver < a.min || ver > a.max {
		reason := "unsupported version"
		if parseErr != nil {
			reason = parseErr.Error()
		} else if !known {
			reason = "unknown api key"
		}
		b.log.Info("closing connection: bad request", "remote", r.remote, "api_key", key, "api_version", ver, "reason", reason)
		return reply{}, false
	}
	return a.fn(b, ctx, r), true
}

func newClusterID(r *jio.Rand) string {
	u := r.UUID()
	return base64.RawURLEncoding.EncodeToString(u[:])
}
