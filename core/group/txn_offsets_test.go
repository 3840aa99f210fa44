package group

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// txnTester is a tester that also keeps the partition's log as the shell
// writes it: the records of every Output, and the markers the transaction
// coordinator writes between them.
type txnTester struct {
	*tester
	log  []logEntry
	seen int // x.records already in log
}

// logEntry is one record, or a marker when marker is set.
type logEntry struct {
	rec    Record
	marker bool
	pid    int64
	commit bool
}

func newTxnTester(t tb) *txnTester { return &txnTester{tester: newTester(t, testConfig())} }

func (x *txnTester) catchUp() {
	for ; x.seen < len(x.records); x.seen++ {
		x.log = append(x.log, logEntry{rec: x.records[x.seen]})
	}
}

func txnReq(version int16, pid int64, member string, gen int32, topic string, partition int32, offset int64) *kmsg.TxnOffsetCommitRequest {
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.Version = version
	r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch = "tx", testGroup, pid, 3
	r.MemberID, r.Generation = member, gen
	t := kmsg.NewTxnOffsetCommitRequestTopic()
	t.Topic = topic
	p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset = partition, offset
	md := "txn"
	p.Metadata = &md
	t.Partitions = []kmsg.TxnOffsetCommitRequestTopicPartition{p}
	r.Topics = []kmsg.TxnOffsetCommitRequestTopic{t}
	return r
}

// txnCommit sends req and returns the first partition's code.
func (x *txnTester) txnCommit(req *kmsg.TxnOffsetCommitRequest) int16 {
	x.t.Helper()
	h := x.handle()
	x.take(x.gs.TxnCommit(x.now, h, req))
	x.catchUp()
	return x.replies[h].(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
}

// marker writes producer pid's marker to the log and tells the groups.
func (x *txnTester) marker(pid int64, commit bool) {
	x.t.Helper()
	x.catchUp()
	x.log = append(x.log, logEntry{marker: true, pid: pid, commit: commit})
	x.take(x.gs.TxnCompleted(x.now, pid, commit))
	x.catchUp()
}

func (x *txnTester) plainCommit(topic string, partition int32, offset int64) {
	x.t.Helper()
	if ec := x.commit(commitReq(8, "", -1, topic, partition, offset)); ec != 0 {
		x.t.Fatalf("commit: %v", kerr.ErrorForCode(ec))
	}
	x.catchUp()
}

// fetch returns the offset and code of g's topic-partition.
func fetch(gs *Groups, topic string, partition int32, stable bool) (int64, int16) {
	r := gs.FetchOffsets(fetchReq(testGroup, map[string][]int32{topic: {partition}}), stable)
	p := r.Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

// replay loads x.log the way the shell does: plain batches to Apply,
// transactional ones to ApplyTxn, markers to ApplyMarker.
func (x *txnTester) replay() *Groups {
	x.t.Helper()
	x.catchUp()
	l := NewLoader(testConfig(), &seqIDs{})
	for i, e := range x.log {
		var err error
		switch {
		case e.marker:
			l.ApplyMarker(e.pid, e.commit)
		case e.rec.Txn != nil:
			err = l.ApplyTxn(e.rec.Txn.ProducerID, e.rec.Key, e.rec.Value)
		default:
			err = l.Apply(e.rec.Key, e.rec.Value)
		}
		if err != nil {
			x.t.Fatalf("log entry %d: %v", i, err)
		}
	}
	return l.Done(0)
}

type txnGroupView struct {
	groupView
	Pending map[int64]map[TopicPartition]Offset
}

func txnViews(gs *Groups) map[string]txnGroupView {
	out := map[string]txnGroupView{}
	for _, id := range gs.IDs() {
		g := gs.Get(id)
		out[id] = txnGroupView{view(g), g.PendingOffsets()}
	}
	return out
}

// TxnOffsetCommit (KIP-98): the offsets are pending, written in a
// transactional batch of the producer, until its COMMIT marker; OffsetFetch
// shows the committed offset meanwhile, and with RequireStable (v7+) answers
// UNSTABLE_OFFSET_COMMIT with offset -1.
func TestTxnCommitVisibleAfterCommitMarker(t *testing.T) {
	x := newTxnTester(t)
	x.plainCommit("t", 0, 5)
	h := x.handle()
	out := x.gs.TxnCommit(x.now, h, txnReq(3, 7, "", -1, "t", 0, 10))
	x.take(out)
	if len(out.Records) != 1 || out.Records[0].Txn == nil || *out.Records[0].Txn != (Txn{ProducerID: 7, ProducerEpoch: 3}) {
		t.Fatalf("records %+v: want one record of producer 7 at epoch 3", out.Records)
	}
	if ec := x.replies[h].(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; ec != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(ec))
	}
	if off, ec := fetch(x.gs, "t", 0, false); off != 5 || ec != 0 {
		t.Fatalf("before the marker: offset %d code %d, want the committed 5", off, ec)
	}
	if off, ec := fetch(x.gs, "t", 0, true); off != -1 || ec != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("RequireStable before the marker: offset %d code %d, want -1 UNSTABLE_OFFSET_COMMIT", off, ec)
	}
	if off, ec := fetch(x.gs, "t", 1, true); off != -1 || ec != 0 {
		t.Fatalf("RequireStable of another partition: offset %d code %d", off, ec)
	}
	x.marker(8, true) // another producer's marker changes nothing
	if off, ec := fetch(x.gs, "t", 0, true); ec != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("after another producer's marker: offset %d code %d", off, ec)
	}
	x.marker(7, true)
	for _, stable := range []bool{false, true} {
		if off, ec := fetch(x.gs, "t", 0, stable); off != 10 || ec != 0 {
			t.Fatalf("after COMMIT (stable %v): offset %d code %d, want 10", stable, off, ec)
		}
	}
	if md := x.group().Offsets()[TopicPartition{"t", 0}].Metadata; md != "txn" {
		t.Fatalf("metadata %q", md)
	}
}

