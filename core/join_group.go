package core

// JoinGroup: v0-9
//
// Behavior: the classic group protocol of core/group, fed by the group's
// coordinator shard: member IDs required from v4 (MEMBER_ID_REQUIRED),
// static membership (group.instance.id, KIP-345), protocol selection, the
// initial rebalance delay, rebalance and session timeouts on the broker's
// clock. The answer is held until the join phase ends.

import (
	"context"
	"net"

	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.JoinGroup, 0, 9, (*Broker).handleJoinGroup) }

func (b *Broker) handleJoinGroup(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.JoinGroupRequest)
	s, err := b.coord.shardFor(req.Group)
	if err != nil {
		return reply{resp: coordinatorError(req, err)}
	}
	client := group.Client{Host: clientHost(r.remote)}
	if r.hdr.ClientID != nil {
		client.ID = *r.hdr.ClientID
	}
	return s.call(ctx, req, func(gs *group.Groups, now int64, h group.Handle) group.Output {
		return gs.Join(now, h, client, req)
	})
}

// clientHost renders a peer address as Kafka does in DescribeGroups
// ("/127.0.0.1").
func clientHost(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	return "/" + host
}
