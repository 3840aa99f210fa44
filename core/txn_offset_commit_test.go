package core

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

// txnOffsetsTest is one broker that can be restarted on its data
// directory, with one __consumer_offsets and one __transaction_state
// partition, a topic "t", and a connection that sends each request at the
// version it is given.
type txnOffsetsTest struct {
	t    *testing.T
	cfg  Config
	b    *Broker
	stop func()
	c    *peerConn
}

func startTxnOffsetsTest(t *testing.T) *txnOffsetsTest {
	x := &txnOffsetsTest{t: t, cfg: Config{NodeID: 1, DataDir: t.TempDir(),
		ListenAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)), RaftAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)),
		Defaults: map[string]string{
			"offsets.topic.num.partitions":         "1",
			"transaction.state.log.num.partitions": "1",
		}}}
	x.start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := x.b.commit(ctx, cluster.CreateTopic{Name: "t", ID: tTopicID, Assignments: [][]int32{{1}}}); err != nil {
		t.Fatal(err)
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.SetVersion(4)
	fc.CoordinatorKeys = []string{"g"}
	x.do(fc) // creates __consumer_offsets
	x.waitLoaded()
	return x
}

func (x *txnOffsetsTest) start() {
	x.b, x.stop = runBroker(x.t, x.cfg, afero.NewOsFs())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := x.b.dialPeer(ctx, x.b.Addr())
	if err != nil {
		x.t.Fatal(err)
	}
	x.c = c
	x.t.Cleanup(c.close)
}

// restart stops the broker and starts it again on its data directory.
func (x *txnOffsetsTest) restart() {
	x.c.close()
	x.stop()
	x.start()
	x.waitLoaded()
}

func (x *txnOffsetsTest) waitLoaded() {
	waitFor(x.t, 20*time.Second, "the group coordinator loaded", func() bool {
		_, code := x.fetch("g", false)
		return code == 0 || code == kerr.UnstableOffsetCommit.Code
	})
}

