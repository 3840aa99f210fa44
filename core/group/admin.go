package group

// DescribeGroups: v0-6. ListGroups: v0-5. DeleteGroups: v0-2. OffsetFetch:
// v0-10 (the request's layout; the offsets come from Group.FetchOffsets).
//
// Behavior, as Kafka's GroupCoordinator: a Stable group is described with
// its protocol and each member's metadata and assignment, any other state
// with members only; an unknown group is described as Dead (from v6 with
// GROUP_ID_NOT_FOUND). ListGroups filters by state name, compared
// case-insensitively, and by type (every group here is "classic").
// DeleteGroups removes Empty groups with their offsets (pending ones of
// open transactions too, with tombstones, as Kafka's deleteAllOffsets), and
// answers NON_EMPTY_GROUP for groups with members.
//
// These are reads (DeleteGroups aside): their replies, like every reply,
// wait until the records of earlier Outputs are durable.

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Describe describes the group in DescribeGroups' terms. The shell fills in
// AuthorizedOperations.
func (g *Group) Describe() kmsg.DescribeGroupsResponseGroup {
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group = g.id
	d.State = g.state.String()
	d.ProtocolType = deref(g.protoType)
	stable := g.state == Stable
	if stable {
		d.Protocol = deref(g.protocol)
	}
	for _, id := range g.order {
		m := g.members[id]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		dm.InstanceID = cloneString(m.instanceID)
		dm.ClientID = m.clientID
		dm.ClientHost = m.clientHost
		if stable {
			dm.ProtocolMetadata = m.metadata(*g.protocol)
			dm.MemberAssignment = m.assignment
		}
		d.Members = append(d.Members, dm)
	}
	return d
}

// Describe describes one group, known or not, for a DescribeGroups of the
// given version.
func (gs *Groups) Describe(id string, version int16) kmsg.DescribeGroupsResponseGroup {
	if g := gs.groups[id]; g != nil {
		return g.Describe()
	}
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group = id
	d.State = Dead.String()
	if version >= 6 {
		d.ErrorCode = code(kerr.GroupIDNotFound)
	}
	return d
}

// List lists the groups a ListGroups asks for, sorted by id.
func (gs *Groups) List(req *kmsg.ListGroupsRequest) []kmsg.ListGroupsResponseGroup {
	var out []kmsg.ListGroupsResponseGroup
	if !typeWanted(req.TypesFilter) {
		return out
	}
	for _, id := range gs.IDs() {
		g := gs.groups[id]
		if !stateWanted(req.StatesFilter, g.state) {
			continue
		}
		l := kmsg.NewListGroupsResponseGroup()
		l.Group = id
		l.ProtocolType = deref(g.protoType)
		l.GroupState = g.state.String()
		l.GroupType = "classic"
		out = append(out, l)
	}
	return out
}

func stateWanted(filter []string, s State) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if fs, ok := ParseState(f); ok && fs == s {
			return true
		}
	}
	return false
}

func typeWanted(filter []string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if strings.EqualFold(f, "classic") {
			return true
		}
	}
	return false
}

// Delete deletes the groups a DeleteGroups names; the Output holds the
// tombstones and the reply.
func (gs *Groups) Delete(nowMs int64, to Handle, req *kmsg.DeleteGroupsRequest) Output {
	var out Output
	r := kmsg.NewPtrDeleteGroupsResponse()
	r.Version = req.Version
	for _, id := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = id
		rg.ErrorCode = code(gs.delete(nowMs, id, &out))
		r.Groups = append(r.Groups, rg)
	}
	out.reply(to, r)
	return out
}

func (gs *Groups) delete(nowMs int64, id string, out *Output) error {
	g := gs.groups[id]
	if g == nil {
		return kerr.GroupIDNotFound
	}
	g.advance(nowMs, out)
	if g.state != Empty && g.state != Dead {
		return kerr.NonEmptyGroup
	}
	if g.state == Empty {
		g.removeOffsets(nowMs, g.allTPs(), out)
		if g.state != Dead {
			// Kept by an open transaction, whose offsets the tombstones
			// removed: Kafka deletes the group all the same.
			clear(g.txns)
			g.die(nowMs, out)
		}
	}
	gs.reap(g, *out)
	return nil
}

// OffsetFetchGroups turns an OffsetFetch into its v8+ per-group layout, so
// the shell can answer each group from its coordinator's Groups.
func OffsetFetchGroups(req *kmsg.OffsetFetchRequest) []kmsg.OffsetFetchRequestGroup {
	if req.Version >= 8 {
		return req.Groups
	}
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = req.Group
	if req.Topics != nil || req.Version < 2 { // null means "all" only from v2
		rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{}
	}
	for _, t := range req.Topics {
		gt := kmsg.NewOffsetFetchRequestGroupTopic()
		gt.Topic, gt.Partitions = t.Topic, t.Partitions
		rg.Topics = append(rg.Topics, gt)
	}
	return []kmsg.OffsetFetchRequestGroup{rg}
}

// FetchOffsets answers one group of an OffsetFetch; requireStable is the
// request's RequireStable (see Group.FetchOffsets). An unknown group has no
// offsets: each partition asked for is -1, and "all" is none.
func (gs *Groups) FetchOffsets(rg kmsg.OffsetFetchRequestGroup, requireStable bool) kmsg.OffsetFetchResponseGroup {
	g := gs.groups[rg.Group]
	if g == nil {
		g = NewGroup(rg.Group, gs.cfg, gs.ids, 0) // answers, then is dropped
	}
	out := kmsg.NewOffsetFetchResponseGroup()
	out.Group = rg.Group
	out.Topics = g.FetchOffsets(rg.Topics, requireStable)
	return out
}

// OffsetFetchResponse assembles the response to an OffsetFetch from the
// answers for its groups, in the request's layout.
func OffsetFetchResponse(req *kmsg.OffsetFetchRequest, groups []kmsg.OffsetFetchResponseGroup) *kmsg.OffsetFetchResponse {
	r := kmsg.NewPtrOffsetFetchResponse()
	r.Version = req.Version
	if req.Version >= 8 {
		r.Groups = groups
		return r
	}
	for _, g := range groups {
		if req.Version >= 2 {
			r.ErrorCode = g.ErrorCode
		}
		for _, gt := range g.Topics {
			t := kmsg.NewOffsetFetchResponseTopic()
			t.Topic = gt.Topic
			for _, gp := range gt.Partitions {
				p := kmsg.NewOffsetFetchResponseTopicPartition()
				p.Partition, p.Offset, p.LeaderEpoch = gp.Partition, gp.Offset, gp.LeaderEpoch
				p.Metadata, p.ErrorCode = gp.Metadata, gp.ErrorCode
				t.Partitions = append(t.Partitions, p)
			}
			r.Topics = append(r.Topics, t)
		}
	}
	return r
}
