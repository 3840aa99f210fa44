package core

// FindCoordinator: v0-6
//
// Behavior: a group's coordinator is the leader of its __consumer_offsets
// partition (Kafka's hash of the group ID modulo the partition count), a
// transactional ID's (key type 1) the leader of its __transaction_state
// partition; each topic is created on first use. v4+ answers a batch of
// keys. An unknown key type is INVALID_REQUEST.

import (
	"context"

	"github.com/jocko/jocko/core/group"
	"github.com/jocko/jocko/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.FindCoordinator, 0, 6, (*Broker).handleFindCoordinator) }

func (b *Broker) handleFindCoordinator(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	for _, key := range keys {
		c := b.findCoordinator(ctx, key, req.CoordinatorType)
		if req.Version < 4 {
			resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
			resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
			break
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return reply{resp: resp}
}

func (b *Broker) findCoordinator(ctx context.Context, key string, typ int8) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key, c.NodeID, c.Port = key, -1, -1
	topic, ensure, partOf := offsetsTopic, b.ensureOffsetsTopic, group.Partition
	switch typ {
	case 0:
	case 1:
		topic, ensure, partOf = transactionStateTopic, b.ensureTxnTopic, txn.Partition
	default:
		c.ErrorCode, c.ErrorMessage = kerr.InvalidRequest.Code, strPtr("unknown coordinator key type; 0 is a group, 1 a transactional id")
		return c
	}
	if err := ensure(ctx); err != nil {
		c.ErrorCode, c.ErrorMessage = kerr.CoordinatorNotAvailable.Code, strPtr(err.Error())
		return c
	}
	st := b.node.State()
	t, ok := st.Topic(topic)
	if !ok || len(t.Partitions) == 0 {
		c.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return c
	}
	ps := t.Partitions[partOf(key, int32(len(t.Partitions)))]
	br, ok := st.Brokers[ps.Leader]
	if !ok {
		c.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return c
	}
	c.NodeID, c.Host, c.Port = br.ID, br.Host, br.Port
	return c
}
