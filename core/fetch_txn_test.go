package core

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/wire"
)

// Transactions seen by consumers (KIP-98): Fetch with IsolationLevel 1
// (read_committed) stops at the last stable offset and lists the aborted
// transactions of what it returns; read_uncommitted reads to the high
// watermark; both answer the LastStableOffset; ListOffsets v2+ answers
// "latest" with the last stable offset for read_committed. The tests
// write transactional batches and markers (wire.AppendControlBatch)
// straight to the partition's log, so that they cover what consumers see
// whatever the produce path and the coordinator decide.

// txnTopicID is the ID of the tests' topic "txn".
var txnTopicID = [16]byte{0x7a}

// txnRig is a one-broker cluster with the one-partition topic "txn".
type txnRig struct {
	t  *testing.T
	b  *Broker
	p  *partition
	rc *rawConn
}

func newTxnRig(t *testing.T) *txnRig {
	t.Helper()
	tc := startTestCluster(t, 1)
	b := tc.brokers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.commit(ctx, cluster.CreateTopic{Name: "txn", ID: txnTopicID, Assignments: [][]int32{{1}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "txn-0 led here", func() bool {
		p := b.partition("txn", 0)
		return p != nil && p.isLeader()
	})
	return &txnRig{t: t, b: b, p: b.partition("txn", 0), rc: dialRaw(t, b.Addr())}
}

// txnClock stamps the tests' batches, each a second after the last.
var txnClock atomic.Int64

// txnData encodes a data batch of producer pid with one record per value:
// transactional when txn is set, plain (no producer) when pid < 0.
func txnData(t testing.TB, pid int64, seq int32, txn bool, values ...string) []byte {
	t.Helper()
	now := time.Now().UnixMilli() + txnClock.Add(1000)
	bt := wire.Batch{FirstTimestamp: now, MaxTimestamp: now, ProducerID: pid, ProducerEpoch: 0, BaseSequence: seq}
	if pid < 0 {
		bt.ProducerEpoch, bt.BaseSequence = -1, -1
	}
	if txn {
		bt.Attributes = 0x10 // transactional
	}
	for _, v := range values {
		bt.Records = append(bt.Records, wire.Record{Value: []byte(v)})
	}
	raw, err := wire.AppendBatch(nil, bt)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// txnMarker encodes the COMMIT or ABORT marker of pid's transaction.
func txnMarker(pid int64, commit bool) []byte {
	typ := wire.ControlAbort
	if commit {
		typ = wire.ControlCommit
	}
	return wire.AppendControlBatch(nil, pid, 0, typ, 0, time.Now().UnixMilli())
}

// append writes one batch to txn-0 as the leader's append path does, but
// straight to the log: the producer table and the coordinator's
// verification, which the produce path checks first, are not what these
// tests are about. It waits until the batch is below the high watermark
// and returns its first offset.
func (r *txnRig) append(raw []byte) int64 {
	r.t.Helper()
	h, err := wire.ParseBatchHeader(raw)
	if err != nil {
		r.t.Fatal(err)
	}
	r.p.mu.Lock()
	info, err := r.p.log.Append(raw, r.p.leaderEpoch.Load())
	if err == nil {
		r.p.afterAppend(int64(h.NumRecords), info.LastOffset+1)
	}
	r.p.mu.Unlock()
	if err != nil {
		r.t.Fatalf("append: %v", err)
	}
	waitFor(r.t, 10*time.Second, "the batch committed", func() bool { return r.p.highWatermark() > info.LastOffset })
	return info.FirstOffset
}

// fetchReq is a Fetch of txn-0 from offset at version v and isolation
// level iso; it waits waitMs for minBytes.
func fetchReq(v int16, iso int8, offset int64, waitMs, minBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(v)
	req.ReplicaID, req.IsolationLevel, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, iso, waitMs, minBytes, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = "txn", txnTopicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = offset, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// roundTrip sends req on the rig's raw connection and decodes the answer.
func (r *txnRig) roundTrip(req kmsg.Request, wait time.Duration) kmsg.Response {
	r.t.Helper()
	r.rc.send(req)
	frame, err := r.rc.frame(wait)
	if err != nil {
		r.t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	body := frame[4:] // correlation id
	if resp.IsFlexible() {
		body = body[1:] // empty header tags
	}
	if err := resp.ReadFrom(body); err != nil {
		r.t.Fatalf("decoding %s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

// fetched is what one Fetch of txn-0 answered.
type fetched struct {
	kmsg.FetchResponseTopicPartition
	offsets []int64  // of the data records returned
	markers []int64  // offsets of the control batches returned
	values  []string // of the data records
}

func (r *txnRig) fetch(v int16, iso int8, offset int64) fetched {
	r.t.Helper()
	resp := r.roundTrip(fetchReq(v, iso, offset, 0, 0), 10*time.Second).(*kmsg.FetchResponse)
	return r.fetchedOf(resp)
}

func (r *txnRig) fetchedOf(resp *kmsg.FetchResponse) fetched {
	r.t.Helper()
	f := fetched{FetchResponseTopicPartition: resp.Topics[0].Partitions[0]}
	if f.ErrorCode != 0 {
		r.t.Fatalf("fetch: error %d", f.ErrorCode)
	}
	data := f.RecordBatches
	for len(data) > 0 {
		h, err := wire.ParseBatchHeader(data)
		if err != nil {
			r.t.Fatal(err)
		}
		batch := data[:h.Size()]
		data = data[h.Size():]
		if h.Control() {
			f.markers = append(f.markers, h.BaseOffset)
			continue
		}
		recs, err := wire.Records(batch)
		if err != nil {
			r.t.Fatal(err)
		}
		for i, rec := range recs {
			f.offsets = append(f.offsets, h.BaseOffset+int64(i))
			f.values = append(f.values, string(rec.Value))
		}
	}
	return f
}

// aborted lists a response's aborted transactions as "pid@first".
func aborted(f fetched) []string {
	var out []string
	for _, a := range f.AbortedTransactions {
		out = append(out, strconv.FormatInt(a.ProducerID, 10)+"@"+strconv.FormatInt(a.FirstOffset, 10))
	}
	return out
}

func span(from, to int64) []int64 {
	var out []int64
	for o := from; o < to; o++ {
		out = append(out, o)
	}
	return out
}

// TestFetchReadCommittedKIP98 walks a log through an open transaction, an
// abort and a commit, fetching at each step with both isolation levels on
// Fetch v4 (the first with IsolationLevel, not flexible) and v18.
func TestFetchReadCommittedKIP98(t *testing.T) {
	r := newTxnRig(t)
	const a, b = 1000, 2000
	r.append(txnData(t, -1, -1, false, "p0", "p1")) // 0-1
	r.append(txnData(t, a, 0, true, "a2", "a3"))    // 2-3: opens a's transaction
	r.append(txnData(t, -1, -1, false, "p4"))       // 4
	r.append(txnData(t, b, 0, true, "b5"))          // 5: opens b's
	for _, v := range []int16{4, 18} {
		c := r.fetch(v, 1, 0)
		if c.HighWatermark != 6 || c.LastStableOffset != 2 || !slices.Equal(c.offsets, span(0, 2)) {
			t.Fatalf("v%d read_committed with a open from 2: hw %d lso %d offsets %v, want hw 6, lso 2, offsets 0-1",
				v, c.HighWatermark, c.LastStableOffset, c.offsets)
		}
		if c.AbortedTransactions == nil || len(c.AbortedTransactions) != 0 {
			t.Fatalf("v%d read_committed with nothing aborted: AbortedTransactions %v (nil: %t), want empty, not null",
				v, c.AbortedTransactions, c.AbortedTransactions == nil)
		}
		u := r.fetch(v, 0, 0)
		if u.HighWatermark != 6 || u.LastStableOffset != 2 || !slices.Equal(u.offsets, span(0, 6)) || u.AbortedTransactions != nil {
			t.Fatalf("v%d read_uncommitted: hw %d lso %d offsets %v aborted %v, want hw 6, lso 2 (answered at both levels), offsets 0-5, null",
				v, u.HighWatermark, u.LastStableOffset, u.offsets, u.AbortedTransactions)
		}
		if c := r.fetch(v, 1, 2); len(c.RecordBatches) != 0 || c.AbortedTransactions == nil {
			t.Fatalf("v%d read_committed at the last stable offset: %d bytes, aborted %v; want none and an empty list", v, len(c.RecordBatches), c.AbortedTransactions)
		}
		if c := r.fetch(v, 1, 4); len(c.RecordBatches) != 0 || c.ErrorCode != 0 {
			t.Fatalf("v%d read_committed between the last stable offset and the high watermark: %d bytes, error %d; want none, no error", v, len(c.RecordBatches), c.ErrorCode)
		}
	}

	r.append(txnMarker(a, false)) // 6: aborts a; b still open from 5
	c := r.fetch(18, 1, 0)
	if c.LastStableOffset != 5 || !slices.Equal(c.offsets, span(0, 5)) || !slices.Equal(aborted(c), []string{"1000@2"}) {
		t.Fatalf("after a's abort: lso %d offsets %v aborted %v; want lso 5, offsets 0-4, aborted [1000@2]", c.LastStableOffset, c.offsets, aborted(c))
	}

	r.append(txnMarker(b, true)) // 7: commits b
	for _, v := range []int16{4, 18} {
		c := r.fetch(v, 1, 0)
		if c.HighWatermark != 8 || c.LastStableOffset != 8 || !slices.Equal(c.offsets, span(0, 6)) || !slices.Equal(c.markers, []int64{6, 7}) {
			t.Fatalf("v%d after b's commit: hw %d lso %d offsets %v markers %v; want hw 8, lso 8, offsets 0-5, markers 6 and 7",
				v, c.HighWatermark, c.LastStableOffset, c.offsets, c.markers)
		}
		if !slices.Equal(aborted(c), []string{"1000@2"}) {
			t.Fatalf("v%d after b's commit: aborted %v, want [1000@2]", v, aborted(c))
		}
		// From inside a's transaction, its marker still ahead: listed.
		if c := r.fetch(v, 1, 3); !slices.Equal(aborted(c), []string{"1000@2"}) {
			t.Fatalf("v%d from offset 3: aborted %v, want [1000@2]", v, aborted(c))
		}
		// From past a's marker: not listed, and the list is empty.
		if c := r.fetch(v, 1, 7); len(c.AbortedTransactions) != 0 || c.AbortedTransactions == nil || !slices.Equal(c.markers, []int64{7}) {
			t.Fatalf("v%d from offset 7: aborted %v markers %v, want an empty list and marker 7", v, c.AbortedTransactions, c.markers)
		}
	}

	// A read_committed franz-go consumer drops a's records and the
	// markers; a read_uncommitted one keeps a's records.
	want := map[kgo.IsolationLevel][]string{
		kgo.ReadCommitted():   {"p0", "p1", "p4", "b5"},
		kgo.ReadUncommitted(): {"p0", "p1", "a2", "a3", "p4", "b5"},
	}
	for iso, values := range want {
		if got := consumeTxn(t, r.b, iso, len(values)); !slices.Equal(got, values) {
			t.Fatalf("franz-go consumer at isolation %v: %v, want %v", iso, got, values)
		}
	}
}

// consumeTxn reads txn-0 from its start with a franz-go consumer until it
// has n records, and a moment longer for any it should not have.
func consumeTxn(t *testing.T, b *Broker, iso kgo.IsolationLevel, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.FetchIsolationLevel(iso),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"txn": {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consuming: %v (have %v)", err, got)
		}
		fs.EachRecord(func(rec *kgo.Record) { got = append(got, string(rec.Value)) })
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	cl.PollFetches(ctx2).EachRecord(func(rec *kgo.Record) { got = append(got, string(rec.Value)) })
	return got
}

// TestFetchReadCommittedLongPollWakesAtCommit: a read_committed long poll
// with nothing stable to read waits, though records are there below the
// high watermark, and is answered when the transaction's COMMIT marker is
// committed, long before its wait is over.
func TestFetchReadCommittedLongPollWakesAtCommit(t *testing.T) {
	r := newTxnRig(t)
	const pid = 3000
	r.append(txnData(t, pid, 0, true, "t0", "t1")) // 0-1, open
	start := time.Now()
	r.rc.send(fetchReq(18, 1, 0, 60000, 1))
	waitFor(t, 10*time.Second, "the fetch long-polling", func() bool {
		r.p.notifyMu.Lock()
		defer r.p.notifyMu.Unlock()
		return len(r.p.watchers) > 0
	})
	r.append(txnMarker(pid, true)) // 2
	frame, err := r.rc.frame(30 * time.Second)
	if err != nil {
		t.Fatalf("the long poll was not answered after the commit: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("answered after %v: the commit did not wake the poll", d)
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(18)
	if err := resp.ReadFrom(frame[5:]); err != nil {
		t.Fatal(err)
	}
	f := r.fetchedOf(resp)
	if !slices.Equal(f.values, []string{"t0", "t1"}) || f.LastStableOffset != 3 {
		t.Fatalf("woken fetch: values %v lso %d, want [t0 t1] and lso 3", f.values, f.LastStableOffset)
	}
}

// TestListOffsetsReadCommitted: ListOffsets v2+ with IsolationLevel 1
// answers "latest" with the last stable offset and bounds timestamp
// lookups by it; read_uncommitted and v1 answer the high watermark.
func TestListOffsetsReadCommitted(t *testing.T) {
	r := newTxnRig(t)
	const pid = 4000
	r.append(txnData(t, -1, -1, false, "p0"))      // 0
	r.append(txnData(t, pid, 0, true, "t1", "t2")) // 1-2, open
	list := func(v int16, iso int8, ts int64) int64 {
		t.Helper()
		req := kmsg.NewPtrListOffsetsRequest()
		req.SetVersion(v)
		req.ReplicaID, req.IsolationLevel = -1, iso
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "txn"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.CurrentLeaderEpoch = ts, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		pr := r.roundTrip(req, 10*time.Second).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if pr.ErrorCode != 0 {
			t.Fatalf("ListOffsets v%d isolation %d timestamp %d: error %d", v, iso, ts, pr.ErrorCode)
		}
		return pr.Offset
	}
	for _, c := range []struct {
		v    int16
		iso  int8
		ts   int64
		want int64
	}{
		{1, 0, -1, 3}, {2, 0, -1, 3}, {11, 0, -1, 3},
		{2, 1, -1, 1}, {11, 1, -1, 1},
		{11, 1, -3, -1}, {11, 0, -3, 1}, // the largest timestamp: the open batch's, past the stable offset
		{11, 1, -2, 0},
	} {
		if got := list(c.v, c.iso, c.ts); got != c.want {
			t.Errorf("ListOffsets v%d isolation %d timestamp %d: %d, want %d", c.v, c.iso, c.ts, got, c.want)
		}
	}
	r.append(txnMarker(pid, true)) // 3
	if got := list(11, 1, -1); got != 4 {
		t.Fatalf("after the commit, read_committed latest: %d, want 4", got)
	}
}

// TestFollowerReadsPastLastStableOffset: a follower replicates an open
// transaction's records (it fetches to the log end, not the last stable
// offset) and tracks the transaction as the leader does.
func TestFollowerReadsPastLastStableOffset(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two brokers")
	}
	tc := startTestCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tc.brokers[0].commit(ctx, cluster.CreateTopic{Name: "txn", ID: txnTopicID, Assignments: [][]int32{{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	leader, follower := tc.byID(1), tc.byID(2)
	waitFor(t, 20*time.Second, "txn-0 led by broker 1 and followed by 2", func() bool {
		p, f := leader.partition("txn", 0), follower.partition("txn", 0)
		return p != nil && p.isLeader() && f != nil
	})
	r := &txnRig{t: t, b: leader, p: leader.partition("txn", 0)}
	r.append(txnData(t, -1, -1, false, "p0"))       // 0
	r.append(txnData(t, 5000, 0, true, "t1", "t2")) // 1-2, open
	f := follower.partition("txn", 0)
	waitFor(t, 20*time.Second, "the follower has the open transaction", func() bool { return f.log.EndOffset() == 3 })
	if got := f.log.LastStableOffset(f.log.EndOffset()); got != 1 {
		t.Fatalf("follower's last stable offset %d, want 1 (the open transaction's first offset)", got)
	}
}

// pollValues polls cl until it has n record values or d has passed.
func pollValues(t *testing.T, cl *kgo.Client, n int, d time.Duration) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var got []string
	for len(got) < n && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(topic string, part int32, err error) {
			if ctx.Err() == nil {
				t.Fatalf("consuming %s-%d: %v", topic, part, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// TestReadCommittedFranzGoTransactions (KIP-98 end to end): records of a
// franz-go transaction reach a read_uncommitted consumer at once and a
// read_committed one only at the commit; an aborted transaction's never
// reach the read_committed one.
func TestReadCommittedFranzGoTransactions(t *testing.T) {
	tc := startTestCluster(t, 1)
	b := tc.brokers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := kadm.NewClient(admin).CreateTopic(ctx, 1, -1, nil, "rc"); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("rc-1"), kgo.DefaultProduceTopic("rc"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	consumer := func(iso kgo.IsolationLevel) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.FetchIsolationLevel(iso),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"rc": {0: kgo.NewOffset().AtStart()}}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	committed, uncommitted := consumer(kgo.ReadCommitted()), consumer(kgo.ReadUncommitted())
	produce := func(values ...string) {
		t.Helper()
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	end := func(commit kgo.TransactionEndTry) {
		t.Helper()
		if err := prod.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}

	produce("a0", "a1")
	if got := pollValues(t, uncommitted, 2, 20*time.Second); !slices.Equal(got, []string{"a0", "a1"}) {
		t.Fatalf("read_uncommitted during the transaction: %v, want [a0 a1]", got)
	}
	p := b.partition("rc", 0)
	if hw, lso := p.highWatermark(), p.log.LastStableOffset(p.highWatermark()); hw != 2 || lso != 0 {
		t.Fatalf("during the transaction: high watermark %d, last stable offset %d; want 2 and 0", hw, lso)
	}
	if got := pollValues(t, committed, 1, 500*time.Millisecond); len(got) != 0 {
		t.Fatalf("read_committed during the transaction: %v, want nothing", got)
	}
	end(kgo.TryAbort)
	produce("c0", "c1")
	end(kgo.TryCommit)
	if got := pollValues(t, committed, 2, 20*time.Second); !slices.Equal(got, []string{"c0", "c1"}) {
		t.Fatalf("read_committed after an abort and a commit: %v, want [c0 c1]", got)
	}
	if got := pollValues(t, uncommitted, 2, 20*time.Second); !slices.Equal(got, []string{"c0", "c1"}) {
		t.Fatalf("read_uncommitted after the commit: %v, want [c0 c1]", got)
	}
}
