package runner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/jocko/jocko/sim/check"
	"github.com/jocko/jocko/sim/trace"
	"github.com/twmb/franz-go/pkg/kgo"
)

const topic = "jepsen"

// recorder collects the history; every operation is also hashed.
type recorder struct {
	mu    sync.Mutex
	h     check.History
	tr    *trace.Trace
	stats Stats
	start time.Time
	sched []Step // the faults the nemesis executed

	mon   *check.Monitor    // in-run invariants
	inRun []check.Violation // what mon found, as it found it

	g      check.GroupHistory
	gReach map[int32]int64 // per partition: the highest offset the group consumed

	txn check.TxnHistory // the transactional workload (txn.go)
	eos check.EOSHistory // the consume-transform-produce pipeline (eos.go)
}

func newRecorder(tr *trace.Trace, singleReplica bool) *recorder {
	return &recorder{tr: tr, start: time.Now(), mon: check.NewMonitor(singleReplica),
		g: check.GroupHistory{Members: map[int]bool{}}, gReach: map[int32]int64{}}
}

func now() int64 { return time.Now().UnixNano() }

func (r *recorder) add(op check.Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Add(op)
	var first uint64
	if len(op.Records) > 0 {
		first = uint64(op.Records[0].Offset)<<32 | uint64(len(op.Records))
	}
	r.tr.Record(trace.ClientRes, uint64(op.Process)<<32|uint64(op.Partition),
		uint64(op.Kind)<<8|uint64(op.Result), uint64(op.Value)^uint64(op.Offset)<<40^first)
	if op.Result == check.OK {
		if op.Kind == check.Send {
			r.inRunLocked(r.mon.Observe(op.Partition, op.Offset, op.Value,
				fmt.Sprintf("an acknowledged send of process %d at %v", op.Process, time.Duration(op.Return))))
		}
		for _, rec := range op.Records {
			r.inRunLocked(r.mon.Observe(op.Partition, rec.Offset, rec.Value,
				fmt.Sprintf("a %s of process %d at %v", op.Kind, op.Process, time.Duration(op.Return))))
		}
	}
	if op.Kind == check.Poll && r.g.Members[op.Process] {
		r.stats.Consumed += len(op.Records)
		for _, rec := range op.Records {
			if reach, ok := r.gReach[op.Partition]; !ok || rec.Offset > reach {
				r.gReach[op.Partition] = rec.Offset
			}
		}
	}
	switch op.Kind {
	case check.Send:
		r.stats.Sends++
		switch op.Result {
		case check.OK:
			r.stats.Acked++
		default:
			r.stats.Failed++
		}
	case check.Poll:
		switch {
		case op.Final:
			r.stats.FinalRead += len(op.Records)
		case r.g.Members[op.Process]:
		default:
			r.stats.Polled += len(op.Records)
		}
	default:
		r.stats.Observed++
	}
}

func (r *recorder) acked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats.Acked
}

// client returns a franz-go client dialling from host over the simnet.
func (w *workload) client(host string, extra ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(w.clientOpts(host, extra...)...)
}

// clientOpts are a client's options: dialling from host over the simnet,
// with the workload's timeouts, then extra.
func (w *workload) clientOpts(host string, extra ...kgo.Opt) []kgo.Opt {
	nd := w.c.net.Node(host)
	opts := []kgo.Opt{
		kgo.SeedBrokers(w.c.seeds()...),
		kgo.Dialer(nd.DialContext),
		kgo.DialTimeout(2 * time.Second),
		kgo.RequestTimeoutOverhead(2 * time.Second),
		kgo.RetryTimeout(5 * time.Second),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.MetadataMaxAge(2 * time.Second),
		kgo.ConnIdleTimeout(20 * time.Second),
	}
	return append(opts, extra...)
}

// workload is the clients of one run.
type workload struct {
	c   *cluster
	rec *recorder
	sc  Scenario
	rng *rand.Rand // workload decisions only; drawn from one goroutine each
	// replay: the nemesis runs schedule instead of drawing faults.
	replay   bool
	schedule []Step
	// sample runs the in-run invariants on every live broker.
	sample func()
}

// producer sends unique values to random partitions until ctx ends, then
// waits for every outstanding send to complete.
func (w *workload) producer(ctx context.Context, proc int, seed uint64) {
	cl, err := w.client("p"+strconv.Itoa(proc),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProduceRequestTimeout(3*time.Second),
		kgo.RecordDeliveryTimeout(8*time.Second),
		kgo.ProducerLinger(w.sc.ClientLinger),
		kgo.MaxBufferedRecords(w.sc.InFlightMax))
	if err != nil {
		w.c.fail("client", err.Error())
		return
	}
	rng := rand.New(rand.NewPCG(seed, uint64(proc)))
	slots := make(chan struct{}, w.sc.InFlightMax)
	var seq int64
	for ctx.Err() == nil {
		sleepCtx(ctx, w.sc.SendEvery/2+time.Duration(rng.Int64N(int64(w.sc.SendEvery))))
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		seq++
		val := int64(proc)*1_000_000_000 + seq
		part := int32(rng.IntN(int(w.sc.Partitions)))
		call := now()
		w.rec.tr.Record(trace.ClientOp, uint64(proc), uint64(check.Send), uint64(val))
		rec := &kgo.Record{Partition: part, Value: []byte(strconv.FormatInt(val, 10))}
		cl.Produce(context.Background(), rec, func(r *kgo.Record, err error) {
			op := check.Op{Process: proc, Kind: check.Send, Result: check.OK, Partition: part, Value: val,
				Offset: r.Offset, Call: call, Return: now()}
			if err != nil {
				op.Result, op.Offset = check.Info, -1
			}
			w.rec.add(op)
			<-slots
		})
	}
	// Give outstanding sends time to complete, then fail the rest (Close
	// fails buffered records, calling their callbacks) and wait for them all.
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	cl.Flush(fctx)
	cancel()
	cl.Close()
	for i := 0; i < cap(slots); i++ {
		slots <- struct{}{}
	}
}

// consumer reads every partition from the start, as one Jepsen process.
func (w *workload) consumer(ctx context.Context, proc int, final bool, until map[int32]int64) bool {
	parts := map[int32]kgo.Offset{}
	for p := int32(0); p < w.sc.Partitions; p++ {
		parts[p] = kgo.NewOffset().At(0)
	}
	host := "k" + strconv.Itoa(proc)
	if final {
		host = "f" + strconv.Itoa(proc)
	}
	cl, err := w.client(host, append(w.sc.readOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchMaxWait(w.sc.fetchWait()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		w.c.fail("client", err.Error())
		return false
	}
	defer cl.Close()
	next := map[int32]int64{}
	first := map[int32]bool{}
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			op := check.Op{Process: proc, Kind: check.Poll, Result: check.OK, Partition: fp.Partition,
				Call: now(), Return: now(), Final: final, Reset: !first[fp.Partition]}
			first[fp.Partition] = true
			for _, r := range fp.Records {
				op.Records = append(op.Records, check.Record{Offset: r.Offset, Value: parseVal(r.Value)})
				next[fp.Partition] = r.Offset + 1
			}
			w.rec.add(op)
		})
		if final && reached(next, until) {
			return true
		}
	}
	return final && reached(next, until)
}

func reached(next, until map[int32]int64) bool {
	for p, end := range until {
		if next[p] < end {
			return false
		}
	}
	return true
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// parseVal reads a record's value, a decimal number as the producers
// write it; anything else is check.Unparseable (check.CorruptReads flags
// it).
func parseVal(b []byte) int64 {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || v < 0 {
		return check.Unparseable
	}
	return v
}
