package core

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jocko/jocko/cluster"
)

// TestFencedFollowerReleasesHighWatermark (KIP-841): once the controller
// fences a follower, its leader stops waiting for it at once: acks=all
// sends succeed long before replica.lag.time.max.ms (here 60 s) would have
// let the leader give up on it. Before the leader was told which replicas
// are fenced, they timed out.
func TestFencedFollowerReleasesHighWatermark(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b1 := tc.brokers[0]
	if err := b1.commit(ctx, cluster.AlterBrokerConfigs{Set: map[string]string{
		"replica.lag.time.max.ms": "60000", "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500",
	}}); err != nil {
		t.Fatal(err)
	}
	if err := b1.commit(ctx, cluster.CreateTopic{Name: "fenced", ID: [16]byte{8}, Assignments: [][]int32{{1, 2, 3}},
		Configs: map[string]string{"min.insync.replicas": "1"}}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b1.Addr()), kgo.DefaultProduceTopic("fenced"),
		kgo.ProduceRequestTimeout(5*time.Second), kgo.RecordDeliveryTimeout(8*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	waitFor(t, 20*time.Second, "a first acks=all send", func() bool {
		return cl.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr() == nil
	})
	tc.stop[2]() // broker 3 stops heartbeating and fetching
	waitFor(t, 20*time.Second, "broker 3 fenced and out of the ISR", func() bool {
		st := b1.node.State()
		top, ok := st.Topic("fenced")
		return ok && st.Brokers[3].Fenced && !slices.Contains(top.Partitions[0].ISR, 3)
	})
	for i := range 5 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
			t.Fatalf("acks=all send %d after broker 3 was fenced: %v", i, err)
		}
	}
}
