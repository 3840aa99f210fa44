package main

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestE2EConsumerOffsetsCompaction commits one group's offset many times;
// log compaction of __consumer_offsets must shrink it to about one record
// per key, and a restarted broker must load the latest commit from the
// compacted log.
func TestE2EConsumerOffsetsCompaction(t *testing.T) {
	b := startBroker(t, "",
		"--offsets.topic.num.partitions=1", "--offsets.topic.segment.bytes=4096",
		"--log.retention.check.interval.ms=100")
	ctx := testCtx(t)
	adm := b.admin(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "c"); err != nil {
		t.Fatal(err)
	}
	const commits = 400
	for i := int64(1); i <= commits; i++ {
		offs := kadm.Offsets{}
		offs.AddOffset("c", 0, i, -1)
		if _, err := adm.CommitOffsets(ctx, "compactors", offs); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	waitUntil(t, ctx, func() bool { return countRecords(t, ctx, b, "__consumer_offsets") < commits/4 })

	b.kill9()
	b.restart()
	var got kadm.OffsetResponses
	waitUntil(t, ctx, func() bool {
		var err error
		got, err = b.admin(t).FetchOffsets(ctx, "compactors")
		return err == nil
	})
	if o, ok := got.Lookup("c", 0); !ok || o.At != commits {
		t.Fatalf("after compaction and restart the committed offset is %d, want %d", o.At, commits)
	}
}

// countRecords reads a topic from the start to its current end and counts
// its records.
func countRecords(t *testing.T, ctx context.Context, b *proc, topic string) int {
	t.Helper()
	ends, err := b.admin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	done := func() bool {
		for _, end := range want {
			if end > 0 {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("timed out reading " + topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if r.Offset+1 >= want[r.Partition] {
				want[r.Partition] = 0
			}
		})
	}
	return n
}
