package txn

// InitProducerId with a transactional id: v0-5.
//
// Behavior (Kafka's TransactionCoordinator.handleInitProducerId):
//   - an empty id is INVALID_REQUEST; a timeout <= 0 or above
//     transaction.max.timeout.ms is INVALID_TRANSACTION_TIMEOUT; v3+ with
//     only one of producer id and epoch set is INVALID_REQUEST;
//   - a new id gets a fresh producer id at epoch 0;
//   - an id in Empty/CompleteCommit/CompleteAbort bumps the epoch; with an
//     exhausted epoch (32766 and up) it rotates to a fresh producer id at
//     epoch 0;
//   - KIP-360: a request naming its producer id and epoch resumes: the
//     current epoch is bumped, a retry with the previous epoch gets the
//     current one back, any other epoch is PRODUCER_FENCED (v0-3:
//     INVALID_PRODUCER_EPOCH), as is another producer id;
//   - an Ongoing transaction is fenced: aborted with a bumped epoch, and
//     the request answered CONCURRENT_TRANSACTIONS so the client retries;
//   - while a transition is pending or markers are being written:
//     CONCURRENT_TRANSACTIONS.
// A request without a transactional id does not reach the coordinator.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerID answers InitProducerId for a transactional id.
func (c *Coordinator) InitProducerID(nowMs int64, to Handle, req *kmsg.InitProducerIDRequest) Output {
	var out Output
	answer := func(err error, pid int64, epoch int16, out *Output) {
		resp := kmsg.NewPtrInitProducerIDResponse()
		resp.Version = req.Version
		resp.ErrorCode = fencedCode(err, req.Version, 4)
		resp.ProducerID, resp.ProducerEpoch = noProducerID, noProducerEpoch
		if err == nil {
			resp.ProducerID, resp.ProducerEpoch = pid, epoch
		}
		out.reply(to, resp)
	}
	if err := c.initProducerID(nowMs, req, answer, &out); err != nil {
		answer(err, 0, 0, &out)
	}
	return out
}

type expected struct {
	set   bool
	pid   int64
	epoch int16
}

func (c *Coordinator) initProducerID(nowMs int64, req *kmsg.InitProducerIDRequest,
	answer func(error, int64, int16, *Output), out *Output) error {
	if req.TransactionalID == nil || *req.TransactionalID == "" {
		return kerr.InvalidRequest
	}
	if req.TransactionTimeoutMillis <= 0 || req.TransactionTimeoutMillis > c.cfg.TimeoutMaxMs {
		return kerr.InvalidTransactionTimeout
	}
	var exp expected
	if req.Version >= 3 {
		switch {
		case req.ProducerID == noProducerID && req.ProducerEpoch == noProducerEpoch:
		case req.ProducerID == noProducerID || req.ProducerEpoch == noProducerEpoch:
			return kerr.InvalidRequest
		default:
			exp = expected{true, req.ProducerID, req.ProducerEpoch}
		}
	}
	id := *req.TransactionalID
	t := c.txns[id]
	if t == nil {
		pid, err := c.ids.Next()
		if err != nil {
			return err
		}
		t = &txn{id: id, fresh: true, lastEpoch: noProducerEpoch, m: Meta{
			ProducerID: pid, PrevProducerID: noProducerID, NextProducerID: noProducerID,
			ProducerEpoch: noProducerEpoch, TimeoutMs: req.TransactionTimeoutMillis,
			State: Empty, UpdateMs: nowMs, StartMs: -1,
		}}
		c.txns[id] = t
	}
	if t.pend != nil {
		return kerr.ConcurrentTransactions
	}
	if exp.set && !(t.m.ProducerEpoch == noProducerEpoch || exp.pid == t.m.ProducerID ||
		(exp.pid == t.m.PrevProducerID && epochExhausted(exp.epoch))) {
		return kerr.ProducerFenced
	}
	switch t.m.State {
	case PrepareCommit, PrepareAbort:
		return kerr.ConcurrentTransactions
	case Ongoing:
		c.fence(t, nowMs, func(err error, out *Output) {
			if err == nil {
				err = kerr.ConcurrentTransactions
			}
			answer(err, 0, 0, out)
		}, out)
		return nil
	}
	to, lastEpoch, err := c.bumpOrRotate(t, nowMs, req.TransactionTimeoutMillis, exp)
	if err != nil {
		if t.fresh {
			delete(c.txns, id)
		}
		return err
	}
	c.begin(t, &pending{kind: opInit, to: to, lastEpoch: lastEpoch, done: func(err error, out *Output) {
		answer(err, to.ProducerID, to.ProducerEpoch, out)
	}}, out)
	return nil
}

// bumpOrRotate is Kafka's prepareIncrementProducerEpoch and
// prepareProducerIdRotation: the Empty metadata InitProducerId moves to.
func (c *Coordinator) bumpOrRotate(t *txn, nowMs int64, timeoutMs int32, exp expected) (Meta, int16, error) {
	to := t.m
	to.State, to.Partitions, to.StartMs, to.UpdateMs, to.TimeoutMs = Empty, nil, -1, nowMs, timeoutMs
	to.PrevProducerID = t.m.ProducerID
	to.ClientVersion = 0
	if epochExhausted(t.m.ProducerEpoch) {
		if exp.set && exp.epoch != t.m.ProducerEpoch {
			return Meta{}, 0, kerr.ProducerFenced
		}
		pid, err := c.ids.Next()
		if err != nil {
			return Meta{}, 0, err
		}
		to.ProducerID, to.ProducerEpoch = pid, 0
		last := noProducerEpoch
		if exp.set {
			last = t.m.ProducerEpoch
		}
		return to, last, nil
	}
	bumped := t.m.ProducerEpoch + 1
	switch {
	case !exp.set:
		to.ProducerEpoch = bumped
		return to, noProducerEpoch, nil
	case t.m.ProducerEpoch == noProducerEpoch || exp.epoch == t.m.ProducerEpoch:
		to.ProducerEpoch = bumped
		return to, t.m.ProducerEpoch, nil
	case exp.epoch == t.lastEpoch:
		// A retry of a call that succeeded: the current epoch again.
		return to, t.lastEpoch, nil
	}
	return Meta{}, 0, kerr.ProducerFenced
}

// fence aborts an Ongoing transaction with a bumped epoch (Kafka's
// prepareFenceProducerEpoch, then an abort not from the client: Ongoing ->
// PrepareEpochFence -> PrepareAbort). PrepareEpochFence is never written:
// the PrepareAbort record carries the bumped epoch. Unlike Kafka with
// transaction.version 2, the abort does not bump the epoch a second time
// and is recorded with client transaction version 0, so a fenced
// producer's EndTxn retry can never pass as a KIP-890 retry.
func (c *Coordinator) fence(t *txn, nowMs int64, done func(error, *Output), out *Output) {
	if !ValidPrevious(PrepareEpochFence, t.m.State) || !ValidPrevious(PrepareAbort, PrepareEpochFence) {
		panic("txn: fence of a transaction in state " + t.m.State.String())
	}
	if t.m.ProducerEpoch == epochMax {
		panic("txn: fence of transaction " + t.id + " at epoch 32767 would overflow")
	}
	to := t.m
	to.State = PrepareAbort
	to.ProducerEpoch++
	to.NextProducerID = noProducerID
	to.UpdateMs = nowMs
	to.ClientVersion = 0
	to.Partitions = t.m.Partitions
	c.begin(t, &pending{kind: opPrepare, to: to, lastEpoch: noProducerEpoch, done: done}, out)
}
