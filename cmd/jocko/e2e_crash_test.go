package main

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
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
	var acked sync.Map
	var nAcked atomic.Int64
	var failed atomic.Value
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total && ctx.Err() == nil; i++ {
			v := strconv.Itoa(i)
			prod.Produce(ctx, &kgo.Record{Key: []byte(v), Value: []byte(v)}, func(r *kgo.Record, err error) {
				if err != nil {
					failed.Store(err)
					return
				}
				acked.Store(string(r.Value), true)
				nAcked.Add(1)
			})
		}
		prod.Flush(ctx)
	}()
	waitUntil(t, ctx, func() bool { return nAcked.Load() >= 1500 })
	b.kill9()
	b.restart()
	<-done
	if err := failed.Load(); err != nil {
		t.Fatalf("a produce failed for good: %v", err)
	}
	if nAcked.Load() != total {
		t.Fatalf("%d of %d records acknowledged", nAcked.Load(), total)
	}
	got := consumeAll(t, b, "crash", total)
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Value)]++
	}
	for v, n := range seen {
		if n > 1 {
			t.Errorf("record %s stored %d times (idempotent producer duplicate)", v, n)
		}
	}
	acked.Range(func(k, _ any) bool {
		if seen[k.(string)] == 0 {
			t.Errorf("acknowledged record %s lost after kill -9", k)
		}
		return true
	})
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
