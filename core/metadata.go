package core

// Metadata: v0-13
//
// Behavior: lists the brokers, the controller (the metadata Raft leader) and
// the asked-for topics (all topics for a null list, or an empty list before
// v1). A missing topic is created when the request allows it (always before
// v4) and auto.create.topics.enable is true, with num.partitions and
// default.replication.factor; creation is synchronous, so the answer already
// carries the new topic's leaders. Topics may be asked for by ID from v10.

import (
	"context"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.Metadata, 0, 13, (*Broker).handleMetadata) }

func (b *Broker) handleMetadata(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	st := b.node.State()
	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if !all {
		st = b.autoCreate(ctx, req, st)
	}
	for _, id := range sortedBrokerIDs(st) {
		br := st.Brokers[id]
		if br.Fenced {
			continue // as KRaft: clients see only the brokers that may serve
		}
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = br.ID, br.Host, br.Port
		if br.Rack != "" {
			mb.Rack = strPtr(br.Rack)
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	resp.ClusterID = strPtr(st.ClusterID)
	resp.ControllerID = -1
	if id, ok := b.node.LeaderID(); ok {
		resp.ControllerID = id
	}
	if all {
		for _, name := range st.SortedTopicNames() {
			resp.Topics = append(resp.Topics, metadataTopic(st.Topics[name]))
		}
		return reply{resp: resp}
	}
	for _, rt := range req.Topics {
		var t *cluster.Topic
		var ok bool
		if rt.Topic != nil {
			t, ok = st.Topic(*rt.Topic)
		} else {
			t, ok = st.TopicByID(rt.TopicID)
		}
		if ok {
			resp.Topics = append(resp.Topics, metadataTopic(t))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		if rt.Topic == nil {
			mt.ErrorCode = kerr.UnknownTopicID.Code
		} else if validTopicName(*rt.Topic) != nil {
			mt.ErrorCode = kerr.InvalidTopicException.Code
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return reply{resp: resp}
}

// autoCreate creates the missing, validly named topics of req when allowed,
// and returns the metadata state that includes them.
func (b *Broker) autoCreate(ctx context.Context, req *kmsg.MetadataRequest, st *cluster.State) *cluster.State {
	allowed := req.Version < 4 || req.AllowAutoTopicCreation
	if !allowed || !b.brokerBool(st, "auto.create.topics.enable") {
		return st
	}
	created := false
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			continue
		}
		name := *rt.Topic
		if _, ok := st.Topic(name); ok || validTopicName(name) != nil || isReservedTopic(name) {
			continue
		}
		err := b.createTopic(ctx, topicSpec{
			name:        name,
			partitions:  int32(b.brokerInt(st, "num.partitions")),
			replication: int16(min(b.brokerInt(st, "default.replication.factor"), int64(max(liveBrokers(st), 1)))),
		}, false)
		if code, msg := errorCode(err); code != 0 && code != kerr.TopicAlreadyExists.Code {
			b.log.Warn("auto-create topic", "topic", name, "err", *msg)
		}
		created = true
	}
	if created {
		return b.node.State()
	}
	return st
}

func metadataTopic(t *cluster.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = strPtr(t.Name)
	mt.TopicID = t.ID
	mt.IsInternal = t.Internal
	for _, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.Index
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = p.Replicas
		mp.ISR = p.ISR
		if p.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
