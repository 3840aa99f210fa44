package core

// LeaveGroup: v0-5
//
// Behavior: v0-2 remove one member; v3+ a batch of members (by member ID or
// group.instance.id) with an error per member. The group rebalances.

import (
	"context"

	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.LeaveGroup, 0, 5, (*Broker).handleLeaveGroup) }

func (b *Broker) handleLeaveGroup(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.LeaveGroupRequest)
	s, err := b.coord.shardFor(req.Group)
	if err != nil {
		return reply{resp: coordinatorError(req, err)}
	}
	return s.call(ctx, req, func(gs *group.Groups, now int64, h group.Handle) group.Output {
		return gs.Leave(now, h, req)
	})
}