// An ABORT marker drops the pending offsets; the committed one stays.
func TestTxnCommitDroppedByAbortMarker(t *testing.T) {
	x := newTxnTester(t)
	x.plainCommit("t", 0, 5)
	if ec := x.txnCommit(txnReq(0, 7, "", -1, "t", 0, 10)); ec != 0 {
		t.Fatal(kerr.ErrorForCode(ec))
	}
	x.marker(7, false)
	if off, ec := fetch(x.gs, "t", 0, true); off != 5 || ec != 0 {
		t.Fatalf("after ABORT: offset %d code %d, want 5", off, ec)
	}
	if p := x.group().PendingOffsets(); len(p) != 0 {
		t.Fatalf("pending after ABORT: %v", p)
	}
	// A simple group the abort leaves with nothing goes, as a reload
	// would not find it.
	x2 := newTxnTester(t)
	x2.txnCommit(txnReq(3, 7, "", -1, "t", 0, 10))
	x2.marker(7, false)
	if g := x2.group(); g != nil {
		t.Fatalf("an empty group after ABORT: %v", g.State())
	}
}

// Kafka's replayEndTransactionMarker: of a transactional and a plain commit
// of one partition, the record later in the log wins, whenever the marker
// comes; of two transactions, the later record too.
func TestTxnCommitLaterRecordWins(t *testing.T) {
	x := newTxnTester(t)
	x.txnCommit(txnReq(3, 7, "", -1, "t", 0, 10))
	x.plainCommit("t", 0, 20) // after the transaction's record
	x.marker(7, true)
	if off, _ := fetch(x.gs, "t", 0, false); off != 20 {
		t.Fatalf("plain commit after the transaction's: %d, want 20", off)
	}
	x.plainCommit("t", 1, 30)
	x.txnCommit(txnReq(3, 8, "", -1, "t", 1, 40)) // after the plain one
	x.marker(8, true)
	if off, _ := fetch(x.gs, "t", 1, false); off != 40 {
		t.Fatalf("transaction after the plain commit: %d, want 40", off)
	}
	x.txnCommit(txnReq(3, 1, "", -1, "t", 2, 50))
	x.txnCommit(txnReq(3, 2, "", -1, "t", 2, 60))
	x.marker(2, true)
	x.marker(1, true) // its record is older than the committed one's
	if off, _ := fetch(x.gs, "t", 2, false); off != 60 {
		t.Fatalf("two transactions, the older completing last: %d, want 60", off)
	}
	if got, want := txnViews(x.replay()), txnViews(x.gs); !reflect.DeepEqual(got, want) {
		t.Fatalf("reloaded:\n%+v\nwant:\n%+v", got, want)
	}
}

