package core

// The transaction coordinator's requests: InitProducerId with a
// transactional id (v0-5, init_producer_id.go hands it over),
// AddPartitionsToTxn v0-5, AddOffsetsToTxn v0-4, EndTxn v0-5,
// DescribeTransactions v0 and ListTransactions v0-2.
//
// Behavior: each transactional id is served by the leader of its
// __transaction_state partition (FindCoordinator with key type 1 names it
// and creates the topic on first use); other brokers answer
// NOT_COORDINATOR, the leader COORDINATOR_LOAD_IN_PROGRESS while it loads
// the partition. What each request does is core/txn's (each handler file
// there says which versions and how). AddPartitionsToTxn v4+ (brokers'
// batches, KIP-890) is split by coordinator partition: a transaction
// coordinated elsewhere is answered NOT_COORDINATOR. DescribeTransactions
// answers each id from its partition; ListTransactions merges the
// partitions led here (COORDINATOR_LOAD_IN_PROGRESS while one loads), and
// applies v2's id pattern (RE2) here; a bad pattern is INVALID_REQUEST.

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/jocko/jocko/core/group"
	"github.com/jocko/jocko/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(kmsg.AddPartitionsToTxn, 0, 5, (*Broker).handleAddPartitionsToTxn)
	register(kmsg.AddOffsetsToTxn, 0, 4, (*Broker).handleAddOffsetsToTxn)
	register(kmsg.EndTxn, 0, 5, (*Broker).handleEndTxn)
	register(kmsg.DescribeTransactions, 0, 0, (*Broker).handleDescribeTransactions)
	register(kmsg.ListTransactions, 0, 2, (*Broker).handleListTransactions)
}

// txnCall routes a request of transactionalID to its shard.
func (b *Broker) txnCall(ctx context.Context, transactionalID string, req kmsg.Request,
	input func(c *txn.Coordinator, now int64, h txn.Handle) txn.Output) reply {
	unavailable := func(err error) kmsg.Response { return txnCoordinatorError(req, err) }
	s, err := b.txns.shardFor(transactionalID)
	if err != nil {
		return reply{resp: unavailable(err)}
	}
	return s.call(ctx, req, unavailable, input)
}

func (b *Broker) initTransactionalProducer(ctx context.Context, req *kmsg.InitProducerIDRequest) reply {
	return b.txnCall(ctx, *req.TransactionalID, req, func(c *txn.Coordinator, now int64, h txn.Handle) txn.Output {
		return c.InitProducerID(now, h, req)
	})
}

func (b *Broker) handleAddPartitionsToTxn(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.AddPartitionsToTxnRequest)
	if req.Version < 4 {
		return b.txnCall(ctx, req.TransactionalID, req, func(c *txn.Coordinator, now int64, h txn.Handle) txn.Output {
			return c.AddPartitions(now, h, req, b.txnPartitionErr)
		})
	}
	// A broker's batch: one sub-request per coordinator partition.
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	type sub struct {
		s   *txnShard
		req *kmsg.AddPartitionsToTxnRequest
	}
	var subs []sub
	for _, rt := range req.Transactions {
		s, err := b.txns.shardFor(rt.TransactionalID)
		if err != nil {
			resp.Transactions = append(resp.Transactions, addPartitionsFailed(rt, coordinatorCode(err)))
			continue
		}
		i := slices.IndexFunc(subs, func(x sub) bool { return x.s == s })
		if i < 0 {
			q := *req
			q.Transactions = nil
			subs = append(subs, sub{s: s, req: &q})
			i = len(subs) - 1
		}
		subs[i].req.Transactions = append(subs[i].req.Transactions, rt)
	}
	var waits []reply
	for _, x := range subs {
		q := x.req
		waits = append(waits, x.s.call(ctx, q, func(err error) kmsg.Response {
			out := q.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
			for _, rt := range q.Transactions {
				out.Transactions = append(out.Transactions, addPartitionsFailed(rt, coordinatorCode(err)))
			}
			return out
		}, func(c *txn.Coordinator, now int64, h txn.Handle) txn.Output {
			return c.AddPartitions(now, h, q, b.txnPartitionErr)
		}))
	}
	return reply{wait: func() kmsg.Response {
		for _, w := range waits {
			m := w.resp
			if w.wait != nil {
				m = w.wait()
			}
			if m == nil {
				return nil // the client went away
			}
			resp.Transactions = append(resp.Transactions, m.(*kmsg.AddPartitionsToTxnResponse).Transactions...)
		}
		return resp
	}}
}

