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
	if leader, ok := b.node.LeaderID(); ok && leader != b.cfg.NodeID && !req.ValidateOnly && !forwardedByBroker(r) {
		return reply{wait: func() kmsg.Response { return b.createTopicsAtController(ctx, req, leader) }}
	}
	return reply{resp: b.createTopicsHere(ctx, req)}
}

// createTopicsAtController has the controller create the topics: placement
// must see every broker the controller has unfenced, and this broker's
// metadata may lag it (just after start, brokers are unfenced one by one).
// The answer waits until this broker's own metadata has each created
// topic, so that the client's next request here finds it. If the
// controller cannot be reached, the topics are placed here.
func (b *Broker) createTopicsAtController(ctx context.Context, req *kmsg.CreateTopicsRequest, leader int32) kmsg.Response {
	ctx, cancel := b.requestContext(ctx, req.TimeoutMillis)
	defer cancel()
	resp, err := b.peerRequest(ctx, leader, req)
	if err != nil {
		return b.createTopicsHere(ctx, req)
	}
	cr := resp.(*kmsg.CreateTopicsResponse)
	for i := range cr.Topics {
		t := &cr.Topics[i]
		if t.ErrorCode != 0 {
			continue
		}
		for {
			changed := b.node.Changed()
			if _, ok := b.node.State().Topic(t.Topic); ok {
				break
			}
			select {
			case <-changed:
				continue
			case <-ctx.Done():
			}
			t.ErrorCode = kerr.RequestTimedOut.Code
			msg := "created, but this broker's metadata does not show it yet; retry"
			t.ErrorMessage = &msg
			break
		}
	}
	return cr
}

// createTopicsHere creates the topics from this broker's metadata.
func (b *Broker) createTopicsHere(ctx context.Context, req *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
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
	return resp
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
