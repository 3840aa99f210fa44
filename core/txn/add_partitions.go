package txn

// AddPartitionsToTxn: v0-5. AddOffsetsToTxn: v0-4.
//
// Behavior (Kafka's handleAddPartitionsToTransaction and, for v4+
// transactions marked VerifyOnly, handleVerifyPartitionsInTransaction of
// KIP-890 part 1):
//   - v0-3 carry one transaction from a client; v4+ carry a batch from
//     brokers, answered once every transaction of the batch is;
//   - a partition the shell reports (partitionErr: unknown topic,
//     authorisation) fails its whole transaction: those partitions get
//     their error, the others OPERATION_NOT_ATTEMPTED;
//   - an unknown id or another producer id: INVALID_PRODUCER_ID_MAPPING;
//     another epoch: PRODUCER_FENCED (v0-1: INVALID_PRODUCER_EPOCH);
//     a pending transition or PrepareCommit/PrepareAbort:
//     CONCURRENT_TRANSACTIONS;
//   - partitions already in an Ongoing transaction are answered at once;
//     otherwise the transaction becomes Ongoing with them added (its start
//     time set when it was not Ongoing) once the record is durable;
//   - VerifyOnly answers, per partition, NONE if it is in the transaction
//     and TRANSACTION_ABORTABLE if not, writing nothing.
// AddOffsetsToTxn adds the group's __consumer_offsets partition, which the
// shell computes (group.Partition) and passes in.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetsTopic is the topic AddOffsetsToTxn adds a partition of.
const OffsetsTopic = "__consumer_offsets"

// addBatch collects the per-transaction answers of one AddPartitionsToTxn.
type addBatch struct {
	to   Handle
	resp *kmsg.AddPartitionsToTxnResponse
	left int
}

func (b *addBatch) answer(i int, tps []TopicPartition, codeOf func(TopicPartition) int16, out *Output) {
	if b.resp.Version < 4 {
		for _, tp := range tps {
			b.resp.Topics = appendV3(b.resp.Topics, tp, codeOf(tp))
		}
	} else {
		rt := &b.resp.Transactions[i]
		for _, tp := range tps {
			n := len(rt.Topics)
			if n == 0 || rt.Topics[n-1].Topic != tp.Topic {
				rt.Topics = append(rt.Topics, kmsg.AddPartitionsToTxnResponseTransactionTopic{Topic: tp.Topic})
				n++
			}
			rt.Topics[n-1].Partitions = append(rt.Topics[n-1].Partitions,
				kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{Partition: tp.Partition, ErrorCode: codeOf(tp)})
		}
	}
	b.left--
	if b.left == 0 {
		out.reply(b.to, b.resp)
	}
}

func appendV3(ts []kmsg.AddPartitionsToTxnResponseTopic, tp TopicPartition, code int16) []kmsg.AddPartitionsToTxnResponseTopic {
	n := len(ts)
	if n == 0 || ts[n-1].Topic != tp.Topic {
		ts = append(ts, kmsg.AddPartitionsToTxnResponseTopic{Topic: tp.Topic})
		n++
	}
	ts[n-1].Partitions = append(ts[n-1].Partitions, kmsg.AddPartitionsToTxnResponseTopicPartition{Partition: tp.Partition, ErrorCode: code})
	return ts
}

func partitionsOf[T any](topics []T, f func(T) (string, []int32)) []TopicPartition {
	var tps []TopicPartition
	for _, t := range topics {
		name, ps := f(t)
		for _, p := range ps {
			tps = append(tps, TopicPartition{name, p})
		}
	}
	slices.SortFunc(tps, compareTP)
	return slices.Compact(tps)
}

// AddPartitions answers AddPartitionsToTxn. partitionErr, if not nil, is
// the shell's check of each partition (nil: it exists and may be written).
func (c *Coordinator) AddPartitions(nowMs int64, to Handle, req *kmsg.AddPartitionsToTxnRequest,
	partitionErr func(topic string, partition int32) error) Output {
	var out Output
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	resp.Version = req.Version
	b := &addBatch{to: to, resp: resp}
	type one struct {
		id     string
		pid    int64
		epoch  int16
		verify bool
		tps    []TopicPartition
	}
	var all []one
	if req.Version < 4 {
		all = append(all, one{req.TransactionalID, req.ProducerID, req.ProducerEpoch, false,
			partitionsOf(req.Topics, func(t kmsg.AddPartitionsToTxnRequestTopic) (string, []int32) { return t.Topic, t.Partitions })})
	} else {
		for _, rt := range req.Transactions {
			all = append(all, one{rt.TransactionalID, rt.ProducerID, rt.ProducerEpoch, rt.VerifyOnly,
				partitionsOf(rt.Topics, func(t kmsg.AddPartitionsToTxnRequestTransactionTopic) (string, []int32) { return t.Topic, t.Partitions })})
			resp.Transactions = append(resp.Transactions, kmsg.AddPartitionsToTxnResponseTransaction{TransactionalID: rt.TransactionalID})
		}
	}
	b.left = len(all)
	if b.left == 0 {
		out.reply(to, resp)
		return out
	}
	for i, o := range all {
		if bad := badPartitions(o.tps, partitionErr); bad != nil {
			b.answer(i, o.tps, func(tp TopicPartition) int16 {
				if err, ok := bad[tp]; ok {
					return code(err)
				}
				return kerr.OperationNotAttempted.Code
			}, &out)
			continue
		}
		if o.verify {
			codes, err := c.verify(o.id, o.pid, o.epoch, o.tps)
			b.answer(i, o.tps, func(tp TopicPartition) int16 {
				if err != nil {
					return code(err)
				}
				return codes[tp]
			}, &out)
			continue
		}
		tps, version := o.tps, req.Version
		c.add(nowMs, o.id, o.pid, o.epoch, tps, func(err error, out *Output) {
			b.answer(i, tps, func(TopicPartition) int16 { return fencedCode(err, version, 2) }, out)
		}, &out)
	}
	return out
}

