package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/jocko/jocko/sim/check"
	"github.com/jocko/jocko/sim/trace"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The consume-transform-produce pipeline (Scenario.TxnPipeline): one
// franz-go GroupTransactSession copies every record of the workload topic
// to the same partition of eosTopic, committing the group's offsets in the
// same transactions; check.ExactlyOnce judges its output.
const (
	eosTopic = "eos-out"
	eosGroup = "eos"
	// traceEOSEnd is the trace op kind of one pipeline transaction's end.
	traceEOSEnd = 22
)

// eosSession starts the pipeline's session.
func (w *workload) eosSession(proc int) (*kgo.GroupTransactSession, error) {
	return kgo.NewGroupTransactSession(w.clientOpts(fmt.Sprintf("e%d", proc),
		kgo.TransactionalID(fmt.Sprintf("eos-%d", proc)),
		kgo.TransactionTimeout(txnTimeout),
		kgo.ConsumerGroup(eosGroup),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.SessionTimeout(6*time.Second),
		kgo.RebalanceTimeout(6*time.Second),
		kgo.FetchMaxWait(w.sc.fetchWait()),
		kgo.DefaultProduceTopic(eosTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProduceRequestTimeout(3*time.Second),
		kgo.RecordDeliveryTimeout(8*time.Second))...)
}

// eosPipeline runs the pipeline until ctx ends: poll, begin, copy each
// record to its partition of eosTopic, end with a commit. A session that
// errors is replaced (its InitProducerId fences the old one).
func (w *workload) eosPipeline(ctx context.Context, proc int) {
	sess, err := w.eosSession(proc)
	if err != nil {
		w.c.fail("client", err.Error())
		return
	}
	defer func() { sess.Close() }()
	for ctx.Err() == nil {
		fs := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		for _, fe := range fs.Errors() {
			w.rec.tr.Logf("eos %d: fetch %s/%d: %v", proc, fe.Topic, fe.Partition, fe.Err)
		}
		err := sess.Begin()
		if err == nil {
			fs.EachRecord(func(r *kgo.Record) {
				sess.Produce(ctx, &kgo.Record{Partition: r.Partition, Value: r.Value}, nil)
			})
			ectx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var committed bool
			committed, err = sess.End(ectx, kgo.TryCommit)
			cancel()
			c := uint64(0)
			if committed {
				c = 1
			}
			w.rec.tr.Record(trace.ClientRes, uint64(proc), traceEOSEnd<<8|c, uint64(fs.NumRecords()))
		}
		if err != nil {
			// Whatever failed, the session may be mid-transaction: a new
			// one fences it and starts from the committed offsets.
			w.rec.tr.Logf("eos %d: %v", proc, err)
			sess.Close()
			if sess, err = w.eosSession(proc); err != nil {
				w.c.fail("client", err.Error())
				return
			}
		}
	}
}

// eosCommitted fetches the pipeline group's committed offsets, stable
// ones only (OffsetFetch v8 with RequireStable, retried while a
// transaction holds them).
func (w *workload) eosCommitted(ctx context.Context, cl *kgo.Client) (map[int32]int64, bool) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = true
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = eosGroup
	t := kmsg.NewOffsetFetchRequestGroupTopic()
	t.Topic = topic
	for p := int32(0); p < w.sc.Partitions; p++ {
		t.Partitions = append(t.Partitions, p)
	}
	g.Topics = append(g.Topics, t)
	req.Groups = append(req.Groups, g)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
		return nil, false
	}
	out := map[int32]int64{}
	for _, rt := range resp.Groups[0].Topics {
		for _, rp := range rt.Partitions {
			if rp.ErrorCode != 0 {
				return nil, false
			}
			if rp.Offset >= 0 {
				out[rp.Partition] = rp.Offset
			}
		}
	}
	return out, true
}

// eosDrain waits, once the producers have stopped, until the pipeline's
// committed offsets reach the workload topic's ends.
func (w *workload) eosDrain(r *run) {
	ctx, cancel := context.WithTimeout(context.Background(), w.sc.FinalRead)
	defer cancel()
	cl, err := w.client("s3")
	if err != nil {
		r.fail("client", err.Error())
		return
	}
	defer cl.Close()
	ends := w.listEnds(ctx, cl, 303)
	var last map[int32]int64
	for ctx.Err() == nil {
		if c, ok := w.eosCommitted(ctx, cl); ok {
			last = c
			done := true
			for p, end := range ends {
				done = done && c[p] >= end
			}
			if done {
				return
			}
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	r.fail("eos-incomplete", fmt.Sprintf("the pipeline did not commit up to the ends %v within %v (it reached %v)", ends, w.sc.FinalRead, last))
}

// eosFinal reads the pipeline's output read_committed to its stable end
// and its group's committed offsets, and builds the EOS history with the
// workload topic's final read.
func (w *workload) eosFinal(r *run, h check.History) {
	ctx, cancel := context.WithTimeout(context.Background(), w.sc.FinalRead+2*txnTimeout)
	defer cancel()
	cl, err := w.client("g1")
	if err != nil {
		r.fail("client", err.Error())
		return
	}
	var committed, stable map[int32]int64
	for ctx.Err() == nil && (committed == nil || stable == nil) {
		if committed == nil {
			committed, _ = w.eosCommitted(ctx, cl)
		}
		if stable == nil {
			if s, ok1 := w.topicEnds(ctx, cl, eosTopic, 1); ok1 {
				if hw, ok2 := w.topicEnds(ctx, cl, eosTopic, 0); ok2 && sameEnds(s, hw) {
					stable = s
				}
			}
		}
		if committed == nil || stable == nil {
			sleepCtx(ctx, 200*time.Millisecond)
		}
	}
	cl.Close()
	if committed == nil || stable == nil {
		r.fail("final-read-incomplete", "could not read the pipeline's committed offsets and settled ends after healing")
		return
	}
	var out []check.TxnRead
	ok := w.readCommitted(ctx, 602, eosTopic, stable, func(rd check.TxnRead) { out = append(out, rd) })
	if !ok {
		r.fail("final-read-incomplete", fmt.Sprintf("did not read %s up to its stable ends %v", eosTopic, stable))
		return
	}
	input := map[int32][]check.Record{}
	for _, op := range h.Ops {
		if op.Kind == check.Poll && op.Final {
			input[op.Partition] = append(input[op.Partition], op.Records...)
		}
	}
	r.rec.mu.Lock()
	r.rec.eos = check.EOSHistory{Input: input, Output: out, Committed: committed}
	r.rec.mu.Unlock()
}

func sameEnds(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for p, v := range a {
		if b[p] != v {
			return false
		}
	}
	return true
}
