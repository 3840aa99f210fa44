package txn

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var tpA, tpB = TopicPartition{"a", 0}, TopicPartition{"b", 1}

// begin makes "tx" Ongoing with tpA: producer id 1001, epoch 0.
func begin(t *testing.T) *tester {
	x := newTester(t)
	r := x.init("tx", 60000, 4, -1, -1)
	if r.ErrorCode != 0 || r.ProducerID != 1001 || r.ProducerEpoch != 0 {
		t.Fatalf("init: %+v", r)
	}
	if c := addCode(x.add("tx", 1001, 0, 3, tpA)); c != 0 {
		t.Fatalf("add: %d", c)
	}
	if s := x.state("tx"); s != Ongoing {
		t.Fatalf("state %v", s)
	}
	return x
}

func TestInitProducerID(t *testing.T) {
	id := "tx"
	cases := []struct {
		name  string
		setup func(x *tester)
		req   func(x *tester) *kmsg.InitProducerIDResponse
		code  int16
		pid   int64
		epoch int16
	}{
		{"new id gets epoch 0", nil, func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, -1, -1) }, 0, 1001, 0},
		{"empty id", nil, func(x *tester) *kmsg.InitProducerIDResponse { return x.init("", 1000, 4, -1, -1) }, kerr.InvalidRequest.Code, -1, -1},
		{"timeout above max", nil, func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 15*60*1000+1, 4, -1, -1) }, kerr.InvalidTransactionTimeout.Code, -1, -1},
		{"timeout zero", nil, func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 0, 4, -1, -1) }, kerr.InvalidTransactionTimeout.Code, -1, -1},
		{"half an expected id", nil, func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, 5, -1) }, kerr.InvalidRequest.Code, -1, -1},
		{"again bumps the epoch", func(x *tester) { x.init(id, 1000, 4, -1, -1) },
			func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, -1, -1) }, 0, 1001, 1},
		{"KIP-360 resume bumps", func(x *tester) { x.init(id, 1000, 4, -1, -1) },
			func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, 1001, 0) }, 0, 1001, 1},
		{"KIP-360 retry of a success gets the same epoch", func(x *tester) { x.init(id, 1000, 4, -1, -1); x.init(id, 1000, 4, 1001, 0) },
			func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, 1001, 0) }, 0, 1001, 1},
		{"KIP-360 stale epoch fenced", func(x *tester) { x.init(id, 1000, 4, -1, -1); x.init(id, 1000, 4, -1, -1); x.init(id, 1000, 4, -1, -1) },
			func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, 1001, 0) }, kerr.ProducerFenced.Code, -1, -1},
		{"KIP-360 stale epoch v3: INVALID_PRODUCER_EPOCH", func(x *tester) { x.init(id, 1000, 4, -1, -1); x.init(id, 1000, 4, -1, -1); x.init(id, 1000, 4, -1, -1) },
			func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 3, 1001, 0) }, kerr.InvalidProducerEpoch.Code, -1, -1},
		{"KIP-360 other producer id fenced", func(x *tester) { x.init(id, 1000, 4, -1, -1) },
			func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, 77, 0) }, kerr.ProducerFenced.Code, -1, -1},
		{"exhausted epoch rotates the producer id", func(x *tester) { x.init(id, 1000, 4, -1, -1); x.c.txns[id].m.ProducerEpoch = 32766 },
			func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, -1, -1) }, 0, 1002, 0},
		{"KIP-360 retry after a rotation", func(x *tester) {
			x.init(id, 1000, 4, -1, -1)
			x.c.txns[id].m.ProducerEpoch = 32766
			x.init(id, 1000, 4, 1001, 32766)
		}, func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, 1001, 32766) }, 0, 1002, 0},
		{"Ongoing is fenced: CONCURRENT_TRANSACTIONS", func(x *tester) { x.init(id, 1000, 4, -1, -1); x.add(id, 1001, 0, 3, tpA) },
			func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, -1, -1) }, kerr.ConcurrentTransactions.Code, -1, -1},
		{"while markers are written: CONCURRENT_TRANSACTIONS", func(x *tester) {
			x.init(id, 1000, 4, -1, -1)
			x.add(id, 1001, 0, 3, tpA)
			x.end(id, 1001, 0, true, 4)
		}, func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, -1, -1) }, kerr.ConcurrentTransactions.Code, -1, -1},
		{"while an append is pending: CONCURRENT_TRANSACTIONS", func(x *tester) { x.auto = false; x.init(id, 1000, 4, -1, -1) },
			func(x *tester) *kmsg.InitProducerIDResponse { return x.init(id, 1000, 4, -1, -1) }, kerr.ConcurrentTransactions.Code, -1, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := newTester(t)
			if c.setup != nil {
				c.setup(x)
			}
			r := c.req(x)
			if r == nil || r.ErrorCode != c.code || r.ProducerID != c.pid || r.ProducerEpoch != c.epoch {
				t.Fatalf("got %+v, want code %d pid %d epoch %d", r, c.code, c.pid, c.epoch)
			}
		})
	}
}

