package txn

// DescribeTransactions v0 and ListTransactions v0-1 (KIP-664, KIP-994's
// duration filter). The shell splits a DescribeTransactions request by
// coordinator partition and merges ListTransactions over its partitions;
// this answers for one partition.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Describe answers one transactional id of DescribeTransactions: unknown
// ids, and ids not yet durable or being expired, are
// TRANSACTIONAL_ID_NOT_FOUND.
func (c *Coordinator) Describe(transactionalID string) kmsg.DescribeTransactionsResponseTransactionState {
	s := kmsg.NewDescribeTransactionsResponseTransactionState()
	s.TransactionalID = transactionalID
	t := c.txns[transactionalID]
	switch {
	case transactionalID == "":
		s.ErrorCode = kerr.InvalidRequest.Code
		return s
	case t == nil || t.fresh || (t.pend != nil && t.pend.kind == opDead):
		s.ErrorCode = kerr.TransactionalIDNotFound.Code
		return s
	}
	s.State = t.m.State.String()
	s.TimeoutMillis = t.m.TimeoutMs
	s.StartTimestamp = t.m.StartMs
	s.ProducerID = t.m.ProducerID
	s.ProducerEpoch = t.m.ProducerEpoch
	for _, tp := range t.m.Partitions {
		n := len(s.Topics)
		if n == 0 || s.Topics[n-1].Topic != tp.Topic {
			s.Topics = append(s.Topics, kmsg.DescribeTransactionsResponseTransactionStateTopic{Topic: tp.Topic})
			n++
		}
		s.Topics[n-1].Partitions = append(s.Topics[n-1].Partitions, tp.Partition)
	}
	return s
}

// List answers ListTransactions for this partition: the transactions that
// pass every filter, sorted by id, and the state filters that name no
// state. The duration filter (v1+, when >= 0) keeps transactions started
// more than that long ago. The v2 id pattern is the shell's.
func (c *Coordinator) List(nowMs int64, req *kmsg.ListTransactionsRequest) ([]kmsg.ListTransactionsResponseTransactionState, []string) {
	var unknown []string
	states := map[State]bool{}
	for _, name := range req.StateFilters {
		if s, ok := ParseState(name); ok {
			states[s] = true
		} else {
			unknown = append(unknown, name)
		}
	}
	pids := map[int64]bool{}
	for _, p := range req.ProducerIDFilters {
		pids[p] = true
	}
	duration := int64(-1)
	if req.Version >= 1 {
		duration = req.DurationFilterMillis
	}
	var list []kmsg.ListTransactionsResponseTransactionState
	for _, t := range c.sortedTxns() {
		switch {
		case t.fresh || (t.pend != nil && t.pend.kind == opDead):
		case len(pids) > 0 && !pids[t.m.ProducerID]:
		case len(req.StateFilters) > 0 && !states[t.m.State]:
		case duration >= 0 && nowMs-t.m.StartMs <= duration:
		default:
			s := kmsg.NewListTransactionsResponseTransactionState()
			s.TransactionalID, s.ProducerID, s.TransactionState = t.id, t.m.ProducerID, t.m.State.String()
			list = append(list, s)
		}
	}
	return list, unknown
}
