package runner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/jocko/jocko/sim/check"
	"github.com/jocko/jocko/sim/trace"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const groupName = "jepsen-group"

// groupProcBase numbers group members: 401, 402, ... (churned members get
// the next numbers); each dials from its own host g401, g402, ...
const groupProcBase = 400

// addGroup records a group event, folding it into the trace hash.
func (r *recorder) addGroup(e check.GroupEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.g.Add(e)
	var sum uint64
	for _, p := range e.Partitions {
		sum = sum*31 + uint64(p) + 1
	}
	for _, p := range sortedParts32(e.Offsets) {
		sum = sum*31 + uint64(p)<<32 ^ uint64(e.Offsets[p])
	}
	r.tr.Record(trace.ClientRes, uint64(e.Member)<<32|uint64(e.Generation), uint64(e.Kind)<<40|uint64(e.Partition),
		sum^uint64(e.Offset)<<20)
	switch e.Kind {
	case check.Committed:
		r.stats.Commits++
	case check.Assigned:
		r.stats.Rebalance++
	}
}

func sortedParts32(m map[int32]int64) []int32 {
	out := make([]int32, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// group runs the group members until gctx ends; while wctx (the workload)
// lasts it churns them if the scenario says so.
func (w *workload) group(gctx, wctx context.Context) {
	var wg sync.WaitGroup
	type running struct {
		stop context.CancelFunc
		done chan struct{}
	}
	var members []running
	next := groupProcBase
	spawn := func() {
		next++
		proc := next
		ctx, cancel := context.WithCancel(gctx)
		done := make(chan struct{})
		w.rec.mu.Lock()
		w.rec.g.Members[proc] = true
		w.rec.mu.Unlock()
		wg.Add(1)
		go func() { defer wg.Done(); defer close(done); w.member(ctx, proc) }()
		members = append(members, running{cancel, done})
	}
	for i := 0; i < w.sc.GroupMembers; i++ {
		spawn()
	}
	if w.sc.GroupChurn[1] > 0 {
		rng := rand.New(rand.NewPCG(w.c.seed, 0x6c0c))
		for wctx.Err() == nil {
			gap := w.sc.GroupChurn[0] + time.Duration(rng.Int64N(int64(w.sc.GroupChurn[1]-w.sc.GroupChurn[0]+1)))
			sleepCtx(wctx, gap)
			if wctx.Err() != nil {
				break
			}
			i := rng.IntN(len(members))
			w.rec.tr.Logf("group: churn, member %d leaves", i)
			members[i].stop()
			<-members[i].done
			members = append(members[:i], members[i+1:]...)
			spawn()
		}
	}
	<-gctx.Done()
	wg.Wait()
}

// member is one franz-go group consumer: cooperative-sticky (franz-go's
// default), autocommit, committing on revoke; it records its assignments,
// revocations, losses (with the generation from GroupMetadata), every
// acknowledged commit, and every record it consumes. Closing it leaves the
// group (committing first).
func (w *workload) member(ctx context.Context, proc int) {
	var mu sync.Mutex
	fresh := map[int32]bool{} // assigned, not yet consumed from: the next record is where it resumed
	session := w.sc.GroupSession
	if session == 0 {
		session = 6 * time.Second
	}
	onCommit := func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil || req == nil || resp == nil {
			return
		}
		sent := map[int32]int64{}
		for _, t := range req.Topics {
			if t.Topic == topic {
				for _, p := range t.Partitions {
					sent[p.Partition] = p.Offset
				}
			}
		}
		acked := map[int32]int64{}
		for _, t := range resp.Topics {
			if t.Topic != topic {
				continue
			}
			for _, p := range t.Partitions {
				if o, ok := sent[p.Partition]; ok && p.ErrorCode == 0 {
					acked[p.Partition] = o
				}
			}
		}
		if len(acked) > 0 {
			w.rec.addGroup(check.GroupEvent{Member: proc, Kind: check.Committed, Generation: req.Generation,
				Offsets: acked, At: now()})
		}
	}
	event := func(cl *kgo.Client, kind check.GroupKind, assigned map[string][]int32) {
		_, gen := cl.GroupMetadata()
		parts := append([]int32(nil), assigned[topic]...)
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		mu.Lock()
		for _, p := range parts {
			if kind == check.Assigned {
				fresh[p] = true
			} else {
				delete(fresh, p)
			}
		}
		mu.Unlock()
		w.rec.addGroup(check.GroupEvent{Member: proc, Kind: kind, Generation: gen, Partitions: parts, At: now()})
	}
	cl, err := w.client("g"+strconv.Itoa(proc), append(w.sc.readOpts(),
		kgo.ConsumerGroup(groupName),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(w.sc.fetchWait()),
		kgo.SessionTimeout(session),
		kgo.RebalanceTimeout(session),
		kgo.HeartbeatInterval(session/10),
		kgo.AutoCommitInterval(500*time.Millisecond),
		kgo.AutoCommitCallback(onCommit),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, m map[string][]int32) {
			event(cl, check.Assigned, m)
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			// What franz-go's default revoke does: commit everything
			// consumed, blocking, before giving the partitions up.
			cl.CommitOffsetsSync(ctx, cl.UncommittedOffsets(), onCommit)
			event(cl, check.Revoked, m)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, cl *kgo.Client, m map[string][]int32) {
			event(cl, check.Lost, m)
		}))...,
	)
	if err != nil {
		w.c.fail("client", err.Error())
		return
	}
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			mu.Lock()
			reset := fresh[fp.Partition]
			delete(fresh, fp.Partition)
			mu.Unlock()
			if reset {
				w.rec.addGroup(check.GroupEvent{Member: proc, Kind: check.Resumed, Partition: fp.Partition,
					Offset: fp.Records[0].Offset, At: now()})
			}
			op := check.Op{Process: proc, Kind: check.Poll, Result: check.OK, Partition: fp.Partition,
				Call: now(), Return: now(), Reset: reset}
			for _, r := range fp.Records {
				op.Records = append(op.Records, check.Record{Offset: r.Offset, Value: parseVal(r.Value)})
			}
			w.rec.add(op)
		})
	}
	cl.Close() // revokes everything (committing) and leaves the group
}

