package core

// ListGroups: v0-5
//
// Behavior: the groups of every coordinator shard on this broker, filtered
// by state (v4+, case-insensitive) and type (v5+; every group is classic).
// A shard still loading makes the answer COORDINATOR_LOAD_IN_PROGRESS.

import (
	"context"

	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ListGroups, 0, 5, (*Broker).handleListGroups) }

func (b *Broker) handleListGroups(_ context.Context, r *request) reply {
	req := r.msg.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	shards := b.coord.allShards()
	lists := make([][]kmsg.ListGroupsResponseGroup, len(shards))
	waits := make([]func() error, len(shards))
	for i, s := range shards {
		waits[i] = s.read(func(gs *group.Groups) { lists[i] = gs.List(req) })
	}
	return reply{wait: func() kmsg.Response {
		for i, wait := range waits {
			if err := wait(); err != nil {
				resp.ErrorCode = coordinatorCode(err)
				continue
			}
			resp.Groups = append(resp.Groups, lists[i]...)
		}
		return resp
	}}
}
