package runner

import (
	"context"
	"slices"
	"time"

	"github.com/jocko/jocko/sim/check"
	"github.com/jocko/jocko/sim/trace"
)

// sampleEvery is how often the monitor samples every live broker.
const sampleEvery = 500 * time.Millisecond

// sample inspects b's live incarnation (core.Broker.Inspect: atomics only,
// no disk) and feeds the in-run invariants. A broker that is down is not
// sampled: its frozen goroutines may hold the partition table's lock.
func (r *run) sample(b *broker) {
	c := r.c
	c.mu.Lock()
	if !b.up || b.paused {
		c.mu.Unlock()
		return // a paused broker answers nothing until it resumes
	}
	br, gen := b.b, b.gen
	c.mu.Unlock()
	for _, ch := range []<-chan struct{}{br.Ready(), br.PartitionsOpen()} {
		select {
		case <-ch:
		default:
			return // still opening its partitions: a partial view
		}
	}
	views := br.Inspect()
	samples := make([]check.PartitionSample, 0, len(views))
	for _, v := range views {
		samples = append(samples, check.PartitionSample{Topic: v.Topic, Partition: v.Partition,
			LogStart: v.LogStart, HW: v.HighWatermark, DurableEnd: v.DurableEnd, LogEnd: v.LogEnd, Durable: v.Durable,
			Leader: v.Leader, LeaderEpoch: v.LeaderEpoch})
	}
	// Read after the views: a partition absent from them that the
	// metadata no longer gives this broker was moved away, not lost.
	st, _ := br.Metadata()
	replica := func(name string, part int32) bool {
		t, ok := st.Topic(name)
		return !ok || int(part) >= len(t.Partitions) || slices.Contains(t.Partitions[part].Replicas, b.id)
	}
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	r.rec.stats.Samples++
	r.rec.mon.Forget(b.id, replica)
	r.rec.inRunLocked(r.rec.mon.Sample(b.id, gen, samples))
}

// sampleAll samples every live broker.
func (r *run) sampleAll() {
	for _, b := range r.c.brokers {
		r.sample(b)
	}
	r.rec.mu.Lock()
	r.rec.inRunLocked(r.rec.mon.Replicas())
	r.rec.mu.Unlock()
}

// monitor samples every live broker every sampleEvery until ctx ends. The
// nemesis also samples before each fault and after each heal, and every
// broker is sampled once it is ready.
func (r *run) monitor(ctx context.Context) {
	for ctx.Err() == nil {
		sleepCtx(ctx, sampleEvery)
		if ctx.Err() == nil {
			r.sampleAll()
		}
	}
}

// inRunLocked records violations found while the run goes, with the
// virtual time they were seen at. rec.mu is held.
func (rec *recorder) inRunLocked(vs []check.Violation) {
	for _, v := range vs {
		v.Detail += " (seen in-run at " + time.Since(rec.start).Round(time.Millisecond).String() + ")"
		rec.inRun = append(rec.inRun, v)
		rec.tr.Record(trace.Note, trace.Str(v.Kind), uint64(v.Partition), 0)
		rec.tr.Logf("violation %s", v)
	}
}