// TxnOffsetCommit is validated as Kafka 4's ClassicGroup with
// isTransactional: the member and generation (v3+) when given, not the
// group state.
func TestTxnCommitValidation(t *testing.T) {
	x := newTxnTester(t)
	ids := x.stableGroup(2, "t")
	gen := x.group().Generation()
	tests := []struct {
		name string
		req  *kmsg.TxnOffsetCommitRequest
		want error
	}{
		{"member of the generation", txnReq(3, 7, ids[1], gen, "t", 0, 1), nil},
		{"old generation", txnReq(3, 7, ids[1], gen-1, "t", 0, 1), kerr.IllegalGeneration},
		{"unknown member", txnReq(3, 7, "nobody", gen, "t", 0, 1), kerr.UnknownMemberID},
		{"generation without member", txnReq(3, 7, "", gen, "t", 0, 1), kerr.UnknownMemberID},
		{"v0 without member or generation", txnReq(0, 7, "", -1, "t", 0, 1), nil},
		{"no producer", txnReq(3, -1, ids[1], gen, "t", 0, 1), kerr.InvalidProducerIDMapping},
	}
	for _, tt := range tests {
		if ec := x.txnCommit(tt.req); ec != code(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, kerr.ErrorForCode(ec), tt.want)
		}
	}
	unknown := txnReq(3, 7, "m", 1, "t", 0, 1)
	unknown.Group = "unknown"
	if ec := x.txnCommit(unknown); ec != kerr.IllegalGeneration.Code {
		t.Errorf("unknown group with a generation: %v", kerr.ErrorForCode(ec))
	}
	unknown.MemberID, unknown.Generation = "", -1
	if ec := x.txnCommit(unknown); ec != 0 || x.gs.Get("unknown") == nil {
		t.Errorf("unknown group, generation -1: %v, group %v", kerr.ErrorForCode(ec), x.gs.Get("unknown"))
	}
	unknown.Group = ""
	if ec := x.txnCommit(unknown); ec != kerr.InvalidGroupID.Code {
		t.Errorf("empty group id: %v", kerr.ErrorForCode(ec))
	}
	big := txnReq(3, 7, ids[1], gen, "t", 0, 1)
	md := strings.Repeat("m", x.gs.cfg.MetadataBytesMax+1)
	big.Topics[0].Partitions[0].Metadata = &md
	if ec := x.txnCommit(big); ec != kerr.OffsetMetadataTooLarge.Code {
		t.Errorf("metadata too large: %v", kerr.ErrorForCode(ec))
	}

	// Between join and sync an OffsetCommit is REBALANCE_IN_PROGRESS; a
	// TxnOffsetCommit is taken (the state is not enforced).
	x.join(joinReq(ids[0], nil, "t"))
	x.join(joinReq(ids[1], nil, "t"))
	x.settle()
	if x.group().State() != CompletingRebalance {
		t.Fatalf("state %v, want CompletingRebalance", x.group().State())
	}
	gen = x.group().Generation()
	if ec := x.commit(commitReq(8, ids[1], gen, "t", 0, 2)); ec != kerr.RebalanceInProgress.Code {
		t.Fatalf("OffsetCommit in CompletingRebalance: %v", kerr.ErrorForCode(ec))
	}
	if ec := x.txnCommit(txnReq(3, 7, ids[1], gen, "t", 0, 2)); ec != 0 {
		t.Fatalf("TxnOffsetCommit in CompletingRebalance: %v", kerr.ErrorForCode(ec))
	}
}

// A static member's instance id must map to the member id given.
func TestTxnCommitFencedInstance(t *testing.T) {
	x := newTxnTester(t)
	ids := x.staticAndDynamic("i1") // the static member's id, its stale one, the dynamic one
	inst := "i1"
	req := txnReq(3, 7, ids[1], x.group().Generation(), "t", 0, 1)
	req.InstanceID = &inst
	if ec := x.txnCommit(req); ec != kerr.FencedInstanceID.Code {
		t.Fatalf("the static member's stale id: %v", kerr.ErrorForCode(ec))
	}
	req.MemberID = ids[0]
	if ec := x.txnCommit(req); ec != 0 {
		t.Fatalf("the static member: %v", kerr.ErrorForCode(ec))
	}
}

// Expiry keeps an offset with a pending one and a group with an open
// transaction (Kafka's cleanupExpiredOffsets); once the transaction ends
// they expire as usual.
func TestTxnCommitExpiry(t *testing.T) {
	x := newTxnTester(t)
	x.plainCommit("t", 0, 5)
	x.plainCommit("t", 1, 6)
	x.txnCommit(txnReq(3, 7, "", -1, "t", 0, 10))
	x.txnCommit(txnReq(3, 7, "", -1, "u", 0, 11))
	x.now += x.gs.cfg.OffsetsRetentionMs + 1
	x.take(x.gs.ExpireOffsets(x.now))
	g := x.group()
	if g == nil {
		t.Fatal("a group with an open transaction expired")
	}
	if _, ok := g.Offsets()[TopicPartition{"t", 0}]; !ok {
		t.Fatal("an offset with a pending one expired")
	}
	if _, ok := g.Offsets()[TopicPartition{"t", 1}]; ok {
		t.Fatal("t-1 did not expire")
	}
	x.marker(7, false)
	x.take(x.gs.ExpireOffsets(x.now))
	if g := x.gs.Get(testGroup); g != nil {
		t.Fatalf("group left after its transaction aborted and its offsets expired: %+v", g.Offsets())
	}
}

