package core

// AlterPartitionReassignments: v0-1
//
// Behavior: the controller starts, replaces or (with null Replicas)
// cancels each partition's reassignment as KRaft does
// (controller.Reassign): the partition's replicas become the target
// followed by the ones being removed, the added brokers open follower
// replicas and catch up, and the controller's tick completes the move
// once every target is in the ISR (the removed brokers then delete their
// copies). A target that only reorders the replicas, or whose brokers are
// all in sync already, takes effect before the answer. v1's
// AllowReplicationFactorChange false (KIP-860) refuses a target of
// another size with INVALID_REPLICATION_FACTOR. Any broker answers: the
// request is forwarded to the controller.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/cluster/controller"
)

func init() {
	register(kmsg.AlterPartitionAssignments, 0, 1, (*Broker).handleAlterPartitionReassignments)
}

func (b *Broker) handleAlterPartitionReassignments(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.AlterPartitionAssignmentsRequest)
	notController := func(msg string) kmsg.Response {
		resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		resp.ErrorCode, resp.ErrorMessage = notControllerCode(msg)
		return resp
	}
	return b.controllerAdmin(ctx, r, func(ctx context.Context) kmsg.Response {
		return b.ctrl.alterReassignments(ctx, req)
	}, notController)
}

// alterReassignments decides and commits each requested change; the
// caller holds the round lock.
func (c *controllerShell) alterReassignments(ctx context.Context, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange
	ctx, cancel := c.b.requestContext(ctx, req.TimeoutMillis)
	defer cancel()
	// v0 has no such field: a replication factor change is allowed.
	allowRF := req.AllowReplicationFactorChange || req.Version < 1
	for _, rt := range req.Topics {
		t := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			pr := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			pr.Partition = rp.Partition
			err := c.proposeDecision(ctx, func(st *cluster.State) (cluster.Command, error) {
				cmd, changed, err := controller.Reassign(st, c.brokerInfos(st), rt.Topic, rp.Partition, rp.Replicas, allowRF)
				if err != nil || !changed {
					return nil, err
				}
				return cmd, nil
			})
			pr.ErrorCode, pr.ErrorMessage = decisionError(err)
			if err == nil {
				c.b.log.Info("reassignment requested", "topic", rt.Topic, "partition", rp.Partition, "target", rp.Replicas)
			}
			t.Partitions = append(t.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, t)
	}
	// Targets already in sync (a shrink, a reorder) need not wait a tick.
	c.completeReassignments(ctx)
	return resp
}
