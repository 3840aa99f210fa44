package core

// DeleteTopics: v0-6
//
// Behavior: each topic (by name, or from v6 by name or ID) is removed from
// the metadata log; the answer comes once this broker has closed the
// partitions and deleted their data. delete.topic.enable=false answers
// TOPIC_DELETION_DISABLED; internal topics cannot be deleted.

import (
	"context"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DeleteTopics, 0, 6, (*Broker).handleDeleteTopics) }

func (b *Broker) handleDeleteTopics(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	targets := req.Topics
	if req.Version < 6 {
		targets = nil
		for _, n := range req.TopicNames {
			t := kmsg.NewDeleteTopicsRequestTopic()
			t.Topic = strPtr(n)
			targets = append(targets, t)
		}
	}
	for _, rt := range targets {
		t := kmsg.NewDeleteTopicsResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		err := b.deleteTopic(ctx, rt.Topic, rt.TopicID)
		t.ErrorCode, t.ErrorMessage = errorCode(err)
		if err == nil && t.Topic == nil {
			// Name the deleted topic when it was asked for by ID.
			t.Topic = rt.Topic
		}
		resp.Topics = append(resp.Topics, t)
	}
	return reply{resp: resp}
}

func (b *Broker) deleteTopic(ctx context.Context, name *string, id [16]byte) error {
	st := b.node.State()
	if !b.brokerBool(st, "delete.topic.enable") {
		return codeErr(kerr.TopicDeletionDisabled.Code, "topic deletion is disabled (delete.topic.enable=false)")
	}
	var t *cluster.Topic
	var ok bool
	if name != nil {
		t, ok = st.Topic(*name)
	} else {
		t, ok = st.TopicByID(id)
	}
	if !ok {
		if name == nil {
			return codeErr(kerr.UnknownTopicID.Code, "no topic has that ID")
		}
		return codeErr(kerr.UnknownTopicOrPartition.Code, "topic "+*name+" does not exist")
	}
	if t.Internal {
		return codeErr(kerr.InvalidRequest.Code, "internal topic "+t.Name+" cannot be deleted")
	}
	if err := b.propose(ctx, cluster.DeleteTopic{Name: t.Name}); err != nil {
		return err
	}
	b.log.Info("topic deleted", "topic", t.Name)
	return nil
}