func (x *txnOffsetsTest) do(req kmsg.Request) kmsg.Response {
	x.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := x.c.do(ctx, time.Now(), req)
	if err != nil {
		x.t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// fetch returns group's offset of t-0 and the code of the answer (the
// group's, else the partition's), asking for stable offsets if stable.
func (x *txnOffsetsTest) fetch(group string, stable bool) (int64, int16) {
	x.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.SetVersion(8)
	req.RequireStable = stable
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.Partitions = "t", []int32{0}
	rg.Topics = append(rg.Topics, gt)
	req.Groups = append(req.Groups, rg)
	g := x.do(req).(*kmsg.OffsetFetchResponse).Groups[0]
	if g.ErrorCode != 0 {
		return -1, g.ErrorCode
	}
	p := g.Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

// producer is a transactional producer driven with raw requests.
type producer struct {
	id    string
	pid   int64
	epoch int16
}

// initProducer runs InitProducerId for transactional id id, retrying while
// its coordinator is created and loads.
func (x *txnOffsetsTest) initProducer(id string) producer {
	x.t.Helper()
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.SetVersion(4)
	fc.CoordinatorType, fc.CoordinatorKeys = 1, []string{id}
	x.do(fc) // creates __transaction_state
	var p producer
	waitFor(x.t, 20*time.Second, "InitProducerId of "+id, func() bool {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.SetVersion(4)
		req.TransactionalID, req.TransactionTimeoutMillis = &id, 60000
		resp := x.do(req).(*kmsg.InitProducerIDResponse)
		switch resp.ErrorCode {
		case 0:
			p = producer{id: id, pid: resp.ProducerID, epoch: resp.ProducerEpoch}
			return true
		case kerr.CoordinatorLoadInProgress.Code, kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code, kerr.ConcurrentTransactions.Code:
			return false
		}
		x.t.Fatalf("InitProducerId: %v", kerr.ErrorForCode(resp.ErrorCode))
		return false
	})
	return p
}

func (x *txnOffsetsTest) addOffsets(p producer, group string) {
	x.t.Helper()
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.SetVersion(3)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = p.id, p.pid, p.epoch, group
	if code := x.do(req).(*kmsg.AddOffsetsToTxnResponse).ErrorCode; code != 0 {
		x.t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
	}
}

type txnPart struct {
	topic  string
	part   int32
	offset int64
}

// txnCommit sends a TxnOffsetCommit of version v for group (a simple
// commit: generation -1) and returns the codes by "topic-partition".
func (x *txnOffsetsTest) txnCommit(v int16, p producer, group string, parts ...txnPart) map[string]int16 {
	x.t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.SetVersion(v)
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = p.id, group, p.pid, p.epoch
	for _, tp := range parts {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = tp.topic
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = tp.part, tp.offset
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	codes := map[string]int16{}
	for _, rt := range x.do(req).(*kmsg.TxnOffsetCommitResponse).Topics {
		for _, rp := range rt.Partitions {
			codes[rt.Topic+"-"+strconv.Itoa(int(rp.Partition))] = rp.ErrorCode
		}
	}
	if len(codes) != len(parts) {
		x.t.Fatalf("TxnOffsetCommit of %d partitions answered %v", len(parts), codes)
	}
	return codes
}

// endTxn ends p's transaction with EndTxn v3 (no epoch bump) and waits
// until its marker is in __consumer_offsets. Then it tells the group
// coordinator, as WriteTxnMarkers does right after a marker's append (a
// second call for the same marker changes nothing).
func (x *txnOffsetsTest) endTxn(p producer, commit bool) {
	x.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.SetVersion(3)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = p.id, p.pid, p.epoch, commit
	// After a restart the transaction coordinator may still be loading
	// (the group coordinator's answers do not say it is done): retried.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code := x.do(req).(*kmsg.EndTxnResponse).ErrorCode
		if code == kerr.CoordinatorLoadInProgress.Code && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if code != 0 {
			x.t.Fatalf("EndTxn: %v", kerr.ErrorForCode(code))
		}
		break
	}
	offsets := x.b.partition(offsetsTopic, 0)
	waitFor(x.t, 20*time.Second, "the marker in __consumer_offsets", func() bool {
		_, open := offsets.log.OpenTxnStart(p.pid)
		return !open
	})
	x.b.coord.txnCompleted(0, p.pid, commit)
}

func (x *txnOffsetsTest) wantOffset(what string, want int64, stable bool, wantCode int16) {
	x.t.Helper()
	if off, code := x.fetch("g", stable); off != want || code != wantCode {
		x.t.Fatalf("%s (RequireStable %v): offset %d %v, want %d %v", what, stable, off, kerr.ErrorForCode(code), want, kerr.ErrorForCode(wantCode))
	}
}

// TestTxnOffsetCommitShellErrors: partitions of unknown topics answer
// UNKNOWN_TOPIC_OR_PARTITION without asking the transaction coordinator;
// the others get the coordinator's verification error (KIP-890): an
// unknown producer, and a producer whose transaction does not hold the
// group's __consumer_offsets partition (v3: no implicit add), are
// INVALID_TXN_STATE or INVALID_PRODUCER_ID_MAPPING, and nothing is stored.
func TestTxnOffsetCommitShellErrors(t *testing.T) {
	x := startTxnOffsetsTest(t)
	p := x.initProducer("tx-unadded") // and __transaction_state
	stranger := producer{id: "stranger", pid: 4242}
	codes := x.txnCommit(3, stranger, "g", txnPart{"t", 0, 5}, txnPart{"t", 9, 5}, txnPart{"nope", 0, 5})
	if codes["t-9"] != kerr.UnknownTopicOrPartition.Code || codes["nope-0"] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown partitions: %v", codes)
	}
	if c := codes["t-0"]; c != kerr.InvalidTxnState.Code && c != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("t-0 of an unknown producer: %v, want INVALID_TXN_STATE or INVALID_PRODUCER_ID_MAPPING", kerr.ErrorForCode(c))
	}
	if codes := x.txnCommit(3, stranger, "g", txnPart{"nope", 0, 5}); codes["nope-0"] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("only unknown topics: %v", codes)
	}
	if codes := x.txnCommit(3, p, "g", txnPart{"t", 0, 5}); codes["t-0"] != kerr.InvalidTxnState.Code {
		t.Fatalf("v3 without AddOffsetsToTxn: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(codes["t-0"]))
	}
	x.wantOffset("after refused commits", -1, false, 0)
	x.wantOffset("after refused commits", -1, true, 0)
}

// txnCommitVerifyCode maps the coordinator's errors as Kafka's
// AddPartitionsToTxnManager and handleOperationException do, and v0-1 get
// COORDINATOR_NOT_AVAILABLE for COORDINATOR_LOAD_IN_PROGRESS.
func TestTxnOffsetCommitErrorCodes(t *testing.T) {
	tests := []struct {
		version int16
		err     error
		want    *kerr.Error
	}{
		{3, kerr.InvalidTxnState, kerr.InvalidTxnState},
		{3, kerr.ProducerFenced, kerr.InvalidProducerEpoch},
		{3, kerr.TransactionAbortable, kerr.InvalidTxnState},
		{5, kerr.TransactionAbortable, kerr.TransactionAbortable},
		{5, kerr.NotEnoughReplicas, kerr.CoordinatorNotAvailable},
		{5, kerr.NotLeaderForPartition, kerr.NotCoordinator},
		{5, kerr.NotCoordinator, kerr.NotCoordinator},
		{5, kerr.ConcurrentTransactions, kerr.ConcurrentTransactions},
		{5, errors.New("connection reset"), kerr.CoordinatorLoadInProgress},
	}
	for _, tt := range tests {
		if got := txnCommitVerifyCode(tt.version, tt.err); got != tt.want.Code {
			t.Errorf("v%d %v: %v, want %v", tt.version, tt.err, kerr.ErrorForCode(got), tt.want)
		}
	}
	for v, want := range map[int16]int16{1: kerr.CoordinatorNotAvailable.Code, 2: kerr.CoordinatorLoadInProgress.Code} {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.SetVersion(v)
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic, rt.Partitions = "t", []kmsg.TxnOffsetCommitRequestTopicPartition{kmsg.NewTxnOffsetCommitRequestTopicPartition()}
		req.Topics = append(req.Topics, rt)
		resp := oldTxnCommitCodes(coordinatorError(req, errCoordinatorLoading).(*kmsg.TxnOffsetCommitResponse))
		if got := resp.Topics[0].Partitions[0].ErrorCode; got != want {
			t.Errorf("v%d while loading: %v, want %v", v, kerr.ErrorForCode(got), kerr.ErrorForCode(want))
		}
	}
}

// TestTxnOffsetCommitCommitAbortReload (KIP-98, KIP-447): offsets committed
// in a transaction are invisible until its COMMIT marker (OffsetFetch with
// RequireStable answers UNSTABLE_OFFSET_COMMIT meanwhile), dropped by an
// ABORT; v5 adds the partition to the transaction itself (KIP-890 part 2).
// A restart replays the log: completed transactions as they ended, an
// open one still pending, which its later COMMIT completes.
func TestTxnOffsetCommitCommitAbortReload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker three times")
	}
	x := startTxnOffsetsTest(t)

	a := x.initProducer("tx-a")
	x.addOffsets(a, "g")
	if codes := x.txnCommit(3, a, "g", txnPart{"t", 0, 10}); codes["t-0"] != 0 {
		t.Fatalf("TxnOffsetCommit v3: %v", kerr.ErrorForCode(codes["t-0"]))
	}
	x.wantOffset("pending", -1, false, 0)
	x.wantOffset("pending", -1, true, kerr.UnstableOffsetCommit.Code)
	x.endTxn(a, true)
	x.wantOffset("committed", 10, false, 0)
	x.wantOffset("committed", 10, true, 0)

	b := x.initProducer("tx-b")
	if codes := x.txnCommit(5, b, "g", txnPart{"t", 0, 20}); codes["t-0"] != 0 {
		t.Fatalf("TxnOffsetCommit v5 (implicit add): %v", kerr.ErrorForCode(codes["t-0"]))
	}
	x.wantOffset("pending over a committed offset", 10, false, 0)
	x.endTxn(b, false)
	x.wantOffset("aborted", 10, true, 0)

	c := x.initProducer("tx-c")
	x.addOffsets(c, "g")
	if codes := x.txnCommit(3, c, "g", txnPart{"t", 0, 30}); codes["t-0"] != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(codes["t-0"]))
	}
	x.restart()
	x.wantOffset("reloaded with an open transaction", 10, false, 0)
	x.wantOffset("reloaded with an open transaction", -1, true, kerr.UnstableOffsetCommit.Code)
	x.endTxn(c, true)
	x.wantOffset("committed after the reload", 30, true, 0)

	x.restart()
	x.wantOffset("reloaded", 30, true, 0)
}
