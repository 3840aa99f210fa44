package core

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

// TestClosedConnectionReleasesLongPoll: a client that goes away while its
// fetch long-polls releases the connection at once, not when the poll's
// MaxWaitMillis (here 30 s) runs out.
func TestClosedConnectionReleasesLongPoll(t *testing.T) {
	tc := startTestCluster(t, 1)
	b := tc.brokers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.commit(ctx, cluster.CreateTopic{Name: "quiet", ID: [16]byte{4}, Assignments: [][]int32{{1}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "quiet-0 led here", func() bool {
		p := b.partition("quiet", 0)
		return p != nil && p.isLeader()
	})
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 30000, 1, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "quiet"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("test"))
	if _, err := c.Write(f.AppendRequest(nil, req, 1)); err != nil {
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
