package main

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawKafka sends requests at exactly the version set on them (kgo's
// Client.Request always raises a request to the highest version both sides
// support) over one plain connection.
type rawKafka struct {
	t    *testing.T
	c    net.Conn
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawKafka {
	return &rawKafka{t: t, c: rawConn(t, addr)}
}

// do sends req and reads its response, decoded at req's version.
func (r *rawKafka) do(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	r.corr++
	r.c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := r.c.Write(request(req, r.corr)); err != nil {
		r.t.Fatalf("writing %s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	readResponse(r.t, r.c, r.corr, resp)
	return resp
}

func initProducerID(t *testing.T, r *rawKafka, version int16) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = version
	req.TransactionTimeoutMillis = 60000
	resp := r.do(req).(*kmsg.InitProducerIDResponse)
	if resp.ErrorCode != 0 || resp.ProducerID < 0 || resp.ProducerEpoch != 0 {
		t.Fatalf("InitProducerId v%d: error %d, id %d epoch %d", version, resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// idemBatch is a v2 batch of n records from producer pid/epoch starting at
// sequence seq; the values name the producer position, so duplicates show.
func idemBatch(t *testing.T, pid int64, epoch int16, seq int32, n int) []byte {
	t.Helper()
	now := time.Now().UnixMilli()
	b := wire.Batch{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, FirstTimestamp: now, MaxTimestamp: now}
	for i := 0; i < n; i++ {
		b.Records = append(b.Records, wire.Record{Value: []byte(fmt.Sprintf("%d/%d/%d", pid, epoch, int(seq)+i))})
	}
	out, err := wire.AppendBatch(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// produceRaw sends one batch to topic/0 with acks=all and returns the
// partition's error code and base offset.
func produceRaw(t *testing.T, r *rawKafka, version int16, topic string, id [16]byte, batch []byte) (int16, int64) {
	t.Helper()
	code, base, _ := produceRawMsg(t, r, version, topic, id, batch)
	return code, base
}

// produceRawMsg is produceRaw that also returns the error message.
func produceRawMsg(t *testing.T, r *rawKafka, version int16, topic string, id [16]byte, batch []byte) (int16, int64, string) {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := r.do(req).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce v%d: answer with %d topics", version, len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	msg := ""
	if p.ErrorMessage != nil {
		msg = *p.ErrorMessage
	}
	return p.ErrorCode, p.BaseOffset, msg
}

func wantProduce(t *testing.T, label string, gotCode int16, gotBase int64, wantCode int16, wantBase int64) {
	t.Helper()
	if gotCode != wantCode || (wantCode == 0 && gotBase != wantBase) {
		t.Errorf("%s: error %d (%v) base offset %d, want error %d base offset %d",
			label, gotCode, kerr.ErrorForCode(gotCode), gotBase, wantCode, wantBase)
	}
}

// TestE2EIdempotentProduce checks KIP-98 idempotence on the wire with
// hand-built batches: InitProducerId hands out distinct IDs, never reused
// after kill -9; a retried batch is answered with its original offset and
// not stored twice; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER (45); an
// older epoch is INVALID_PRODUCER_EPOCH (47); a new epoch must start at
// sequence 0; and after kill -9 and restart the producer state rebuilt from
// the log still recognises the last batch as a duplicate.
func TestE2EIdempotentProduce(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	if _, err := b.admin(t).CreateTopic(ctx, 1, 1, nil, "idem"); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, b.addr)

	// InitProducerId (v0 and the flexible v4) never repeats an ID.
	ids := map[int64]bool{}
	for _, v := range []int16{0, 4, 4, 1} {
		id, _ := initProducerID(t, r, v)
		if ids[id] {
			t.Fatalf("InitProducerId v%d returned %d twice", v, id)
		}
		ids[id] = true
	}
	pid, _ := initProducerID(t, r, 4)
	ids[pid] = true

	const ver = 9
	var noID [16]byte
	code, base := produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 0, 0, 3))
	wantProduce(t, "first batch (seq 0-2)", code, base, 0, 0)
	code, base = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 0, 0, 3))
	wantProduce(t, "same batch again", code, base, 0, 0)
	code, base = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 0, 3, 2))
	wantProduce(t, "next batch (seq 3-4)", code, base, 0, 3)
	code, base = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 0, 0, 3))
	wantProduce(t, "retry of the first batch after the second", code, base, 0, 0)
	code, _ = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 0, 7, 1))
	wantProduce(t, "sequence gap (7 after 4)", code, 0, kerr.OutOfOrderSequenceNumber.Code, 0)
	code, _ = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 1, 5, 1))
	wantProduce(t, "new epoch not starting at 0", code, 0, kerr.OutOfOrderSequenceNumber.Code, 0)
	code, base = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 1, 0, 1))
	wantProduce(t, "new epoch at seq 0", code, base, 0, 5)
	code, _ = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 0, 5, 1))
	wantProduce(t, "older epoch", code, 0, kerr.InvalidProducerEpoch.Code, 0)
	// Another producer interleaves without disturbing the first.
	other, _ := initProducerID(t, r, 4)
	ids[other] = true
	code, base = produceRaw(t, r, ver, "idem", noID, idemBatch(t, other, 0, 0, 2))
	wantProduce(t, "second producer", code, base, 0, 6)
	code, base = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 1, 1, 1))
	wantProduce(t, "first producer continues", code, base, 0, 8)

	want := []string{
		fmt.Sprintf("%d/0/0", pid), fmt.Sprintf("%d/0/1", pid), fmt.Sprintf("%d/0/2", pid),
		fmt.Sprintf("%d/0/3", pid), fmt.Sprintf("%d/0/4", pid), fmt.Sprintf("%d/1/0", pid),
		fmt.Sprintf("%d/0/0", other), fmt.Sprintf("%d/0/1", other), fmt.Sprintf("%d/1/1", pid),
	}
	checkLog := func(label string) {
		t.Helper()
		got := consumeAll(t, b, "idem", len(want))
		if len(got) != len(want) {
			t.Fatalf("%s: %d records stored, want %d", label, len(got), len(want))
		}
		for i, rec := range got {
			if string(rec.Value) != want[i] || rec.Offset != int64(i) {
				t.Errorf("%s: offset %d holds %q, want %q at %d", label, rec.Offset, rec.Value, want[i], i)
			}
		}
		ends, err := b.admin(t).ListEndOffsets(ctx, "idem")
		if err != nil {
			t.Fatal(err)
		}
		if e, _ := ends.Lookup("idem", 0); e.Offset != int64(len(want)) {
			t.Errorf("%s: end offset %d, want %d (a duplicate was stored)", label, e.Offset, len(want))
		}
	}
	checkLog("before the crash")

	// kill -9: the producer table is rebuilt from the log.
	b.kill9()
	b.restart()
	r = dialRaw(t, b.addr)
	// A restarted broker serves before the controller has made it the
	// leader again: NOT_LEADER_FOR_PARTITION, which clients retry, as here.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, base = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 1, 1, 1))
		if code != kerr.NotLeaderForPartition.Code || time.Now().After(deadline) {
			break
		}
	}
	wantProduce(t, "retry of the last batch after kill -9", code, base, 0, 8)
	code, base = produceRaw(t, r, ver, "idem", noID, idemBatch(t, other, 0, 0, 2))
	wantProduce(t, "retry of the other producer's batch after kill -9", code, base, 0, 6)
	code, _ = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 0, 5, 1))
	wantProduce(t, "older epoch after kill -9", code, 0, kerr.InvalidProducerEpoch.Code, 0)
	code, _ = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 1, 3, 1))
	wantProduce(t, "sequence gap after kill -9", code, 0, kerr.OutOfOrderSequenceNumber.Code, 0)
	checkLog("after kill -9")
	code, base = produceRaw(t, r, ver, "idem", noID, idemBatch(t, pid, 1, 2, 1))
	wantProduce(t, "next batch after kill -9", code, base, 0, 9)

	// Producer IDs handed out before the crash are never handed out again.
	for i := 0; i < 3; i++ {
		id, _ := initProducerID(t, r, 4)
		if ids[id] {
			t.Fatalf("InitProducerId after kill -9 reused producer ID %d", id)
		}
		ids[id] = true
	}
}
