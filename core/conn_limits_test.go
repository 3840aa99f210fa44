package core

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

// rawConn is a test connection speaking the wire format by hand.
type rawConn struct {
	t    *testing.T
	c    net.Conn
	br   *bufio.Reader
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// send writes req and returns its correlation ID.
func (r *rawConn) send(req kmsg.Request) int32 {
	r.t.Helper()
	r.corr++
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("test"))
	if _, err := r.c.Write(f.AppendRequest(nil, req, r.corr)); err != nil {
		r.t.Fatal(err)
	}
	return r.corr
}

// frame reads one response frame within d; err is the read's error.
func (r *rawConn) frame(d time.Duration) ([]byte, error) {
	r.c.SetReadDeadline(time.Now().Add(d))
	var size [4]byte
	if _, err := io.ReadFull(r.br, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(r.br, body)
	return body, err
}

// apiVersions asks ApiVersions and fails the test unless it is answered.
func (r *rawConn) apiVersions() {
	r.t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(0)
	r.send(req)
	if _, err := r.frame(10 * time.Second); err != nil {
		r.t.Fatalf("ApiVersions on an admitted connection: %v", err)
	}
}

// closedByBroker reports whether the broker closed r within d (a read
// ends with EOF or a reset rather than timing out).
func (r *rawConn) closedByBroker(d time.Duration) bool {
	_, err := r.frame(d)
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

func withSettings(kv ...string) func(*Config) {
	return func(c *Config) {
		if c.Defaults == nil {
			c.Defaults = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			c.Defaults[kv[i]] = kv[i+1]
		}
	}
}

// quietTopic creates the one-partition topic "quiet" led by b.
func quietTopic(t *testing.T, b *Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.commit(ctx, cluster.CreateTopic{Name: "quiet", ID: [16]byte{5}, Assignments: [][]int32{{1}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "quiet-0 led here", func() bool {
		p := b.partition("quiet", 0)
		return p != nil && p.isLeader()
	})
}

// quietPoll is a Fetch of quiet-0 from its start that long-polls for
// waitMs (the topic stays empty).
func quietPoll(version int16, waitMs int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(version)
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, waitMs, 1, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "quiet"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// TestMaxConnectionsPerIP: past max.connections.per.ip a new connection
// is closed at once, the admitted ones keep being served, and a slot freed
// by a close admits the next.
func TestMaxConnectionsPerIP(t *testing.T) {
	tc := startTestCluster(t, 1, withSettings("max.connections.per.ip", "2"))
	b := tc.brokers[0]
	c1, c2 := dialRaw(t, b.Addr()), dialRaw(t, b.Addr())
	c1.apiVersions()
	c2.apiVersions()
	c3 := dialRaw(t, b.Addr())
	if !c3.closedByBroker(5 * time.Second) {
		t.Fatal("a third connection from one IP was not closed (max.connections.per.ip=2)")
	}
	c1.apiVersions()
	c2.c.Close()
	waitFor(t, 10*time.Second, "the closed connection released", func() bool { return openConns(b) == 1 })
	dialRaw(t, b.Addr()).apiVersions()
}

// TestMaxConnections: the broker-wide limit refuses the connection past it.
func TestMaxConnections(t *testing.T) {
	tc := startTestCluster(t, 1, withSettings("max.connections", "1"))
	b := tc.brokers[0]
	c1 := dialRaw(t, b.Addr())
	c1.apiVersions()
	if !dialRaw(t, b.Addr()).closedByBroker(5 * time.Second) {
		t.Fatal("a second connection was not closed (max.connections=1)")
	}
	c1.apiVersions()
}

// TestIdleConnectionClosed: a connection with nothing to do for
// connections.max.idle.ms is closed; one whose long poll is pending past
// that is not idle and gets its answer.
func TestIdleConnectionClosed(t *testing.T) {
	tc := startTestCluster(t, 1, withSettings("connections.max.idle.ms", "400"))
	b := tc.brokers[0]
	quietTopic(t, b)
	idle := dialRaw(t, b.Addr())
	idle.apiVersions()
	if !idle.closedByBroker(10 * time.Second) {
		t.Fatal("an idle connection was not closed after connections.max.idle.ms")
	}

	poll := dialRaw(t, b.Addr())
	poll.send(quietPoll(11, 1500))
	if _, err := poll.frame(10 * time.Second); err != nil {
		t.Fatalf("a connection long-polling past connections.max.idle.ms lost its answer: %v", err)
	}
}

// TestClientWaitCapped: a long poll asking for a minute is cut to
// request.wait.max.ms.
func TestClientWaitCapped(t *testing.T) {
	tc := startTestCluster(t, 1, withSettings("request.wait.max.ms", "300"))
	b := tc.brokers[0]
	quietTopic(t, b)
	c := dialRaw(t, b.Addr())
	c.send(quietPoll(4, 60000))
	if _, err := c.frame(15 * time.Second); err != nil {
		t.Fatalf("a 60 s long poll was not cut to request.wait.max.ms: %v", err)
	}
}

// TestSlowRequestChargesWhatArrived: a client that announces a 50 MiB
// request and trickles it charges the request budget for the bytes it
// sent, not the size it announced, so with queued.max.request.bytes at
// 1 MiB every other client is still served.
func TestSlowRequestChargesWhatArrived(t *testing.T) {
	tc := startTestCluster(t, 1, withSettings("queued.max.request.bytes", "1048576"))
	b := tc.brokers[0]
	var slow []*rawConn
	for range 20 {
		s := dialRaw(t, b.Addr())
		var hdr [6]byte
		binary.BigEndian.PutUint32(hdr[:], 50<<20)
		if _, err := s.c.Write(hdr[:]); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, s)
	}
	waitFor(t, 10*time.Second, "the slow connections tracked", func() bool { return openConns(b) == 20 })
	time.Sleep(100 * time.Millisecond)
	if held := b.reqBytes.Held(); held >= 1<<20 {
		t.Fatalf("20 connections that sent 2 bytes of their request body hold %d bytes of the budget", held)
	}
	dialRaw(t, b.Addr()).apiVersions()
	for _, s := range slow {
		s.c.Close()
	}
	waitFor(t, 10*time.Second, "the budget given back", func() bool { return b.reqBytes.Held() == 0 })
}
