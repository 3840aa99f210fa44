package core

import (
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestClosedConnectionReleasesLongPoll: a client that goes away while its
// fetch long-polls releases the connection at once, not when the poll's
// MaxWaitMillis (here 30 s) runs out.
func TestClosedConnectionReleasesLongPoll(t *testing.T) {
	tc := startTestCluster(t, 1)
	b := tc.brokers[0]
	quietTopic(t, b)
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("test"))
	if _, err := c.Write(f.AppendRequest(nil, quietPoll(11, 30000), 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the connection tracked", func() bool { return openConns(b) == 1 })
	time.Sleep(200 * time.Millisecond) // the fetch is read and long-polling
	c.Close()
	waitFor(t, 5*time.Second, "the closed connection released", func() bool { return openConns(b) == 0 })
}

func openConns(b *Broker) int {
	b.connsMu.Lock()
	defer b.connsMu.Unlock()
	return len(b.conns)
}