func badPartitions(tps []TopicPartition, check func(string, int32) error) map[TopicPartition]error {
	if check == nil {
		return nil
	}
	var bad map[TopicPartition]error
	for _, tp := range tps {
		if err := check(tp.Topic, tp.Partition); err != nil {
			if bad == nil {
				bad = map[TopicPartition]error{}
			}
			bad[tp] = err
		}
	}
	return bad
}

// AddOffsets answers AddOffsetsToTxn; offsetsPartition is the
// __consumer_offsets partition of the request's group.
func (c *Coordinator) AddOffsets(nowMs int64, to Handle, req *kmsg.AddOffsetsToTxnRequest, offsetsPartition int32) Output {
	var out Output
	tps := []TopicPartition{{OffsetsTopic, offsetsPartition}}
	c.add(nowMs, req.TransactionalID, req.ProducerID, req.ProducerEpoch, tps, func(err error, out *Output) {
		resp := kmsg.NewPtrAddOffsetsToTxnResponse()
		resp.Version = req.Version
		resp.ErrorCode = fencedCode(err, req.Version, 2)
		out.reply(to, resp)
	}, &out)
	return out
}

// add adds partitions to a transaction; done is called once, now or when
// the record is durable.
func (c *Coordinator) add(nowMs int64, id string, pid int64, epoch int16, tps []TopicPartition,
	done func(error, *Output), out *Output) {
	t := c.txns[id]
	switch {
	case id == "":
		done(kerr.InvalidRequest, out)
	case t == nil || t.fresh || t.m.ProducerID != pid:
		done(kerr.InvalidProducerIDMapping, out)
	case t.m.ProducerEpoch != epoch:
		done(kerr.ProducerFenced, out)
	case t.pend != nil, t.m.State == PrepareCommit, t.m.State == PrepareAbort:
		done(kerr.ConcurrentTransactions, out)
	case t.m.State == Ongoing && subset(tps, t.m.Partitions):
		done(nil, out)
	default:
		to := t.m
		if t.m.State != Ongoing {
			to.StartMs = nowMs
			to.Partitions = nil
		}
		to.State = Ongoing
		to.UpdateMs = nowMs
		to.ClientVersion = 0
		to.Partitions = union(to.Partitions, tps)
		c.begin(t, &pending{kind: opAdd, to: to, lastEpoch: t.lastEpoch, done: done}, out)
	}
}

// verify is Kafka's handleVerifyPartitionsInTransaction.
func (c *Coordinator) verify(id string, pid int64, epoch int16, tps []TopicPartition) (map[TopicPartition]int16, error) {
	t := c.txns[id]
	switch {
	case id == "":
		return nil, kerr.InvalidRequest
	case t == nil || t.fresh || t.m.ProducerID != pid:
		return nil, kerr.InvalidProducerIDMapping
	case t.m.ProducerEpoch != epoch:
		return nil, kerr.ProducerFenced
	case t.m.State == PrepareCommit || t.m.State == PrepareAbort:
		return nil, kerr.ConcurrentTransactions
	}
	codes := map[TopicPartition]int16{}
	for _, tp := range tps {
		codes[tp] = kerr.TransactionAbortable.Code
		if t.m.State == Ongoing && contains(t.m.Partitions, tp) {
			codes[tp] = 0
		}
	}
	return codes, nil
}

func contains(sorted []TopicPartition, tp TopicPartition) bool {
	_, ok := slices.BinarySearchFunc(sorted, tp, compareTP)
	return ok
}

func subset(tps, of []TopicPartition) bool {
	for _, tp := range tps {
		if !contains(of, tp) {
			return false
		}
	}
	return true
}

func union(a, b []TopicPartition) []TopicPartition {
	u := append(slices.Clone(a), b...)
	slices.SortFunc(u, compareTP)
	return slices.Compact(u)
}
