package core

// CreatePartitions: v0-3
//
// Behavior: grows a topic to Count partitions (never shrinks:
// INVALID_PARTITIONS), with explicit replica assignments for the new
// partitions or placed by controller.Place at the topic's replication
// factor (rack-aware, evening out the topic's replicas and preferred
// leaders). ValidateOnly checks without changing anything. The internal
// topics (__consumer_offsets, __transaction_state) keep their count:
// INVALID_REQUEST, as Kafka's TopicCommand refused it (KAFKA-7801), since
// a group's partition is hash(group) mod the count and a new count would
// lose every group's committed offsets.

import (
	"context"
	"fmt"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.CreatePartitions, 0, 3, (*Broker).handleCreatePartitions) }

func (b *Broker) handleCreatePartitions(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, rt := range req.Topics {
		t := kmsg.NewCreatePartitionsResponseTopic()
		t.Topic = rt.Topic
		err := b.createPartitions(ctx, rt, req.ValidateOnly)
		t.ErrorCode, t.ErrorMessage = errorCode(err)
		resp.Topics = append(resp.Topics, t)
	}
	return reply{resp: resp}
}

func (b *Broker) createPartitions(ctx context.Context, rt kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	st := b.node.State()
	t, ok := st.Topic(rt.Topic)
	if !ok {
		return codeErr(kerr.UnknownTopicOrPartition.Code, "topic "+rt.Topic+" does not exist")
	}
	if isInternalTopic(t) {
		return codeErr(kerr.InvalidRequest.Code, fmt.Sprintf("the number of partitions of internal topic %s cannot be changed: it maps every group or transactional ID to its partition", t.Name))
	}
	have := int32(len(t.Partitions))
	if rt.Count <= have {
		return codeErr(kerr.InvalidPartitions.Code, fmt.Sprintf("topic %s has %d partitions; the new count %d must be larger", rt.Topic, have, rt.Count))
	}
	if err := checkTopicBudget(int(rt.Count), b.topicSettingWith(st, t.Configs)); err != nil {
		return err
	}
	add := int(rt.Count - have)
	var assign [][]int32
	if rt.Assignment != nil {
		if len(rt.Assignment) != add {
			return codeErr(kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("%d assignments given for %d new partitions", len(rt.Assignment), add))
		}
		for _, a := range rt.Assignment {
			assign = append(assign, a.Replicas)
		}
		var err error
		if assign, err = b.assignReplicas(st, topicSpec{assignments: assign}); err != nil {
			return err
		}
	} else {
		existing := make([][]int32, len(t.Partitions))
		for i, p := range t.Partitions {
			existing[i] = p.Replicas
		}
		var err error
		if assign, err = b.place(st, add, len(t.Partitions[0].Replicas), existing); err != nil {
			return err
		}
	}
	if validateOnly {
		return nil
	}
	if err := b.propose(ctx, cluster.CreatePartitions{Topic: rt.Topic, Assignments: assign}); err != nil {
		return err
	}
	b.log.Info("partitions created", "topic", rt.Topic, "count", rt.Count)
	return nil
}

// isInternalTopic reports whether t is one of Kafka's internal topics:
// flagged so in the metadata, or named like one (Kafka's Topic.isInternal
// goes by the name).
func isInternalTopic(t *cluster.Topic) bool {
	return t.Internal || t.Name == offsetsTopic || t.Name == transactionStateTopic
}
