package core

// OffsetFetch: v0-10
//
// Behavior: a group's committed offsets, from its coordinator shard; a
// partition with no commit answers offset -1 with no error (sarama's offset
// manager depends on it). v8+ asks for many groups at once; each group whose
// coordinator is elsewhere (or loading) gets its own error. v10 names topics
// by ID. Offsets of open transactions are not shown until their COMMIT
// marker; with RequireStable (v7+) a partition that has one answers
// UNSTABLE_OFFSET_COMMIT, as Kafka does, and the client retries. Answers
// wait until earlier __consumer_offsets records are committed.

import (
	"context"

	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.OffsetFetch, 0, 10, (*Broker).handleOffsetFetch) }

func (b *Broker) handleOffsetFetch(_ context.Context, r *request) reply {
	req := r.msg.(*kmsg.OffsetFetchRequest)
	st := b.node.State()
	groups := group.OffsetFetchGroups(req)
	answers := make([]kmsg.OffsetFetchResponseGroup, len(groups))
	waits := make([]func() error, len(groups))
	for i, rg := range groups {
		if req.Version >= 10 {
			rg = namedFetchTopics(b, rg)
		}
		answers[i] = kmsg.NewOffsetFetchResponseGroup()
		answers[i].Group = rg.Group
		s, err := b.coord.shardFor(rg.Group)
		if err != nil {
			waits[i] = func() error { return err }
			continue
		}
		waits[i] = s.read(func(gs *group.Groups) { answers[i] = gs.FetchOffsets(rg, req.RequireStable) })
	}
	return reply{wait: func() kmsg.Response {
		for i, wait := range waits {
			if err := wait(); err != nil {
				answers[i].ErrorCode = coordinatorCode(err)
				answers[i].Topics = nil
			}
			if req.Version >= 10 {
				for j := range answers[i].Topics {
					if t, ok := st.Topic(answers[i].Topics[j].Topic); ok {
						answers[i].Topics[j].TopicID = t.ID
					}
				}
			}
		}
		return group.OffsetFetchResponse(req, answers)
	}}
}

// namedFetchTopics fills in topic names for v10's topic IDs.
func namedFetchTopics(b *Broker, rg kmsg.OffsetFetchRequestGroup) kmsg.OffsetFetchRequestGroup {
	st := b.node.State()
	out := rg
	out.Topics = nil
	if rg.Topics == nil {
		return rg
	}
	out.Topics = []kmsg.OffsetFetchRequestGroupTopic{}
	for _, t := range rg.Topics {
		if top, ok := st.TopicByID(t.TopicID); ok {
			t.Topic = top.Name
		}
		out.Topics = append(out.Topics, t)
	}
	return out
}
