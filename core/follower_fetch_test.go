package core

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jocko/jocko/cluster"
)

// fetchServers records which brokers served a consumer's fetched batches.
type fetchServers struct {
	mu sync.Mutex // guards by
	by map[int32]int
}

func (f *fetchServers) OnFetchBatchRead(meta kgo.BrokerMetadata, _ string, _ int32, _ kgo.FetchBatchMetrics) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.by[meta.NodeID]++
}

// TestFollowerFetchInClientRack (KIP-392): a consumer with client.rack
// reads from the in-sync follower in its rack, which serves it below its
// own high watermark; every record arrives, in order.
func TestFollowerFetchInClientRack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3, func(c *Config) { c.Rack = "rack-" + strconv.Itoa(int(c.NodeID)) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b1 := tc.brokers[0]
	if err := b1.commit(ctx, cluster.CreateTopic{Name: "racked", ID: [16]byte{9}, Assignments: [][]int32{{1, 2, 3}}}); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b1.Addr()), kgo.DefaultProduceTopic("racked"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 200
	waitFor(t, 20*time.Second, "the first send", func() bool {
		return prod.ProduceSync(ctx, &kgo.Record{Value: []byte("0")}).FirstErr() == nil
	})
	for i := 1; i < n; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	servers := &fetchServers{by: map[int32]int{}}
	cons, err := kgo.NewClient(kgo.SeedBrokers(b1.Addr()), kgo.ConsumeTopics("racked"), kgo.Rack("rack-2"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.WithHooks(servers))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []string
	for len(got) < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d", len(got), n)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for i, v := range got[:n] {
		if v != strconv.Itoa(i) {
			t.Fatalf("record %d is %q", i, v)
		}
	}
	servers.mu.Lock()
	defer servers.mu.Unlock()
	if servers.by[2] == 0 || servers.by[1] != 0 {
		t.Fatalf("batches served by broker: %v; want all from broker 2, the follower in the client's rack", servers.by)
	}
}
