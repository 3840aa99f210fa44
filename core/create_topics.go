package core

// CreateTopics: v0-7
//
// Behavior: each topic is validated (name, partitions, replication factor or
// explicit assignment, configs) and created through the metadata log; the
// answer comes once the local partitions are open. NumPartitions and
// ReplicationFactor of -1 (v4+, KIP-464) take num.partitions and
// default.replication.factor (min(3, live brokers) unless set). Replicas
// are placed by controller.Place: unfenced brokers only, racks
// alternated, replicas and preferred leaders spread evenly; too few such
// brokers is INVALID_REPLICATION_FACTOR with Kafka's message.
// ValidateOnly (v1+) checks without creating.
// From v5 the answer carries the partitions, replication factor, topic ID
// (v7) and configs.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.CreateTopics, 0, 7, (*Broker).handleCreateTopics) }

func (b *Broker) handleCreateTopics(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		t := kmsg.NewCreateTopicsResponseTopic()
		t.Topic = rt.Topic
		t.NumPartitions, t.ReplicationFactor = -1, -1
		var err error
		if seen[rt.Topic] > 1 {
			err = codeErr(kerr.InvalidRequest.Code, "topic "+rt.Topic+" appears more than once in the request")
		} else {
			err = b.createTopic(ctx, b.createSpec(rt), req.ValidateOnly)
		}
		t.ErrorCode, t.ErrorMessage = errorCode(err)
		if err == nil && !req.ValidateOnly {
			b.fillCreatedTopic(&t)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return reply{resp: resp}
}

func (b *Broker) createSpec(rt kmsg.CreateTopicsRequestTopic) topicSpec {
	st := b.node.State()
	spec := topicSpec{name: rt.Topic, partitions: rt.NumPartitions, replication: rt.ReplicationFactor, configs: map[string]string{}}
	if spec.partitions == -1 {
		spec.partitions = int32(b.brokerInt(st, "num.partitions"))
	}
	if spec.replication == -1 {
		spec.replication = int16(b.brokerInt(st, "default.replication.factor"))
	}
	if len(rt.ReplicaAssignment) > 0 {
		spec.assignments = make([][]int32, len(rt.ReplicaAssignment))
		for _, a := range rt.ReplicaAssignment {
			if a.Partition < 0 || int(a.Partition) >= len(rt.ReplicaAssignment) {
				spec.assignments = [][]int32{{}} // rejected by assignReplicas
				break
			}
			spec.assignments[a.Partition] = a.Replicas
		}
	}
	for _, c := range rt.Configs {
		if c.Value != nil {
			spec.configs[c.Name] = *c.Value
		}
	}
	return spec
}

// fillCreatedTopic adds what v5+ responses carry about a new topic.
func (b *Broker) fillCreatedTopic(t *kmsg.CreateTopicsResponseTopic) {
	st := b.node.State()
	top, ok := st.Topic(t.Topic)
	if !ok {
		return
	}
	t.TopicID = top.ID
	t.NumPartitions = int32(len(top.Partitions))
	if len(top.Partitions) > 0 {
		t.ReplicationFactor = int16(len(top.Partitions[0].Replicas))
	}
	for _, name := range sortedKeys(topicDefs) {
		v, src := b.topicSetting(st, top, name)
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name, c.Value, c.Source = name, strPtr(v), src
		t.Configs = append(t.Configs, c)
	}
}
