package core

// ListPartitionReassignments: v0
//
// Behavior: lists the reassignments in progress, as the controller's
// metadata has them: each partition's full replica list (targets first,
// then the ones being removed), the replicas being added and the ones
// being removed. Null Topics lists every reassignment; named partitions
// that do not exist or are not being reassigned are left out, as in
// KRaft. Any broker answers: the request is forwarded to the controller.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

func init() {
	register(kmsg.ListPartitionReassignments, 0, 0, (*Broker).handleListPartitionReassignments)
}

func (b *Broker) handleListPartitionReassignments(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.ListPartitionReassignmentsRequest)
	notController := func(msg string) kmsg.Response {
		resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		resp.ErrorCode, resp.ErrorMessage = notControllerCode(msg)
		return resp
	}
	return b.controllerAdmin(ctx, r, func(context.Context) kmsg.Response {
		return listReassignments(b.node.State(), req)
	}, notController)
}

// listReassignments answers from st.
func listReassignments(st *cluster.State, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	add := func(t *cluster.Topic, index int32, out *kmsg.ListPartitionReassignmentsResponseTopic) {
		if index < 0 || int(index) >= len(t.Partitions) || !t.Partitions[index].Reassigning() {
			return
		}
		p := t.Partitions[index]
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition = index
		rp.Replicas = slices.Clone(p.Replicas)
		rp.AddingReplicas = append([]int32{}, p.AddingReplicas...)
		rp.RemovingReplicas = append([]int32{}, p.RemovingReplicas...)
		out.Partitions = append(out.Partitions, rp)
	}
	topics := req.Topics
	if topics == nil {
		for _, name := range st.SortedTopicNames() {
			rt := kmsg.NewListPartitionReassignmentsRequestTopic()
			rt.Topic = name
			for _, p := range st.Topics[name].Partitions {
				rt.Partitions = append(rt.Partitions, p.Index)
			}
			topics = append(topics, rt)
		}
	}
	for _, rt := range topics {
		t, ok := st.Topic(rt.Topic)
		if !ok {
			continue
		}
		out := kmsg.NewListPartitionReassignmentsResponseTopic()
		out.Topic = rt.Topic
		for _, index := range rt.Partitions {
			add(t, index, &out)
		}
		if len(out.Partitions) > 0 {
			resp.Topics = append(resp.Topics, out)
		}
	}
	return resp
}
