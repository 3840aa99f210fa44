package main

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ackedProducer sends records whose values are "0", "1", ... in the
// background and keeps which were acknowledged, for the no-loss checks of
// the crash and failover tests.
type ackedProducer struct {
	acked  sync.Map // value -> true
	n      atomic.Int64
	failed atomic.Value // the first final error's text
	stop   chan struct{}
	done   chan struct{}
}

// produceAcked sends up to total records (0: until stopped) through prod,
// each record's key equal to its value, and flushes at the end. Paced, it
// rests 10 ms every 20 records (at most about 2,000 records/s), so that a
// long run stays quick to read back and check.
func produceAcked(ctx context.Context, prod *kgo.Client, total int, paced bool) *ackedProducer {
	a := &ackedProducer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		defer prod.Flush(ctx)
		for i := 0; (total == 0 || i < total) && ctx.Err() == nil; i++ {
			select {
			case <-a.stop:
				return
			default:
			}
			v := strconv.Itoa(i)
			prod.Produce(ctx, &kgo.Record{Key: []byte(v), Value: []byte(v)}, func(r *kgo.Record, err error) {
				if err != nil {
					a.failed.CompareAndSwap(nil, err.Error())
					return
				}
				a.acked.Store(string(r.Value), true)
				a.n.Add(1)
			})
			if paced && i%20 == 19 {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	return a
}

// finish stops sending (if still going), waits for the flush and fails the
// test if any send failed for good.
func (a *ackedProducer) finish(t *testing.T) {
	t.Helper()
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	<-a.done
	if err := a.failed.Load(); err != nil {
		t.Fatalf("a produce failed for good: %v", err)
	}
}

// wait waits for the producer to send all it was asked to, then checks
// as finish does.
func (a *ackedProducer) wait(t *testing.T) {
	t.Helper()
	<-a.done
	a.finish(t)
}

// check fails the test unless every acknowledged record is among got
// exactly once; it returns how many times each value was read.
func (a *ackedProducer) check(t *testing.T, got []*kgo.Record) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Value)]++
	}
	for v, n := range seen {
		if n > 1 {
			t.Errorf("record %s stored %d times", v, n)
		}
	}
	a.acked.Range(func(k, _ any) bool {
		if seen[k.(string)] == 0 {
			t.Errorf("acknowledged record %s lost", k)
		}
		return true
	})
	return seen
}