func TestFenceAbortsOngoing(t *testing.T) {
	x := begin(t)
	x.init("tx", 60000, 4, -1, -1)
	if s := x.state("tx"); s != PrepareAbort {
		t.Fatalf("state %v, want PrepareAbort", s)
	}
	m := x.markers["tx"]
	if m.Commit || m.ProducerEpoch != 1 || len(m.Partitions) != 1 || m.Partitions[0] != tpA || m.CoordinatorEpoch != 5 {
		t.Fatalf("markers %+v", m)
	}
	// The fenced producer is fenced.
	if c := addCode(x.add("tx", 1001, 0, 3, tpB)); c != kerr.ProducerFenced.Code {
		t.Fatalf("add by the fenced producer: %d", c)
	}
	x.writeMarkers("tx")
	if s := x.state("tx"); s != CompleteAbort {
		t.Fatalf("state %v, want CompleteAbort", s)
	}
	if r := x.init("tx", 60000, 4, -1, -1); r.ErrorCode != 0 || r.ProducerEpoch != 2 {
		t.Fatalf("retry: %+v", r)
	}
}

func TestAddPartitions(t *testing.T) {
	cases := []struct {
		name    string
		pid     int64
		epoch   int16
		version int16
		code    int16
	}{
		{"unknown producer id", 77, 0, 3, kerr.InvalidProducerIDMapping.Code},
		{"wrong epoch", 1001, 5, 3, kerr.ProducerFenced.Code},
		{"wrong epoch v1", 1001, 5, 1, kerr.InvalidProducerEpoch.Code},
		{"ok v3", 1001, 0, 3, 0},
		{"ok v4 batched", 1001, 0, 4, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := begin(t)
			if got := addCode(x.add("tx", c.pid, c.epoch, c.version, tpB)); got != c.code {
				t.Fatalf("code %d, want %d", got, c.code)
			}
			m, _, _ := x.c.Get("tx")
			want := 1
			if c.code == 0 {
				want = 2
			}
			if len(m.Partitions) != want {
				t.Fatalf("partitions %v", m.Partitions)
			}
		})
	}
	x := newTester(t)
	if c := addCode(x.add("nope", 1, 0, 3, tpA)); c != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("unknown id: %d", c)
	}
	x = begin(t)
	x.end("tx", 1001, 0, true, 4)
	if c := addCode(x.add("tx", 1001, 0, 3, tpB)); c != kerr.ConcurrentTransactions.Code {
		t.Fatalf("add during PrepareCommit: %d", c)
	}
	// A partition the shell rejects fails the transaction.
	x = begin(t)
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version, req.TransactionalID, req.ProducerID = 3, "tx", 1001
	req.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "a", Partitions: []int32{1}}, {Topic: "zz", Partitions: []int32{0}}}
	out := x.c.AddPartitions(x.now, 99, req, func(topic string, _ int32) error {
		if topic == "zz" {
			return kerr.UnknownTopicOrPartition
		}
		return nil
	})
	r := out.Replies[0].Msg.(*kmsg.AddPartitionsToTxnResponse)
	if len(out.Records) != 0 || r.Topics[0].Partitions[0].ErrorCode != kerr.OperationNotAttempted.Code ||
		r.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("rejected partition: %+v", r)
	}
}

func TestVerifyOnly(t *testing.T) {
	x := begin(t)
	h := x.h()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 4
	req.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{
		{TransactionalID: "tx", ProducerID: 1001, ProducerEpoch: 0, VerifyOnly: true,
			Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "a", Partitions: []int32{0, 5}}}},
		{TransactionalID: "tx", ProducerID: 1001, ProducerEpoch: 3, VerifyOnly: true,
			Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "a", Partitions: []int32{0}}}},
	}
	out := x.c.AddPartitions(x.now, h, req, nil)
	if len(out.Records) != 0 || len(out.Replies) != 1 {
		t.Fatalf("verify wrote or did not answer: %+v", out)
	}
	r := out.Replies[0].Msg.(*kmsg.AddPartitionsToTxnResponse)
	ps := r.Transactions[0].Topics[0].Partitions
	if ps[0].ErrorCode != 0 || ps[1].ErrorCode != kerr.TransactionAbortable.Code {
		t.Fatalf("verify: %+v", ps)
	}
	if c := r.Transactions[1].Topics[0].Partitions[0].ErrorCode; c != kerr.ProducerFenced.Code {
		t.Fatalf("verify with a stale epoch: %d", c)
	}
}

