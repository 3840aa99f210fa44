package main

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestE2ETxnExactlyOnceKill9: franz-go's consume-transform-produce loop
// (GroupTransactSession: read_committed, offsets committed inside each
// transaction) copies 600 records from "in" to "out" while the broker is
// killed with SIGKILL twice and restarted on the same data. Every record
// must arrive in "out" exactly once, as a read_committed consumer sees it:
// a transaction cut by the crash aborts, its records and offsets alike,
// and the next one starts again from the committed offsets.
func TestE2ETxnExactlyOnceKill9(t *testing.T) {
	b := startBroker(t, "", "--group.initial.rebalance.delay.ms=0", "--transaction.abort.timed.out.transaction.cleanup.interval.ms=500")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	if _, err := b.admin(t).CreateTopics(ctx, 3, 1, nil, "in", "out"); err != nil {
		t.Fatal(err)
	}
	const n = 600
	// Batches of ten, so that a poll returns a few dozen records and the
	// kills land between transactions and inside them.
	prod := b.client(t, kgo.DefaultProduceTopic("in"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := 0; i < n; i += 10 {
		var rs []*kgo.Record
		for j := i; j < i+10; j++ {
			rs = append(rs, &kgo.Record{Value: []byte(strconv.Itoa(j)), Partition: int32(i / 10 % 3)})
		}
		if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	prod.Close()

	newSession := func() *kgo.GroupTransactSession {
		s, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(b.addr), kgo.TransactionalID("eos-copy"),
			kgo.TransactionTimeout(5*time.Second), kgo.ConsumerGroup("eos"), kgo.ConsumeTopics("in"),
			kgo.DefaultProduceTopic("out"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.RequireStableFetchOffsets(), kgo.FetchMaxPartitionBytes(1), kgo.SessionTimeout(6*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sess := newSession()
	defer func() { sess.Close() }()
	copied, kills := 0, 0
	for copied < n && ctx.Err() == nil {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		fs := sess.PollFetches(pctx)
		pcancel()
		if err := sess.Begin(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
		for _, r := range recs {
			sess.Produce(ctx, &kgo.Record{Value: r.Value}, nil)
		}
		if kills < 2 && copied >= (kills+1)*n/3 && len(recs) > 0 {
			// Inside the transaction: its records are (partly) written,
			// its offsets not yet.
			kills++
			b.kill9()
			b.restart()
		}
		ectx, ecancel := context.WithTimeout(ctx, 20*time.Second)
		committed, err := sess.End(ectx, kgo.TryCommit)
		ecancel()
		switch {
		case err == nil && committed:
			copied += len(recs)
		case err != nil && (errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)):
			// The coordinator aborted the transaction the crash cut
			// (its timeout): start a new session from the committed
			// offsets.
			t.Logf("session fenced after a crash, starting a new one: %v", err)
			sess.Close()
			sess = newSession()
		case err != nil:
			t.Logf("end (retried from the committed offsets): %v", err)
		}
	}
	sess.Close()
	if kills != 2 {
		t.Fatalf("copied %d of %d with %d kills", copied, n, kills)
	}

	// Read "out" read_committed to its end: each value exactly once.
	cons := b.client(t, kgo.ConsumeTopics("out"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[int]int{}
	total := 0
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	for total < n && rctx.Err() == nil {
		cons.PollFetches(rctx).EachRecord(func(r *kgo.Record) {
			v, _ := strconv.Atoi(string(r.Value))
			seen[v]++
			total++
		})
	}
	// Anything past n would be a duplicate: look a moment longer.
	lctx, lcancel := context.WithTimeout(ctx, time.Second)
	cons.PollFetches(lctx).EachRecord(func(r *kgo.Record) {
		v, _ := strconv.Atoi(string(r.Value))
		seen[v]++
		total++
	})
	lcancel()
	var missing, dups []int
	for i := range n {
		switch seen[i] {
		case 0:
			missing = append(missing, i)
		case 1:
		default:
			dups = append(dups, i)
		}
	}
	slices.Sort(dups)
	if len(missing) > 0 || len(dups) > 0 || total != n {
		t.Fatalf("out has %d records: %d missing (%v), %d duplicated (%v)", total, len(missing), head(missing), len(dups), head(dups))
	}
}

func head(xs []int) []int {
	if len(xs) > 10 {
		return xs[:10]
	}
	return xs
}