// groupDrain waits, after the producers stopped, until the group consumed
// every partition up to its end (or FinalRead passes).
func (w *workload) groupDrain(r *run) {
	ctx, cancel := context.WithTimeout(context.Background(), w.sc.FinalRead)
	defer cancel()
	cl, err := w.client("s2")
	if err != nil {
		r.fail("client", err.Error())
		return
	}
	defer cl.Close()
	ends := w.listEnds(ctx, cl, 302)
	for ctx.Err() == nil {
		w.rec.mu.Lock()
		done := true
		for p, end := range ends {
			if reach, ok := w.rec.gReach[p]; end > 0 && (!ok || reach < end-1) {
				done = false
			}
		}
		w.rec.mu.Unlock()
		if done && len(ends) == int(w.sc.Partitions) {
			return
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	w.rec.mu.Lock()
	reach := fmt.Sprint(w.rec.gReach)
	w.rec.mu.Unlock()
	r.fail("group-incomplete", fmt.Sprintf("the group did not consume up to the ends %v within %v (it reached %s)",
		ends, w.sc.FinalRead, reach))
}

// groupFinalOffsets fetches the group's committed offsets once every member
// has left, for the commit-regression checker.
func (w *workload) groupFinalOffsets(r *run) {
	ctx, cancel := context.WithTimeout(context.Background(), w.sc.FinalRead)
	defer cancel()
	cl, err := w.client("s3")
	if err != nil {
		r.fail("client", err.Error())
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var last error
	for ctx.Err() == nil {
		resp, err := adm.FetchOffsets(ctx, groupName)
		if err == nil {
			err = resp.Error()
		}
		if err == nil {
			offs := map[int32]int64{}
			for p := int32(0); p < w.sc.Partitions; p++ {
				offs[p] = -1
				if o, ok := resp.Lookup(topic, p); ok && o.Err == nil {
					offs[p] = o.At
				}
			}
			w.rec.addGroup(check.GroupEvent{Member: 0, Kind: check.Final, Offsets: offs, At: now()})
			return
		}
		last = err
		sleepCtx(ctx, 200*time.Millisecond)
	}
	r.fail("group-offsets", fmt.Sprintf("could not fetch the group's committed offsets: %v", last))
}