// addPartitionsFailed answers every partition of one transaction of an
// AddPartitionsToTxn v4+ with code.
func addPartitionsFailed(rt kmsg.AddPartitionsToTxnRequestTransaction, code int16) kmsg.AddPartitionsToTxnResponseTransaction {
	out := kmsg.NewAddPartitionsToTxnResponseTransaction()
	out.TransactionalID = rt.TransactionalID
	for _, t := range rt.Topics {
		ot := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
		ot.Topic = t.Topic
		for _, p := range t.Partitions {
			op := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
			op.Partition, op.ErrorCode = p, code
			ot.Partitions = append(ot.Partitions, op)
		}
		out.Topics = append(out.Topics, ot)
	}
	return out
}

func (b *Broker) handleAddOffsetsToTxn(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.AddOffsetsToTxnRequest)
	if err := b.ensureOffsetsTopic(ctx); err != nil {
		resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return reply{resp: resp}
	}
	t, _ := b.node.State().Topic(offsetsTopic)
	part := group.Partition(req.Group, int32(len(t.Partitions)))
	return b.txnCall(ctx, req.TransactionalID, req, func(c *txn.Coordinator, now int64, h txn.Handle) txn.Output {
		return c.AddOffsets(now, h, req, part)
	})
}

func (b *Broker) handleEndTxn(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.EndTxnRequest)
	return b.txnCall(ctx, req.TransactionalID, req, func(c *txn.Coordinator, now int64, h txn.Handle) txn.Output {
		return c.EndTxn(now, h, req)
	})
}

func (b *Broker) handleDescribeTransactions(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		var st kmsg.DescribeTransactionsResponseTransactionState
		s, err := b.txns.shardFor(id)
		if err == nil {
			err = s.read(func(c *txn.Coordinator) { st = c.Describe(id) })
		}
		if err != nil {
			st = kmsg.NewDescribeTransactionsResponseTransactionState()
			st.TransactionalID, st.ErrorCode = id, coordinatorCode(err)
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return reply{resp: resp}
}

func (b *Broker) handleListTransactions(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	var pattern *regexp.Regexp
	if req.Version >= 2 && req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		re, err := regexp.Compile(*req.TransactionalIDPattern)
		if err != nil {
			resp.ErrorCode = kerr.InvalidRequest.Code
			return reply{resp: resp}
		}
		pattern = re
	}
	now := b.env.Clock.Now().UnixMilli()
	var unknown []string
	for _, s := range b.txns.allShards() {
		err := s.read(func(c *txn.Coordinator) {
			list, u := c.List(now, req)
			unknown = u
			for _, t := range list {
				if pattern == nil || pattern.MatchString(t.TransactionalID) {
					resp.TransactionStates = append(resp.TransactionStates, t)
				}
			}
		})
		if errors.Is(err, errCoordinatorLoading) {
			resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		}
	}
	if len(b.txns.allShards()) == 0 {
		// No partition led here: the filters are still checked.
		for _, name := range req.StateFilters {
			if _, ok := txn.ParseState(name); !ok {
				unknown = append(unknown, name)
			}
		}
	}
	resp.UnknownStateFilters = unknown
	slices.SortFunc(resp.TransactionStates, func(a, b kmsg.ListTransactionsResponseTransactionState) int {
		return strings.Compare(a.TransactionalID, b.TransactionalID)
	})
	return reply{resp: resp}
}
