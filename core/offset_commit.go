package core

// OffsetCommit: v0-10
//
// Behavior: group members' commits are checked against the generation and
// member ID (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS);
// generation -1 is a simple commit, allowed while the group has no members.
// Partitions of topics that do not exist answer UNKNOWN_TOPIC_OR_PARTITION
// (UNKNOWN_TOPIC_ID for v10's topic IDs) and are not stored. A commit is
// answered once its record in __consumer_offsets is committed.

import (
	"context"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.OffsetCommit, 0, 10, (*Broker).handleOffsetCommit) }

func (b *Broker) handleOffsetCommit(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.OffsetCommitRequest)
	s, err := b.coord.shardFor(req.Group)
	if err != nil {
		return reply{resp: coordinatorError(req, err)}
	}
	known, unknown := splitCommitTopics(b.node.State(), req)
	if len(known.Topics) == 0 && len(unknown) > 0 {
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.Topics = unknown
		return reply{resp: resp}
	}
	rep := s.call(ctx, known, func(gs *group.Groups, now int64, h group.Handle) group.Output {
		return gs.Commit(now, h, known)
	})
	st := b.node.State()
	return mapReply(rep, func(m kmsg.Response) kmsg.Response {
		resp := m.(*kmsg.OffsetCommitResponse)
		if req.Version >= 10 {
			for i := range resp.Topics {
				if t, ok := st.Topic(resp.Topics[i].Topic); ok {
					resp.Topics[i].TopicID = t.ID
				}
			}
		}
		resp.Topics = append(resp.Topics, unknown...)
		return resp
	})
}

// splitCommitTopics separates the partitions of existing topics (returned
// as a request naming topics, also for v10's topic IDs) from the others
// (answered UNKNOWN_TOPIC_OR_PARTITION or UNKNOWN_TOPIC_ID).
func splitCommitTopics(st *cluster.State, req *kmsg.OffsetCommitRequest) (*kmsg.OffsetCommitRequest, []kmsg.OffsetCommitResponseTopic) {
	known := *req
	known.Topics = nil
	var unknown []kmsg.OffsetCommitResponseTopic
	for _, t := range req.Topics {
		top, ok := lookupTopic(st, t.Topic, t.TopicID, req.Version >= 10)
		code := unknownTopicCode(req.Version >= 10)
		keep := t
		keep.Partitions = nil
		bad := kmsg.NewOffsetCommitResponseTopic()
		bad.Topic, bad.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			if ok && p.Partition >= 0 && int(p.Partition) < len(top.Partitions) {
				keep.Partitions = append(keep.Partitions, p)
				continue
			}
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			if ok {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			bad.Partitions = append(bad.Partitions, rp)
		}
		if len(keep.Partitions) > 0 {
			keep.Topic = top.Name
			known.Topics = append(known.Topics, keep)
		}
		if len(bad.Partitions) > 0 {
			unknown = append(unknown, bad)
		}
	}
	return &known, unknown
}

// mapReply applies fn to a reply's response, now or once it is ready.
func mapReply(rep reply, fn func(kmsg.Response) kmsg.Response) reply {
	if rep.wait == nil {
		if rep.resp != nil {
			rep.resp = fn(rep.resp)
		}
		return rep
	}
	wait := rep.wait
	rep.wait = func() kmsg.Response {
		if resp := wait(); resp != nil {
			return fn(resp)
		}
		return nil
	}
	return rep
}
