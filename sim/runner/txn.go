package runner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jocko/jocko/sim/check"
	"github.com/jocko/jocko/sim/trace"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnTopic is the transactional workload's topic.
const txnTopic = "txn"

// txnTimeout is the producers' transaction.timeout.ms: a transaction left
// open by a crash is aborted by the coordinator this long after it began.
const txnTimeout = 6 * time.Second

// Trace op kinds of the transactional workload (beyond check.Kind's).
const (
	traceTxnEnd  = 20
	traceTxnRead = 21
)

func (r *recorder) addTxn(t check.Txn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.txn.Txns = append(r.txn.Txns, t)
	r.stats.Txns++
	if t.Result == check.OK {
		r.stats.TxnOK++
	}
	commit := uint64(0)
	if t.Commit {
		commit = 1
	}
	var first uint64
	if len(t.Values) > 0 {
		first = uint64(t.Values[0])
	}
	r.tr.Record(trace.ClientRes, uint64(t.Process), traceTxnEnd<<8|uint64(t.Result)|commit<<16, first^uint64(len(t.Values))<<48)
}

func (r *recorder) addTxnRead(rd check.TxnRead) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.txn.Reads = append(r.txn.Reads, rd)
	r.stats.TxnRead += len(rd.Records)
	var first uint64
	if len(rd.Records) > 0 {
		first = uint64(rd.Records[0].Offset)<<32 | uint64(len(rd.Records))
	}
	r.tr.Record(trace.ClientRes, uint64(rd.Process)<<32|uint64(rd.Partition), traceTxnRead<<8, first)
}

func (r *recorder) txnHistory() check.TxnHistory {
	r.mu.Lock()
	defer r.mu.Unlock()
	return check.TxnHistory{Txns: append([]check.Txn(nil), r.txn.Txns...),
		Reads: append([]check.TxnRead(nil), r.txn.Reads...), Hanging: append([]string(nil), r.txn.Hanging...)}
}

// txnClient is a transactional producer client for process proc.
func (w *workload) txnClient(proc int) (*kgo.Client, error) {
	return w.client("t"+strconv.Itoa(proc),
		kgo.TransactionalID("tx-"+strconv.Itoa(proc)),
		kgo.TransactionTimeout(txnTimeout),
		kgo.DefaultProduceTopic(txnTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProduceRequestTimeout(3*time.Second),
		kgo.RecordDeliveryTimeout(8*time.Second),
		kgo.ProducerLinger(w.sc.ClientLinger))
}

// txnProducer runs transactions until ctx ends: each sends 1-4 unique
// values to random partitions, then commits (three times in four) or
// aborts. A transaction whose send fails is aborted. Every end is
// recorded: OK when EndTransaction succeeded, Info otherwise, after
// which the client is replaced (its InitProducerId fences the old epoch,
// so the coordinator settles whatever was left).
func (w *workload) txnProducer(ctx context.Context, proc int, seed uint64) {
	cl, err := w.txnClient(proc)
	if err != nil {
		w.c.fail("client", err.Error())
		return
	}
	defer func() { cl.Close() }()
	rng := rand.New(rand.NewPCG(seed, uint64(proc)))
	var seq int64
	for ctx.Err() == nil {
		sleepCtx(ctx, w.sc.SendEvery/2+time.Duration(rng.Int64N(int64(w.sc.SendEvery))))
		if ctx.Err() != nil {
			break
		}
		if err := cl.BeginTransaction(); err != nil {
			w.rec.tr.Logf("txn %d: begin: %v", proc, err)
			cl.Close()
			if cl, err = w.txnClient(proc); err != nil {
				w.c.fail("client", err.Error())
				return
			}
			continue
		}
		t := check.Txn{Process: proc, Commit: rng.IntN(4) != 0, Result: check.Info}
		n := 1 + rng.IntN(4)
		failed := false
		for range n {
			seq++
			val := int64(proc)*1_000_000_000 + seq
			t.Values = append(t.Values, val)
			part := int32(rng.IntN(int(w.sc.Partitions)))
			w.rec.tr.Record(trace.ClientOp, uint64(proc), uint64(check.Send), uint64(val))
			pctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			err := cl.ProduceSync(pctx, &kgo.Record{Partition: part, Value: []byte(strconv.FormatInt(val, 10))}).FirstErr()
			cancel()
			if err != nil {
				failed = true
				break
			}
		}
		end := kgo.TryCommit
		if failed || !t.Commit {
			t.Commit, end = false, kgo.TryAbort
			actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = cl.AbortBufferedRecords(actx)
			cancel()
		}
		ectx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := cl.EndTransaction(ectx, end)
		cancel()
		if err == nil {
			t.Result = check.OK
		}
		w.rec.addTxn(t)
		if err != nil {
			w.rec.tr.Logf("txn %d: end (commit %v): %v", proc, t.Commit, err)
			cl.Close()
			if cl, err = w.txnClient(proc); err != nil {
				w.c.fail("client", err.Error())
				return
			}
		}
	}
}

// txnConsumer reads every partition of the txn topic read_committed from
// the start until ctx ends (final: until every partition reaches until).
func (w *workload) txnConsumer(ctx context.Context, proc int, final bool, until map[int32]int64) bool {
	return w.readCommitted(ctx, proc, txnTopic, until, func(rd check.TxnRead) {
		rd.Final = final
		w.rec.addTxnRead(rd)
	})
}

// readCommitted reads every partition of name read_committed from the
// start, handing each poll's records of a partition to got, until ctx ends
// or, with until set, every partition reaches it (it reports whether).
func (w *workload) readCommitted(ctx context.Context, proc int, name string, until map[int32]int64, got func(check.TxnRead)) bool {
	parts := map[int32]kgo.Offset{}
	for p := int32(0); p < w.sc.Partitions; p++ {
		parts[p] = kgo.NewOffset().At(0)
	}
	cl, err := w.client("r"+strconv.Itoa(proc),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{name: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(w.sc.fetchWait()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		w.c.fail("client", err.Error())
		return false
	}
	defer cl.Close()
	next := map[int32]int64{}
	for ctx.Err() == nil {
		if until != nil && reached(next, until) {
			return true
		}
		fs := cl.PollFetches(ctx)
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			rd := check.TxnRead{Process: proc, Partition: fp.Partition}
			for _, r := range fp.Records {
				// Markers are kept (KeepControlRecords) only to tell how
				// far the read got: a partition may end with one.
				next[fp.Partition] = r.Offset + 1
				if !r.Attrs.IsControl() {
					rd.Records = append(rd.Records, check.Record{Offset: r.Offset, Value: parseVal(r.Value)})
				}
			}
			if len(rd.Records) > 0 {
				got(rd)
			}
		})
	}
	return until != nil && reached(next, until)
}

// topicEnds lists each partition of topic name's end at isolation level
// iso (0: the high watermark, 1: the last stable offset).
func (w *workload) topicEnds(ctx context.Context, cl *kgo.Client, name string, iso int8) (map[int32]int64, bool) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID, req.IsolationLevel = -1, iso
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = name
	for p := int32(0); p < w.sc.Partitions; p++ {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	shards := cl.RequestSharded(ctx, req)
	ends := map[int32]int64{}
	for _, sh := range shards {
		if sh.Err != nil {
			return nil, false
		}
		for _, t := range sh.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return nil, false
				}
				ends[p.Partition] = p.Offset
			}
		}
	}
	return ends, len(ends) == int(w.sc.Partitions)
}

