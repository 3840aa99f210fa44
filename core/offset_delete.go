package core

// OffsetDelete: v0
//
// Behavior: removes committed offsets of partitions the group no longer
// consumes (GROUP_SUBSCRIBED_TO_TOPIC for a topic its members subscribe to).

import (
	"context"

	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.OffsetDelete, 0, 0, (*Broker).handleOffsetDelete) }

func (b *Broker) handleOffsetDelete(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.OffsetDeleteRequest)
	s, err := b.coord.shardFor(req.Group)
	if err != nil {
		return reply{resp: coordinatorError(req, err)}
	}
	return s.call(ctx, req, func(gs *group.Groups, now int64, h group.Handle) group.Output {
		return gs.DeleteOffsets(now, h, req)
	})
}
