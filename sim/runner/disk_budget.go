package runner

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jocko/jocko/sim/check"
)

// Retention by percent of disk (issue 11): a scenario whose brokers have
// a disk capacity (DiskBytes) and log.retention.disk.percent set in
// BrokerSettings is a disk-budget run. Its producers write far more than
// the disk holds, so the broker must delete old data to keep serving, and
// the run checks three things besides the queue checks:
//
//   - disk-over-budget: each broker's disk, sampled every
//     diskSampleEvery, holds at most the budget plus diskSlack;
//   - produce-stalled: some send is acknowledged in every stallMax
//     window from the topic's creation to the end of the quiet phase (a
//     full disk stops produce: partition offline, or the disk-full
//     reserve refusing it);
//   - records deleted by retention are not lost writes: an acknowledged
//     send below its partition's final log start is dropped from the
//     history before the queue checks, so every acknowledged record still
//     present must read back exactly, at its offset (dropDeleted).

const (
	diskSampleEvery = 100 * time.Millisecond
	stallMax        = 3 * time.Second
)

// diskPercent is the scenario's disk budget in percent, or 0 if it is not
// a disk-budget run.
func (sc Scenario) diskPercent() float64 {
	if sc.DiskBytes <= 0 {
		return 0
	}
	f, err := strconv.ParseFloat(sc.BrokerSettings["log.retention.disk.percent"], 64)
	if err != nil || f <= 0 {
		return 0
	}
	return f
}

// diskSlack is what a disk may hold above the budget: what retention may
// not delete (each partition's active segment and the one just rolled,
// below the high watermark only once fsynced) and what arrives between
// two passes, bounded by a twentieth of the disk.
func (sc Scenario) diskSlack() int64 {
	return 2*int64(sc.Partitions)*int64(sc.SegmentMax) + sc.DiskBytes/20
}

// watchDisk checks disk-over-budget and produce-stalled until ctx ends.
func (r *run) watchDisk(ctx context.Context) {
	pct := r.sc.diskPercent()
	if pct <= 0 {
		return
	}
	budget := int64(float64(r.sc.DiskBytes) * pct / 100)
	limit := budget + r.sc.diskSlack()
	acked, since := r.rec.acked(), time.Now()
	over, stalled := false, false
	for ctx.Err() == nil {
		sleepCtx(ctx, diskSampleEvery)
		if ctx.Err() != nil {
			return
		}
		for _, b := range r.c.brokers {
			if used := b.disk.Used(); used > limit && !over {
				over = true
				r.fail("disk-over-budget", fmt.Sprintf("broker %d's disk holds %d bytes of %d: over the %.0f%% budget (%d) plus slack (%d)",
					b.id, used, r.sc.DiskBytes, pct, budget, limit-budget))
			}
		}
		if n := r.rec.acked(); n > acked {
			acked, since = n, time.Now()
		} else if time.Since(since) > stallMax && !stalled {
			stalled = true
			r.fail("produce-stalled", fmt.Sprintf("no send acknowledged for %v (%d acknowledged so far)", stallMax, n))
		}
	}
}

// dropDeleted removes from h the acknowledged sends below their
// partition's log start on a live broker after the final read (the
// largest, if several hold it): retention deleted them. Nothing changes
// outside disk-budget runs.
func (r *run) dropDeleted(h check.History) check.History {
	if r.sc.diskPercent() <= 0 {
		return h
	}
	start := map[int32]int64{}
	r.c.mu.Lock()
	var live []*broker
	for _, b := range r.c.brokers {
		if b.up {
			live = append(live, b)
		}
	}
	r.c.mu.Unlock()
	for _, b := range live {
		r.tr.Logf("disk budget: broker %d's disk holds %d of %d bytes", b.id, b.disk.Used(), r.sc.DiskBytes)
		for _, v := range b.b.Inspect() {
			if v.Topic == topic {
				start[v.Partition] = max(start[v.Partition], v.LogStart)
			}
		}
	}
	out := check.History{Ops: make([]check.Op, 0, len(h.Ops))}
	dropped := 0
	for _, op := range h.Ops {
		if op.Kind == check.Send && op.Result == check.OK && op.Offset < start[op.Partition] {
			dropped++
			continue
		}
		out.Ops = append(out.Ops, op)
	}
	r.tr.Logf("disk budget: log starts %v, %d acknowledged sends below them (deleted by retention)", start, dropped)
	if dropped == 0 {
		r.fail("disk-budget-idle", fmt.Sprintf("retention deleted no acknowledged record (log starts %v): the run did not fill the disk", start))
	}
	return out
}