// txnFinalRead waits until no transaction is open on the txn topic (the
// coordinator aborts those a crash left, after their timeout), then reads
// every partition read_committed to its stable end. A partition whose
// last stable offset stays below its high watermark is hanging.
func (w *workload) txnFinalRead(r *run) {
	ctx, cancel := context.WithTimeout(context.Background(), w.sc.FinalRead+2*txnTimeout)
	defer cancel()
	cl, err := w.client("g0")
	if err != nil {
		r.fail("client", err.Error())
		return
	}
	var stable, hw map[int32]int64
	for ctx.Err() == nil {
		s, ok1 := w.topicEnds(ctx, cl, txnTopic, 1)
		h, ok2 := w.topicEnds(ctx, cl, txnTopic, 0)
		if ok1 && ok2 {
			stable, hw = s, h
			settled := true
			for p, end := range hw {
				settled = settled && stable[p] == end
			}
			if settled {
				break
			}
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	cl.Close()
	if stable == nil {
		r.fail("final-read-incomplete", "could not list the txn topic's ends after healing")
		return
	}
	if ctx.Err() != nil {
		var hanging []string
		for p := int32(0); p < w.sc.Partitions; p++ {
			if stable[p] != hw[p] {
				hanging = append(hanging, fmt.Sprintf("%s p%d: last stable offset %d, high watermark %d, %v after healing",
					txnTopic, p, stable[p], hw[p], w.sc.FinalRead+2*txnTimeout))
			}
		}
		r.rec.mu.Lock()
		r.rec.txn.Hanging = hanging
		r.rec.mu.Unlock()
	}
	w.debugDumpTxn(stable)
	rctx, rcancel := context.WithTimeout(context.Background(), w.sc.FinalRead)
	defer rcancel()
	if !w.txnConsumer(rctx, 601, true, stable) {
		r.fail("final-read-incomplete", fmt.Sprintf("did not read the txn topic up to its stable ends %v within %v", stable, w.sc.FinalRead))
	}
}

// debugDumpTxn logs the txn topic read_uncommitted (temporary debugging).
func (w *workload) debugDumpTxn(stable map[int32]int64) {
	parts := map[int32]kgo.Offset{}
	for p := int32(0); p < w.sc.Partitions; p++ {
		parts[p] = kgo.NewOffset().At(0)
	}
	cl, err := w.client("dbg", kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{txnTopic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()), kgo.KeepControlRecords())
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	next := map[int32]int64{}
	for ctx.Err() == nil && !reached(next, stable) {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			w.rec.tr.Logf("DUMP p%d off %d pid %d epoch %d ctrl %v txn %v key %x val %s", r.Partition, r.Offset, r.ProducerID, r.ProducerEpoch, r.Attrs.IsControl(), r.Attrs.IsTransactional(), r.Key, r.Value)
		})
	}
}
