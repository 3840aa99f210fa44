package core

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/wire"
)

// TestProduceTwoBatchesRefused: Produce v3+ carries exactly one record
// batch per partition (Kafka's ProduceRequest.validateRecords: "only
// allowed to contain exactly one record batch"). A partition sent two gets
// INVALID_RECORD and neither batch is stored, even though each is valid on
// its own; the next single-batch produce lands at offset 0.
func TestProduceTwoBatchesRefused(t *testing.T) {
	tc := startTestCluster(t, 1)
	b := tc.brokers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.commit(ctx, cluster.CreateTopic{Name: "two", ID: [16]byte{7}, Assignments: [][]int32{{1}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "two-0 led here", func() bool {
		p := b.partition("two", 0)
		return p != nil && p.isLeader()
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	batch := func(v string) []byte {
		now := time.Now().UnixMilli()
		raw, err := wire.AppendBatch(nil, wire.Batch{
			FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
			Records: []wire.Record{{Value: []byte(v)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	produce := func(records []byte) kmsg.ProduceResponseTopicPartition {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = "two", [16]byte{7} // kgo may send v13, which names topics by ID
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = records
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0]
	}
	got := produce(append(batch("first"), batch("second")...))
	if got.ErrorCode != kerr.InvalidRecord.Code {
		t.Fatalf("two batches for one partition: %v (%s), want INVALID_RECORD", kerr.ErrorForCode(got.ErrorCode), deref(got.ErrorMessage))
	}
	if end := b.partition("two", 0).log.EndOffset(); end != 0 {
		t.Fatalf("after the refused produce the log ends at %d, want 0: part of it was stored", end)
	}
	if got := produce(batch("alone")); got.ErrorCode != 0 || got.BaseOffset != 0 {
		t.Fatalf("one batch: %v at offset %d, want success at 0", kerr.ErrorForCode(got.ErrorCode), got.BaseOffset)
	}
}
