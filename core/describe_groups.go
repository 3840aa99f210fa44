package core

// DescribeGroups: v0-6
//
// Behavior: each group's state, protocol and members (with metadata and
// assignments when Stable), from its coordinator shard; a group coordinated
// elsewhere answers NOT_COORDINATOR, an unknown one is Dead
// (GROUP_ID_NOT_FOUND from v6).

import (
	"context"

	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeGroups, 0, 6, (*Broker).handleDescribeGroups) }

func (b *Broker) handleDescribeGroups(_ context.Context, r *request) reply {
	req := r.msg.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	resp.Groups = make([]kmsg.DescribeGroupsResponseGroup, len(req.Groups))
	waits := make([]func() error, len(req.Groups))
	for i, id := range req.Groups {
		resp.Groups[i] = kmsg.NewDescribeGroupsResponseGroup()
		resp.Groups[i].Group = id
		s, err := b.coord.shardFor(id)
		if err != nil {
			waits[i] = func() error { return err }
			continue
		}
		waits[i] = s.read(func(gs *group.Groups) { resp.Groups[i] = gs.Describe(id, req.Version) })
	}
	return reply{wait: func() kmsg.Response {
		for i, wait := range waits {
			if err := wait(); err != nil {
				g := kmsg.NewDescribeGroupsResponseGroup()
				g.Group, g.ErrorCode = req.Groups[i], coordinatorCode(err)
				resp.Groups[i] = g
			}
		}
		return resp
	}}
}
