package main

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestE2EKill9NoLossNoDuplicates runs franz-go's idempotent acks=all producer
// while the broker is killed with SIGKILL and restarted on the same data
// directory: every acknowledged record must be there afterwards, and none
// twice (the restarted broker rebuilds producer state from its log).
func TestE2EKill9NoLossNoDuplicates(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	if _, err := b.admin(t).CreateTopic(ctx, 4, 1, nil, "crash"); err != nil {
		t.Fatal(err)
	}
	const total = 6000
	prod := b.client(t, kgo.DefaultProduceTopic("crash"), kgo.MaxBufferedRecords(500))
	ap := produceAcked(ctx, prod, total, false)
	waitUntil(t, ctx, func() bool { return ap.n.Load() >= 1500 })
	b.kill9()
	b.restart()
	ap.wait(t)
	if ap.n.Load() != total {
		t.Fatalf("%d of %d records acknowledged", ap.n.Load(), total)
	}
	got := consumeAll(t, b, "crash", total)
	ap.check(t, got)
	if len(got) != total {
		t.Errorf("consumed %d records, want %d", len(got), total)
	}
	ends, err := b.admin(t).ListEndOffsets(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	ends.Each(func(o kadm.ListedOffset) { stored += o.Offset })
	if stored != total {
		t.Errorf("partitions hold %d records, want exactly %d", stored, total)
	}
}

func waitUntil(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatal("condition not reached before timeout")
		}
		waitABit(ctx)
	}
}
