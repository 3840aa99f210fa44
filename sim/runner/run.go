package runner

import (
	"context"
	"fmt"
	"github.com/jocko/jocko/core"
	"github.com/jocko/jocko/io/buggify"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jocko/jocko/sim/check"
	"github.com/jocko/jocko/sim/trace"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// violationsMax bounds what a result carries; the count is always exact.
const violationsMax = 20

// run is the state of one Run.
type run struct {
	sc   Scenario
	opt  Options
	tr   *trace.Trace
	mu   sync.Mutex
	viol []check.Violation
	rec  *recorder
	c    *cluster
	lin  []check.LinOp // porcupine's input of the partitions found not linearizable
}

func (r *run) fail(kind, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.viol = append(r.viol, check.Violation{Kind: kind, Partition: -1, Detail: detail})
	r.tr.Record(trace.Note, trace.Str(kind), 0, 0)
	r.tr.Logf("violation %s: %s", kind, detail)
}

// Run executes one scenario for one seed and returns its result. It never
// takes longer than sc.TimeLimit of (virtual) time.
func Run(sc Scenario, opt Options) Result {
	tr := trace.New(opt.Trace)
	defer buggify.Install(newBuggifier(opt.Seed, tr, opt.Bugs))()
	var drawn []string
	if !opt.NoSwarm {
		sc, drawn = Swarm(sc, opt.Seed)
		tr.Record(trace.Note, trace.Str("swarm"), trace.Str(strings.Join(drawn, " ")), 0)
		tr.Logf("swarm: %s", strings.Join(drawn, " "))
	}
	if opt.Trim != (Trim{}) {
		sc = opt.Trim.apply(sc)
	}
	r := &run{sc: sc, opt: opt, tr: tr, rec: newRecorder(tr, sc.Brokers == 1)}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.body()
	}()
	t := time.NewTimer(sc.TimeLimit)
	select {
	case <-done:
		t.Stop()
		res := r.result(time.Since(start))
		res.Swarm = drawn
		return leftovers(res)
	case <-t.C:
		r.fail("time-limit", fmt.Sprintf("run did not finish within %v of virtual time", sc.TimeLimit))
		res := r.result(time.Since(start))
		res.Swarm = drawn
		// Every goroutine's stack, for the trace; after the result, so that
		// the dump cannot change it.
		buf := make([]byte, 8<<20)
		tr.LogWriter().Write(buf[:runtime.Stack(buf, true)])
		return leftovers(res)
	}
}

func (r *run) result(elapsed time.Duration) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	res := Result{Seed: r.opt.Seed, Scenario: r.sc.Name, Bugs: r.opt.Bugs,
		Hash: fmt.Sprintf("%016x", r.tr.Hash()), OK: len(r.viol) == 0, VirtualMs: elapsed.Milliseconds(),
		Events: r.tr.Count(), Stats: r.rec.stats, Porcupine: r.lin,
		Schedule: append([]Step{}, r.rec.sched...)}
	res.Violations = append(append(res.Violations, r.rec.inRun...), r.viol...)
	res.OK = len(res.Violations) == 0
	if len(res.Violations) > violationsMax {
		extra := len(res.Violations) - violationsMax
		res.Violations = append(res.Violations[:violationsMax:violationsMax],
			check.Violation{Kind: "more", Partition: -1, Detail: fmt.Sprintf("%d more violations", extra)})
	}
	return res
}