func TestEndTxn(t *testing.T) {
	for _, commit := range []bool{true, false} {
		x := begin(t)
		x.add("tx", 1001, 0, 3, tpB)
		r := x.end("tx", 1001, 0, commit, 4)
		prepare, complete := PrepareAbort, CompleteAbort
		if commit {
			prepare, complete = PrepareCommit, CompleteCommit
		}
		if r.ErrorCode != 0 || x.state("tx") != prepare {
			t.Fatalf("end: %+v in %v", r, x.state("tx"))
		}
		m := x.markers["tx"]
		if m.Commit != commit || m.ProducerID != 1001 || m.ProducerEpoch != 0 || len(m.Partitions) != 2 {
			t.Fatalf("markers %+v", m)
		}
		if r := x.end("tx", 1001, 0, commit, 4); r.ErrorCode != kerr.ConcurrentTransactions.Code {
			t.Fatalf("retry while markers pending: %d", r.ErrorCode)
		}
		if r := x.end("tx", 1001, 0, !commit, 4); r.ErrorCode != kerr.ConcurrentTransactions.Code {
			t.Fatalf("other result while markers pending: %d", r.ErrorCode)
		}
		// Half the markers: still Prepare.
		x.take(x.c.MarkersWritten(x.now, "tx", tpA))
		if x.state("tx") != prepare {
			t.Fatalf("state after one marker: %v", x.state("tx"))
		}
		x.take(x.c.MarkersWritten(x.now, "tx", tpB))
		if x.state("tx") != complete {
			t.Fatalf("state after markers: %v", x.state("tx"))
		}
		if r := x.end("tx", 1001, 0, commit, 4); r.ErrorCode != 0 {
			t.Fatalf("retry after completion: %d", r.ErrorCode)
		}
		if r := x.end("tx", 1001, 0, !commit, 4); r.ErrorCode != kerr.InvalidTxnState.Code {
			t.Fatalf("other result after completion: %d", r.ErrorCode)
		}
	}
	x := newTester(t)
	x.init("tx", 1000, 4, -1, -1)
	if r := x.end("tx", 1001, 0, true, 4); r.ErrorCode != kerr.InvalidTxnState.Code {
		t.Fatalf("EndTxn in Empty: %d", r.ErrorCode)
	}
	if r := x.end("tx", 1001, 3, true, 1); r.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("EndTxn v1 wrong epoch: %d", r.ErrorCode)
	}
	if r := x.end("tx", 1001, 3, true, 2); r.ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("EndTxn v2 wrong epoch: %d", r.ErrorCode)
	}
	if r := x.end("tx", 9, 0, true, 4); r.ErrorCode != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("EndTxn wrong producer id: %d", r.ErrorCode)
	}
}

// TestEndTxnV5EpochBump covers KIP-890 part 2: each EndTxn v5 bumps the
// epoch, the response carries it, a retry gets it again, and an exhausted
// epoch moves to a new producer id once the transaction completes.
func TestEndTxnV5EpochBump(t *testing.T) {
	x := begin(t)
	r := x.end("tx", 1001, 0, true, 5)
	if r.ErrorCode != 0 || r.ProducerID != 1001 || r.ProducerEpoch != 1 {
		t.Fatalf("end v5: %+v", r)
	}
	if m := x.markers["tx"]; m.ProducerEpoch != 1 {
		t.Fatalf("markers carry epoch %d, want the bumped 1", m.ProducerEpoch)
	}
	if r := x.end("tx", 1001, 0, true, 5); r.ErrorCode != kerr.ConcurrentTransactions.Code {
		t.Fatalf("retry during markers: %+v", r)
	}
	x.writeMarkers("tx")
	if r := x.end("tx", 1001, 0, true, 5); r.ErrorCode != 0 || r.ProducerEpoch != 1 {
		t.Fatalf("retry after completion: %+v", r)
	}
	if r := x.end("tx", 1001, 1, true, 5); r.ErrorCode != kerr.InvalidTxnState.Code && r.ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("EndTxn with no transaction: %+v", r)
	}
	// Exhaustion: a transaction at epoch 32766 completes on a new id.
	x.add("tx", 1001, 1, 3, tpA)
	x.c.txns["tx"].m.ProducerEpoch = 32766
	r = x.end("tx", 1001, 32766, false, 5)
	if r.ErrorCode != 0 || r.ProducerID != 1002 || r.ProducerEpoch != 0 {
		t.Fatalf("end at exhaustion: %+v", r)
	}
	if m := x.markers["tx"]; m.ProducerID != 1001 || m.ProducerEpoch != 32767 {
		t.Fatalf("markers at exhaustion: %+v", m)
	}
	x.writeMarkers("tx")
	m, _, _ := x.c.Get("tx")
	if m.ProducerID != 1002 || m.ProducerEpoch != 0 || m.PrevProducerID != 1001 || m.State != CompleteAbort {
		t.Fatalf("after rotation: %+v", m)
	}
	if r := x.end("tx", 1001, 32766, false, 5); r.ErrorCode != 0 || r.ProducerID != 1002 || r.ProducerEpoch != 0 {
		t.Fatalf("retry across the rotation: %+v", r)
	}
}

