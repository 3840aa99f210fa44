package txn

// EndTxn: v0-5.
//
// Behavior (Kafka's TransactionCoordinator.endTransaction):
//   - an unknown id or another producer id: INVALID_PRODUCER_ID_MAPPING;
//     a wrong epoch: PRODUCER_FENCED (v0-1: INVALID_PRODUCER_EPOCH); a
//     pending transition: CONCURRENT_TRANSACTIONS;
//   - Ongoing moves to PrepareCommit or PrepareAbort; once that record is
//     durable the request is answered and the Output carries the marker
//     work; when every marker is written (MarkersWritten) the completion
//     record follows;
//   - a retry: CompleteCommit/CompleteAbort with the same result answers
//     NONE, PrepareCommit/PrepareAbort CONCURRENT_TRANSACTIONS; the other
//     result, and Empty, answer INVALID_TXN_STATE;
//   - v5 (KIP-890 part 2, client transaction version 2): every EndTxn
//     bumps the epoch, and the response carries the producer id and epoch
//     to use next; an exhausted epoch moves to a fresh producer id at
//     epoch 0 once the transaction completes. A retry is recognised by the
//     epoch one below the stored one (or, after a rotation, the previous
//     producer id at epoch 32766).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndTxn answers EndTxn.
func (c *Coordinator) EndTxn(nowMs int64, to Handle, req *kmsg.EndTxnRequest) Output {
	var out Output
	answer := func(err error, pid int64, epoch int16, out *Output) {
		resp := kmsg.NewPtrEndTxnResponse()
		resp.Version = req.Version
		resp.ErrorCode = fencedCode(err, req.Version, 2)
		resp.ProducerID, resp.ProducerEpoch = noProducerID, noProducerEpoch
		if err == nil {
			resp.ProducerID, resp.ProducerEpoch = pid, epoch
		}
		out.reply(to, resp)
	}
	tv := int16(0)
	if req.Version >= 5 {
		tv = 2
	}
	if err := c.endTxn(nowMs, req, tv, answer, &out); err != nil {
		answer(err, 0, 0, &out)
	}
	return out
}

func (c *Coordinator) endTxn(nowMs int64, req *kmsg.EndTxnRequest, tv int16,
	answer func(error, int64, int16, *Output), out *Output) error {
	if req.TransactionalID == "" {
		return kerr.InvalidRequest
	}
	t := c.txns[req.TransactionalID]
	if t == nil || t.fresh {
		return kerr.InvalidProducerIDMapping
	}
	pid, epoch, m := req.ProducerID, req.ProducerEpoch, &t.m
	tv2 := m.ClientVersion >= 2
	retryOnOverflow := tv2 && m.PrevProducerID == pid && epoch == epochMax-1 && m.ProducerEpoch == 0
	retryOnBump := tv2 && int32(m.ProducerEpoch) == int32(epoch)+1
	valid := epoch == m.ProducerEpoch
	if tv2 {
		switch m.State {
		case PrepareCommit, PrepareAbort:
			valid = retryOnBump
		case CompleteCommit, CompleteAbort:
			valid = retryOnBump || retryOnOverflow
		}
	}
	switch {
	case m.ProducerID != pid && !retryOnOverflow:
		return kerr.InvalidProducerIDMapping
	case !valid:
		return kerr.ProducerFenced
	case t.pend != nil:
		return kerr.ConcurrentTransactions
	}
	switch m.State {
	case Ongoing:
	case CompleteCommit, CompleteAbort:
		if req.Commit == (m.State == CompleteCommit) {
			answer(nil, m.ProducerID, m.ProducerEpoch, out)
			return nil
		}
		return kerr.InvalidTxnState
	case PrepareCommit, PrepareAbort:
		if req.Commit == (m.State == PrepareCommit) {
			return kerr.ConcurrentTransactions
		}
		return kerr.InvalidTxnState
	default:
		return kerr.InvalidTxnState
	}
	to := *m
	to.State = PrepareAbort
	if req.Commit {
		to.State = PrepareCommit
	}
	to.UpdateMs = nowMs
	to.ClientVersion = tv
	to.NextProducerID = noProducerID
	lastEpoch := t.lastEpoch
	if tv >= 2 {
		if epochExhausted(m.ProducerEpoch) {
			next, err := c.ids.Next()
			if err != nil {
				return err
			}
			to.NextProducerID = next
		}
		to.ProducerEpoch, lastEpoch = m.ProducerEpoch+1, m.ProducerEpoch
	}
	c.begin(t, &pending{kind: opPrepare, to: to, lastEpoch: lastEpoch, done: func(err error, out *Output) {
		if err != nil {
			answer(err, 0, 0, out)
			return
		}
		// The producer id and epoch the transaction completes with (Kafka
		// 4 answers these from prepareComplete's metadata).
		done := t.pend.to
		answer(nil, done.ProducerID, done.ProducerEpoch, out)
	}}, out)
	return nil
}