// OffsetDelete and DeleteGroups write tombstones for pending offsets too,
// which drop them (Kafka's deleteOffsets and deleteAllOffsets): a later
// COMMIT does not bring them back.
func TestTxnCommitDeletes(t *testing.T) {
	x := newTxnTester(t)
	x.plainCommit("t", 0, 5)
	x.txnCommit(txnReq(3, 7, "", -1, "u", 0, 10))
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = testGroup
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "u", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	before := len(x.records)
	x.take(x.gs.DeleteOffsets(x.now, x.handle(), od))
	if recs := x.records[before:]; len(recs) != 1 || recs[0].Value != nil {
		t.Fatalf("OffsetDelete of a pending-only partition wrote %+v, want one tombstone", recs)
	}
	x.marker(7, true)
	if _, ok := x.group().Offsets()[TopicPartition{"u", 0}]; ok {
		t.Fatal("a deleted pending offset came back with COMMIT")
	}

	x.txnCommit(txnReq(3, 8, "", -1, "u", 1, 12))
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{testGroup}
	before = len(x.records)
	h := x.handle()
	x.take(x.gs.Delete(x.now, h, del))
	x.catchUp()
	if ec := x.replies[h].(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode; ec != 0 {
		t.Fatalf("DeleteGroups: %v", kerr.ErrorForCode(ec))
	}
	if recs := x.records[before:]; len(recs) != 2 {
		t.Fatalf("DeleteGroups wrote %d records, want tombstones for t-0 and the pending u-1", len(recs))
	}
	if x.gs.Get(testGroup) != nil {
		t.Fatal("the group is still there")
	}
	x.plainCommit("v", 0, 1) // a new group of the same id
	x.marker(8, true)
	if o := x.group().Offsets(); len(o) != 1 {
		t.Fatalf("the old transaction's COMMIT reached the new group: %v", o)
	}
	if got, want := txnViews(x.replay()), txnViews(x.gs); !reflect.DeepEqual(got, want) {
		t.Fatalf("reloaded:\n%+v\nwant:\n%+v", got, want)
	}
}

// The Loader replays transactional batches as pending until their marker
// (COMMIT: committed unless a later record committed the partition; ABORT:
// dropped), and a transaction with no marker yet is pending in the loaded
// groups, where a later marker completes it as in the groups that wrote it.
func TestLoaderReplaysTxnOffsets(t *testing.T) {
	x := newTxnTester(t)
	x.plainCommit("t", 0, 1)
	x.txnCommit(txnReq(3, 1, "", -1, "t", 0, 2)) // committed
	x.txnCommit(txnReq(3, 2, "", -1, "t", 1, 3)) // aborted
	x.txnCommit(txnReq(3, 3, "", -1, "t", 2, 4)) // committed, then a later plain commit
	x.plainCommit("t", 2, 5)
	x.marker(1, true)
	x.marker(2, false)
	x.marker(3, true)
	x.txnCommit(txnReq(3, 4, "", -1, "t", 3, 6)) // open at the end
	x.txnCommit(txnReq(3, 5, "", -1, "t", 4, 7)) // open, a plain commit after it
	x.plainCommit("t", 4, 8)
	loaded := x.replay()
	if got, want := txnViews(loaded), txnViews(x.gs); !reflect.DeepEqual(got, want) {
		t.Fatalf("reloaded:\n%+v\nwant:\n%+v", got, want)
	}
	want := map[int32]int64{0: 2, 1: -1, 2: 5, 3: -1, 4: 8}
	for p, off := range want {
		if got, _ := fetch(loaded, "t", p, false); got != off {
			t.Errorf("t-%d: %d, want %d", p, got, off)
		}
	}
	if _, ec := fetch(loaded, "t", 3, true); ec != kerr.UnstableOffsetCommit.Code {
		t.Errorf("t-3 pending after the load: code %d", ec)
	}
	for _, gs := range []*Groups{loaded, x.gs} {
		gs.TxnCompleted(x.now, 4, true)
		gs.TxnCompleted(x.now, 5, true)
	}
	if got, want := txnViews(loaded), txnViews(x.gs); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the open transactions committed, reloaded:\n%+v\nwant:\n%+v", got, want)
	}
	if got, _ := fetch(loaded, "t", 3, true); got != 6 {
		t.Errorf("t-3 after its COMMIT: %d, want 6", got)
	}
	if got, _ := fetch(loaded, "t", 4, true); got != 8 {
		t.Errorf("t-4 after its COMMIT: %d, want 8 (the later plain commit)", got)
	}
}

