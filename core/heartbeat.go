package core

// Heartbeat: v0-4
//
// Behavior: keeps a member's session alive; REBALANCE_IN_PROGRESS tells it
// to rejoin; a member whose session times out is removed and the group
// rebalances.

import (
	"context"

	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.Heartbeat, 0, 4, (*Broker).handleHeartbeat) }

func (b *Broker) handleHeartbeat(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.HeartbeatRequest)
	s, err := b.coord.shardFor(req.Group)
	if err != nil {
		return reply{resp: coordinatorError(req, err)}
	}
	return s.call(ctx, req, func(gs *group.Groups, now int64, h group.Handle) group.Output {
		return gs.Heartbeat(now, h, req)
	})
}
