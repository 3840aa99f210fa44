package core

// DeleteGroups: v0-2
//
// Behavior: removes Empty groups and their offsets (tombstones in
// __consumer_offsets); NON_EMPTY_GROUP for groups with members,
// GROUP_ID_NOT_FOUND for unknown ones, NOT_COORDINATOR for groups
// coordinated elsewhere. Groups are sent to their shards; the answers are
// merged in request order.

import (
	"context"

	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DeleteGroups, 0, 2, (*Broker).handleDeleteGroups) }

func (b *Broker) handleDeleteGroups(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	var replies []reply
	for _, id := range req.Groups {
		s, err := b.coord.shardFor(id)
		if err != nil {
			g := kmsg.NewDeleteGroupsResponseGroup()
			g.Group, g.ErrorCode = id, coordinatorCode(err)
			replies = append(replies, reply{resp: &kmsg.DeleteGroupsResponse{Groups: []kmsg.DeleteGroupsResponseGroup{g}}})
			continue
		}
		one := *req
		one.Groups = []string{id}
		replies = append(replies, s.call(ctx, &one, func(gs *group.Groups, now int64, h group.Handle) group.Output {
			return gs.Delete(now, h, &one)
		}))
	}
	return reply{wait: func() kmsg.Response {
		for i, rep := range replies {
			m := rep.resp
			if rep.wait != nil {
				m = rep.wait()
			}
			d, ok := m.(*kmsg.DeleteGroupsResponse)
			if !ok || len(d.Groups) == 0 {
				g := kmsg.NewDeleteGroupsResponseGroup()
				g.Group, g.ErrorCode = req.Groups[i], coordinatorCode(errNotCoordinator)
				resp.Groups = append(resp.Groups, g)
				continue
			}
			resp.Groups = append(resp.Groups, d.Groups...)
		}
		return resp
	}}
}