// txnModel is the reference: Kafka's OffsetMetadataManager for one simple
// group, with log positions.
type txnModel struct {
	pos       int64
	committed map[TopicPartition][2]int64           // offset, position
	pending   map[int64]map[TopicPartition][2]int64 // producer -> offset, position
}

func (m *txnModel) fetch(tp TopicPartition, stable bool) (int64, int16) {
	if stable {
		for _, tps := range m.pending {
			if _, ok := tps[tp]; ok {
				return -1, kerr.UnstableOffsetCommit.Code
			}
		}
	}
	if c, ok := m.committed[tp]; ok {
		return c[0], 0
	}
	return -1, 0
}

// TestTxnOffsetsProperty: random plain and transactional commits, markers
// and deletes of one group agree with the model, and the log they wrote
// reloads to the same groups, which complete the open transactions alike.
func TestTxnOffsetsProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		x := newTxnTester(rt)
		m := &txnModel{committed: map[TopicPartition][2]int64{}, pending: map[int64]map[TopicPartition][2]int64{}}
		tps := []TopicPartition{{"t", 0}, {"t", 1}, {"u", 0}}
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			tp := rapid.SampledFrom(tps).Draw(rt, "tp")
			pid := rapid.Int64Range(1, 3).Draw(rt, "pid")
			off := int64(i)
			switch op := rapid.IntRange(0, 4).Draw(rt, "op"); op {
			case 0:
				x.plainCommit(tp.Topic, tp.Partition, off)
				m.pos++
				m.committed[tp] = [2]int64{off, m.pos}
			case 1:
				if ec := x.txnCommit(txnReq(3, pid, "", -1, tp.Topic, tp.Partition, off)); ec != 0 {
					rt.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(ec))
				}
				m.pos++
				if m.pending[pid] == nil {
					m.pending[pid] = map[TopicPartition][2]int64{}
				}
				m.pending[pid][tp] = [2]int64{off, m.pos}
			case 2, 3:
				commit := op == 2
				x.marker(pid, commit)
				for tp, p := range m.pending[pid] {
					if c, ok := m.committed[tp]; commit && (!ok || p[1] > c[1]) {
						m.committed[tp] = p
					}
				}
				delete(m.pending, pid)
			case 4:
				if x.group() == nil {
					continue
				}
				od := kmsg.NewPtrOffsetDeleteRequest()
				od.Group = testGroup
				od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: tp.Topic, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: tp.Partition}}}}
				x.take(x.gs.DeleteOffsets(x.now, x.handle(), od))
				x.catchUp()
				delete(m.committed, tp)
				for _, p := range m.pending {
					delete(p, tp)
				}
			}
			for _, tp := range tps {
				for _, stable := range []bool{false, true} {
					gotOff, gotCode := fetch(x.gs, tp.Topic, tp.Partition, stable)
					wantOff, wantCode := m.fetch(tp, stable)
					if gotOff != wantOff || gotCode != wantCode {
						rt.Fatalf("step %d: %v stable %v: offset %d code %d, model %d code %d", i, tp, stable, gotOff, gotCode, wantOff, wantCode)
					}
				}
			}
		}
		loaded := x.replay()
		if got, want := txnViews(loaded), txnViews(x.gs); !reflect.DeepEqual(got, want) {
			rt.Fatalf("reloaded:\n%+v\nwant:\n%+v", got, want)
		}
		var open []int64
		for pid := range m.pending {
			open = append(open, pid)
		}
		sort.Slice(open, func(i, j int) bool { return open[i] < open[j] })
		for _, pid := range open {
			commit := rapid.Bool().Draw(rt, fmt.Sprintf("commit %d", pid))
			loaded.TxnCompleted(x.now, pid, commit)
			x.gs.TxnCompleted(x.now, pid, commit)
		}
		if got, want := txnViews(loaded), txnViews(x.gs); !reflect.DeepEqual(got, want) {
			rt.Fatalf("after the open transactions ended, reloaded:\n%+v\nwant:\n%+v", got, want)
		}
	})
}