func TestAddOffsets(t *testing.T) {
	x := begin(t)
	h := x.h()
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = 3, "tx", 1001, 0, "g"
	x.take(x.c.AddOffsets(x.now, h, req, 7))
	if r := x.replies[h].(*kmsg.AddOffsetsToTxnResponse); r.ErrorCode != 0 {
		t.Fatalf("add offsets: %d", r.ErrorCode)
	}
	m, _, _ := x.c.Get("tx")
	if !contains(m.Partitions, TopicPartition{OffsetsTopic, 7}) {
		t.Fatalf("partitions %v", m.Partitions)
	}
}

func TestFailedAppend(t *testing.T) {
	x := newTester(t)
	x.failNext = true
	if r := x.init("tx", 1000, 4, -1, -1); r.ErrorCode != kerr.UnknownServerError.Code {
		t.Fatalf("failed append: %+v", r)
	}
	if _, _, ok := x.c.Get("tx"); ok || len(x.c.txns) != 0 {
		t.Fatal("a transactional id whose first record failed is kept")
	}
	x = begin(t)
	x.failNext = true
	if c := addCode(x.add("tx", 1001, 0, 3, tpB)); c != kerr.UnknownServerError.Code {
		t.Fatalf("failed add: %d", c)
	}
	if m, pend, _ := x.c.Get("tx"); len(m.Partitions) != 1 || pend {
		t.Fatalf("after a failed add: %+v pending %v", m, pend)
	}
}

func TestTimeoutAndExpiry(t *testing.T) {
	x := begin(t)
	x.take(x.c.AbortTimedOut(x.now + 60000))
	if x.state("tx") != Ongoing {
		t.Fatal("aborted at exactly its timeout")
	}
	x.now += 60001
	x.take(x.c.Tick(x.now))
	if x.state("tx") != PrepareAbort || x.markers["tx"].ProducerEpoch != 1 {
		t.Fatalf("timed out: %v %+v", x.state("tx"), x.markers["tx"])
	}
	x.writeMarkers("tx")
	x.take(x.c.ExpireIDs(x.now + DefaultConfig().IDExpirationMs - 1))
	if x.state("tx") != CompleteAbort {
		t.Fatal("expired early")
	}
	x.now += DefaultConfig().IDExpirationMs
	x.take(x.c.ExpireIDs(x.now))
	if _, _, ok := x.c.Get("tx"); ok {
		t.Fatal("not expired")
	}
	if last := x.log[len(x.log)-1]; last[1] != nil {
		t.Fatal("expiry wrote no tombstone")
	}
	if d := x.c.Describe("tx"); d.ErrorCode != kerr.TransactionalIDNotFound.Code {
		t.Fatalf("describe after expiry: %d", d.ErrorCode)
	}
}

func TestDescribeList(t *testing.T) {
	x := begin(t)
	x.init("other", 1000, 4, -1, -1)
	d := x.c.Describe("tx")
	if d.ErrorCode != 0 || d.State != "Ongoing" || d.ProducerID != 1001 || len(d.Topics) != 1 || d.StartTimestamp != x.now {
		t.Fatalf("describe: %+v", d)
	}
	req := kmsg.NewPtrListTransactionsRequest()
	req.Version = 1
	req.StateFilters = []string{"Ongoing", "Bogus"}
	req.DurationFilterMillis = -1
	list, unknown := x.c.List(x.now, req)
	if len(list) != 1 || list[0].TransactionalID != "tx" || len(unknown) != 1 {
		t.Fatalf("list: %+v %v", list, unknown)
	}
	req.StateFilters, req.ProducerIDFilters = nil, []int64{1002}
	if list, _ := x.c.List(x.now, req); len(list) != 1 || list[0].TransactionalID != "other" {
		t.Fatalf("list by producer id: %+v", list)
	}
	req.ProducerIDFilters, req.DurationFilterMillis = nil, 10
	if list, _ := x.c.List(x.now+11, req); len(list) != 2 {
		t.Fatalf("list by duration: %+v", list)
	}
}