func (r *run) body() {
	c, err := newCluster(r.sc, r.opt, r.tr, r.fail)
	if err != nil {
		r.fail("setup", err.Error())
		return
	}
	r.c = c
	c.ready = r.sample
	w := &workload{c: c, rec: r.rec, sc: r.sc, sample: r.sampleAll, replay: r.opt.Schedule.Replay, schedule: r.opt.Schedule.Steps}
	mctx, mstop := context.WithCancel(context.Background())
	defer mstop()
	go r.monitor(mctx)
	c.startAll(30 * time.Second)
	r.tr.Record(trace.Phase, 1, 0, 0)
	if err := w.createTopic(30 * time.Second); err != nil {
		r.fail("setup", "create topic: "+err.Error())
		return
	}
	if r.sc.TxnProducers > 0 {
		if err := w.createTopicNamed(txnTopic, 30*time.Second); err != nil {
			r.fail("setup", "create topic: "+err.Error())
			return
		}
	}
	if r.sc.TxnPipeline {
		if err := w.createTopicNamed(eosTopic, 30*time.Second); err != nil {
			r.fail("setup", "create topic: "+err.Error())
			return
		}
	}
	r.tr.Record(trace.Phase, 2, 0, 0)
	dctx, dstop := context.WithCancel(context.Background())
	go r.watchDisk(dctx) // disk-budget runs only (disk_budget.go)
	ackedAtHeal := w.faultPhase(r)
	dstop()
	r.tr.Record(trace.Phase, 3, 0, 0)
	if r.sc.Progress && r.rec.acked() <= ackedAtHeal {
		r.fail("no-progress", fmt.Sprintf("no send was acknowledged in the %v after healing", r.sc.Quiet))
	}
	w.finalRead(r)
	if r.sc.TxnProducers > 0 {
		w.txnFinalRead(r)
	}
	if r.sc.TxnPipeline {
		h, _ := r.history()
		w.eosFinal(r, h)
	}
	r.sampleAll()
	r.checkConvergence() // first: the replica check then sees a settled cluster
	r.checkReplicas()
	mstop()
	r.tr.Record(trace.Phase, 4, 0, 0)
	h, g := r.history()
	vs := check.CorruptReads(h) // on every send: retention deletes produced records
	h = r.dropDeleted(h)
	vs = append(vs, check.Queue(h)...)
	vs = append(vs, check.Group(h, g)...)
	if r.sc.TxnProducers > 0 {
		vs = append(vs, check.Transactions(r.rec.txnHistory())...)
	}
	if r.sc.TxnPipeline {
		r.rec.mu.Lock()
		eos := r.rec.eos
		r.rec.mu.Unlock()
		vs = append(vs, check.ExactlyOnce(eos)...)
	}
	var lin []check.LinOp
	if r.sc.Linearize {
		var lvs []check.Violation
		lvs, lin = check.LinearizableInput(h, r.sc.Brokers > 1)
		vs = append(vs, lvs...)
	}
	r.mu.Lock()
	r.viol = append(r.viol, vs...)
	r.lin = lin
	r.mu.Unlock()
}

func (r *run) history() (check.History, check.GroupHistory) {
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	return check.History{Ops: append([]check.Op(nil), r.rec.h.Ops...)},
		check.GroupHistory{Members: r.rec.g.Members, Events: append([]check.GroupEvent(nil), r.rec.g.Events...)}
}

// faultPhase runs the workload with the nemesis for Duration, heals
// everything, lets the workload go on for Quiet, then stops the clients. It
// returns the number of acknowledged sends at the heal.
func (w *workload) faultPhase(r *run) int {
	wctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 1; i <= w.sc.Producers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); w.producer(wctx, i, w.c.seed) }()
	}
	for i := 1; i <= w.sc.Consumers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); w.consumer(wctx, 100+i, false, nil) }()
	}
	if w.sc.Linearize {
		wg.Add(1)
		go func() { defer wg.Done(); w.observer(wctx, 200, w.c.seed) }()
	}
	for i := 1; i <= w.sc.TxnProducers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); w.txnProducer(wctx, 400+i, w.c.seed) }()
	}
	for i := 1; i <= w.sc.TxnConsumers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); w.txnConsumer(wctx, 500+i, false, nil) }()
	}
	ectx, estop := context.WithCancel(context.Background())
	defer estop()
	var ewg sync.WaitGroup
	if w.sc.TxnPipeline {
		ewg.Add(1)
		go func() { defer ewg.Done(); w.eosPipeline(ectx, 450) }()
	}
	gctx, gstop := context.WithCancel(context.Background())
	defer gstop()
	var gwg sync.WaitGroup
	if w.sc.GroupMembers > 0 {
		gwg.Add(1)
		go func() { defer gwg.Done(); w.group(gctx, wctx) }()
	}
	nctx, nstop := context.WithTimeout(context.Background(), w.sc.Duration)
	defer nstop()
	w.nemesis(nctx, w.c.seed)
	w.healAll()
	acked := w.rec.acked()
	time.Sleep(w.sc.Quiet)
	stop()
	wg.Wait()
	if w.sc.TxnPipeline {
		// The producers have stopped: the pipeline copies up to the ends.
		w.eosDrain(r)
		estop()
		ewg.Wait()
	}
	if w.sc.GroupMembers > 0 {
		// The producers have stopped: the group must consume up to the
		// ends, then its members leave (committing on revoke).
		w.groupDrain(r)
		gstop()
		gwg.Wait()
		w.groupFinalOffsets(r)
	}
	return acked
}

