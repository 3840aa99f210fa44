package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestE2ECompactionKeepsOldTombstone (KIP-534): on a compacted topic, a
// tombstone the producer stamped two days back, with delete.retention.ms
// at its default of one day, is kept by compaction (for a day from that
// cleaning), so a consumer that reads the topic from the start after the
// cleaning still sees the delete, with the producer's timestamp.
func TestE2ECompactionKeepsOldTombstone(t *testing.T) {
	b := startBroker(t, "", "--log.retention.check.interval.ms=100")
	ctx := testCtx(t)
	compact, seg, ratio := "compact", "1024", "0.01"
	cfgs := map[string]*string{"cleanup.policy": &compact, "segment.bytes": &seg, "min.cleanable.dirty.ratio": &ratio}
	if _, err := b.admin(t).CreateTopic(ctx, 1, 1, cfgs, "tomb"); err != nil {
		t.Fatal(err)
	}
	cl := b.client(t, kgo.DefaultProduceTopic("tomb"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	stamp := time.Now().Add(-48 * time.Hour).Truncate(time.Millisecond)
	recs := []*kgo.Record{
		{Key: []byte("gone"), Value: []byte("value")},
		{Key: []byte("gone"), Timestamp: stamp}, // the delete
	}
	for i := range 30 { // enough to roll 1 KiB segments past the tombstone
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%3), Value: make([]byte, 100)})
	}
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Wait for a cleaning: the superseded value of "gone" is removed.
	var got []*kgo.Record
	waitUntil(t, ctx, func() bool {
		got = readTopic(t, ctx, b, "tomb")
		return len(got) > 0 && got[0].Offset > 0
	})
	for _, r := range got {
		if string(r.Key) == "gone" {
			if r.Value != nil || !r.Timestamp.Equal(stamp) {
				t.Fatalf("gone at %d: value %q, timestamp %v; want the tombstone stamped %v", r.Offset, r.Value, r.Timestamp, stamp)
			}
			return
		}
	}
	t.Fatalf("after compaction a consumer reading from the start never sees the delete of \"gone\" (%d records)", len(got))
}

// readTopic reads partition 0 of topic from the start to its current end.
func readTopic(t *testing.T, ctx context.Context, b *proc, topic string) []*kgo.Record {
	t.Helper()
	ends, err := b.admin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for next := int64(0); next < end.Offset; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("timed out reading " + topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			next = r.Offset + 1
		})
	}
	return out
}
