package txn

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

type seqPIDs struct{ n int64 }

func (s *seqPIDs) Next() (int64, error) { s.n++; return 1000 + s.n, nil }

type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// tester drives a Coordinator as the shell would: it appends every record
// (durably, unless failNext is set), completes it, writes markers on
// demand, and keeps the log and the replies.
type tester struct {
	t        tb
	c        *Coordinator
	now      int64
	next     Handle
	replies  map[Handle]kmsg.Response
	log      [][2][]byte
	markers  map[string]Markers
	queue    []Record
	failNext bool
	auto     bool // complete appends as soon as records come out
}

func newTester(t tb) *tester {
	return &tester{t: t, c: New(DefaultConfig(), &seqPIDs{}, 5), now: 1_000_000,
		replies: map[Handle]kmsg.Response{}, markers: map[string]Markers{}, auto: true}
}

func (x *tester) take(out Output) {
	x.t.Helper()
	for _, r := range out.Replies {
		if _, dup := x.replies[r.To]; dup {
			x.t.Fatalf("handle %d answered twice", r.To)
		}
		x.replies[r.To] = r.Msg
	}
	for _, m := range out.Markers {
		if _, dup := x.markers[m.TransactionalID]; dup {
			x.t.Fatalf("marker work for %q handed out twice", m.TransactionalID)
		}
		x.markers[m.TransactionalID] = m
	}
	x.queue = append(x.queue, out.Records...)
	if x.auto {
		x.flush()
	}
}

// flush appends the queued records in order and completes them.
func (x *tester) flush() {
	for len(x.queue) > 0 {
		r := x.queue[0]
		x.queue = x.queue[1:]
		var err error
		if x.failNext {
			x.failNext, err = false, fmt.Errorf("append failed")
		} else {
			x.log = append(x.log, [2][]byte{r.Key, r.Value})
		}
		x.take(x.c.Appended(x.now, r.ID, err))
	}
}

// writeMarkers writes the markers of a transaction's marker work.
func (x *tester) writeMarkers(id string) {
	x.t.Helper()
	m, ok := x.markers[id]
	if !ok {
		x.t.Fatalf("no marker work for %q", id)
	}
	delete(x.markers, id)
	x.take(x.c.MarkersWritten(x.now, id, m.Partitions...))
}

func (x *tester) h() Handle { x.next++; return x.next }

func (x *tester) init(id string, timeoutMs int32, version int16, pid int64, epoch int16) *kmsg.InitProducerIDResponse {
	x.t.Helper()
	h := x.h()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version, req.TransactionalID, req.TransactionTimeoutMillis = version, &id, timeoutMs
	req.ProducerID, req.ProducerEpoch = pid, epoch
	x.take(x.c.InitProducerID(x.now, h, req))
	r, _ := x.replies[h].(*kmsg.InitProducerIDResponse)
	return r
}

func (x *tester) add(id string, pid int64, epoch int16, version int16, tps ...TopicPartition) *kmsg.AddPartitionsToTxnResponse {
	x.t.Helper()
	h := x.h()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = version
	if version < 4 {
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
		for _, tp := range tps {
			req.Topics = append(req.Topics, kmsg.AddPartitionsToTxnRequestTopic{Topic: tp.Topic, Partitions: []int32{tp.Partition}})
		}
	} else {
		rt := kmsg.AddPartitionsToTxnRequestTransaction{TransactionalID: id, ProducerID: pid, ProducerEpoch: epoch}
		for _, tp := range tps {
			rt.Topics = append(rt.Topics, kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: tp.Topic, Partitions: []int32{tp.Partition}})
		}
		req.Transactions = append(req.Transactions, rt)
	}
	x.take(x.c.AddPartitions(x.now, h, req, nil))
	r, _ := x.replies[h].(*kmsg.AddPartitionsToTxnResponse)
	return r
}

// addCode is the error code of a one-transaction add (every partition
// shares it).
func addCode(r *kmsg.AddPartitionsToTxnResponse) int16 {
	if r == nil {
		return -999
	}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			return p.ErrorCode
		}
	}
	for _, tr := range r.Transactions {
		for _, t := range tr.Topics {
			for _, p := range t.Partitions {
				return p.ErrorCode
			}
		}
	}
	return -998
}

func (x *tester) end(id string, pid int64, epoch int16, commit bool, version int16) *kmsg.EndTxnResponse {
	x.t.Helper()
	h := x.h()
	req := kmsg.NewPtrEndTxnRequest()
	req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = version, id, pid, epoch, commit
	x.take(x.c.EndTxn(x.now, h, req))
	r, _ := x.replies[h].(*kmsg.EndTxnResponse)
	return r
}

func (x *tester) state(id string) State {
	m, _, ok := x.c.Get(id)
	if !ok {
		return -1
	}
	return m.State
}
