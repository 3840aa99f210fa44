package core

// SyncGroup: v0-5
//
// Behavior: the leader's assignments are stored with the group (a
// __consumer_offsets record) and handed to every member; followers are held
// until the leader syncs. v5 checks the protocol type and name.

import (
	"context"

	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.SyncGroup, 0, 5, (*Broker).handleSyncGroup) }

func (b *Broker) handleSyncGroup(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.SyncGroupRequest)
	s, err := b.coord.shardFor(req.Group)
	if err != nil {
		return reply{resp: coordinatorError(req, err)}
	}
	return s.call(ctx, req, func(gs *group.Groups, now int64, h group.Handle) group.Output {
		return gs.Sync(now, h, req)
	})
}