// healAll ends every fault: links, disks, and brokers that are down.
func (w *workload) healAll() {
	c := w.c
	c.net.HealAll()
	for _, b := range c.brokers {
		b.disk.Heal()
		w.restoreCapacity(b)
	}
	c.startAll(30 * time.Second)
	w.rec.tr.Logf("healed all")
}

// createTopic creates the workload topic, retrying until the broker takes it.
func (w *workload) createTopic(limit time.Duration) error {
	return w.createTopicNamed(topic, limit)
}

// createTopicNamed creates a topic shaped like the workload topic.
func (w *workload) createTopicNamed(name string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cl, err := w.client("s1")
	if err != nil {
		return err
	}
	defer cl.Close()
	var last error
	for ctx.Err() == nil {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, w.sc.Partitions, int16(min(3, len(w.c.brokers)))
		if rt.ReplicationFactor >= 3 {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = "min.insync.replicas", kmsg.StringPtr("2")
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 5000
		resp, err := cl.Request(ctx, req)
		if err == nil {
			rs := resp.(*kmsg.CreateTopicsResponse)
			if len(rs.Topics) == 1 {
				err = kerr.ErrorForCode(rs.Topics[0].ErrorCode)
				if err == nil || err == kerr.TopicAlreadyExists {
					return nil
				}
			}
		}
		last = err
		sleepCtx(ctx, 200*time.Millisecond)
	}
	return fmt.Errorf("%v (last error: %v)", ctx.Err(), last)
}

// finalRead lists every partition's end and reads everything up to it.
func (w *workload) finalRead(r *run) {
	ctx, cancel := context.WithTimeout(context.Background(), w.sc.FinalRead)
	defer cancel()
	cl, err := w.client("f0")
	if err != nil {
		r.fail("client", err.Error())
		return
	}
	ends := w.listEnds(ctx, cl, 300)
	cl.Close()
	if ctx.Err() != nil {
		r.fail("final-read-incomplete", "could not list partition ends after healing")
		return
	}
	if !w.consumer(ctx, 301, true, ends) {
		r.fail("final-read-incomplete", fmt.Sprintf("did not read up to the ends %v within %v", ends, w.sc.FinalRead))
	}
}

// leftovers adds what the run left behind to res. It runs after the result
// is final, so it cannot change it.
func leftovers(res Result) Result {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.Goroutines, res.HeapBytes = runtime.NumGoroutine(), ms.HeapAlloc
	return res
}

// checkReplicas compares every replica of each workload partition below the
// leader's high watermark (and each replica's log end): replicas store the
// leader's batches unchanged, so committed prefixes must be identical.
func (r *run) checkReplicas() {
	if len(r.c.brokers) < 2 {
		return
	}
	c := r.c
	c.mu.Lock()
	var live []*broker
	for _, b := range c.brokers {
		if b.up {
			live = append(live, b)
		}
	}
	c.mu.Unlock()
	for p := int32(0); p < r.sc.Partitions; p++ {
		upTo := int64(-1)
		var holders []*broker
		for _, b := range live {
			for _, v := range b.b.Inspect() {
				if v.Topic != topic || v.Partition != p {
					continue
				}
				holders = append(holders, b)
				if v.Leader == b.id {
					upTo = max(upTo, v.HighWatermark)
				}
			}
		}
		if upTo < 0 || len(holders) < 2 {
			continue
		}
		for _, b := range holders {
			for _, v := range b.b.Inspect() {
				if v.Topic == topic && v.Partition == p {
					upTo = min(upTo, v.LogEnd)
				}
			}
		}
		var first []core.BatchSummary
		firstID := int32(-1) // the first holder whose batches could be read
		for _, b := range holders {
			got, err := b.b.Batches(topic, p, upTo)
			if err != nil {
				r.fail("replica-check", fmt.Sprintf("broker %d partition %d: %v", b.id, p, err))
				continue
			}
			if firstID < 0 {
				first, firstID = got, b.id
				continue
			}
			if d := firstDifference(first, got); d != "" {
				r.fail("replica-divergence", fmt.Sprintf("partition %d below offset %d: broker %d and broker %d differ: %s",
					p, upTo, firstID, b.id, d))
			}
		}
	}

}

// firstDifference describes where two replicas' batch lists part, or "".
func firstDifference(a, b []core.BatchSummary) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		if x != y {
			return fmt.Sprintf("batch %d: %+v against %+v", i, a[i], b[i])
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("%d batches against %d", len(a), len(b))
	}
	return ""
}
