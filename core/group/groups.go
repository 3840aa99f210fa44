package group

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Groups holds the groups of one __consumer_offsets partition and routes
// requests to them, with Kafka's answers for groups it does not have. A
// Dead group is dropped at once; a later join creates a new one.
type Groups struct {
	cfg    Config
	ids    IDSource
	groups map[string]*Group
	// txns maps the producer id of each open transaction with offsets
	// here to the ids of the groups it wrote them for (see noteTxn).
	txns map[int64]map[string]bool
}

// NewGroups returns an empty set of groups. A coordinator taking over a
// partition uses a Loader instead.
func NewGroups(cfg Config, ids IDSource) *Groups {
	return &Groups{cfg: cfg, ids: ids, groups: map[string]*Group{}, txns: map[int64]map[string]bool{}}
}

// Get returns a group, or nil.
func (gs *Groups) Get(id string) *Group { return gs.groups[id] }

// IDs lists the group ids, sorted.
func (gs *Groups) IDs() []string {
	ids := make([]string, 0, len(gs.groups))
	for id := range gs.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// reap drops g if it died.
func (gs *Groups) reap(g *Group, out Output) Output {
	if g.state == Dead && gs.groups[g.id] == g {
		delete(gs.groups, g.id)
	}
	return out
}

func single(to Handle, msg kmsg.Response) Output {
	var out Output
	out.reply(to, msg)
	return out
}

// Join routes a JoinGroup, creating the group for a member without an id.
func (gs *Groups) Join(nowMs int64, to Handle, c Client, req *kmsg.JoinGroupRequest) Output {
	if req.Group == "" {
		return single(to, joinError(req.Version, req.MemberID, kerr.InvalidGroupID))
	}
	g := gs.groups[req.Group]
	if g == nil {
		st := req.SessionTimeoutMillis
		if st < gs.cfg.SessionTimeoutMinMs || st > gs.cfg.SessionTimeoutMaxMs {
			return single(to, joinError(req.Version, req.MemberID, kerr.InvalidSessionTimeout))
		}
		if req.MemberID != "" {
			return single(to, joinError(req.Version, req.MemberID, kerr.UnknownMemberID))
		}
		g = NewGroup(req.Group, gs.cfg, gs.ids, nowMs)
		gs.groups[req.Group] = g
	}
	return gs.reap(g, g.Join(nowMs, to, c, req))
}

// Sync routes a SyncGroup.
func (gs *Groups) Sync(nowMs int64, to Handle, req *kmsg.SyncGroupRequest) Output {
	g := gs.groups[req.Group]
	if req.Group == "" || g == nil {
		err := kerr.UnknownMemberID
		if req.Group == "" {
			err = kerr.InvalidGroupID
		}
		return single(to, syncError(req.Version, err))
	}
	return gs.reap(g, g.Sync(nowMs, to, req))
}

// Heartbeat routes a Heartbeat.
func (gs *Groups) Heartbeat(nowMs int64, to Handle, req *kmsg.HeartbeatRequest) Output {
	g := gs.groups[req.Group]
	if req.Group == "" || g == nil {
		r := kmsg.NewPtrHeartbeatResponse()
		r.Version = req.Version
		r.ErrorCode = code(kerr.UnknownMemberID)
		if req.Group == "" {
			r.ErrorCode = code(kerr.InvalidGroupID)
		}
		return single(to, r)
	}
	return gs.reap(g, g.Heartbeat(nowMs, to, req))
}

// Leave routes a LeaveGroup; every member of an unknown group is
// UNKNOWN_MEMBER_ID.
func (gs *Groups) Leave(nowMs int64, to Handle, req *kmsg.LeaveGroupRequest) Output {
	g := gs.groups[req.Group]
	if req.Group == "" {
		r := kmsg.NewPtrLeaveGroupResponse()
		r.Version = req.Version
		r.ErrorCode = code(kerr.InvalidGroupID)
		return single(to, r)
	}
	if g == nil {
		g = NewGroup(req.Group, gs.cfg, gs.ids, nowMs) // answers, then is dropped
	}
	return g.Leave(nowMs, to, req)
}

// Commit routes an OffsetCommit. A simple commit (generation -1) to an
// unknown group creates it; any other gets GROUP_ID_NOT_FOUND from v9 and
// ILLEGAL_GENERATION before.
func (gs *Groups) Commit(nowMs int64, to Handle, req *kmsg.OffsetCommitRequest) Output {
	g := gs.groups[req.Group]
	if g == nil && req.Generation >= 0 {
		err := kerr.IllegalGeneration
		if req.Version >= 9 {
			err = kerr.GroupIDNotFound
		}
		return single(to, commitError(req, err))
	}
	if g == nil {
		g = NewGroup(req.Group, gs.cfg, gs.ids, nowMs)
		gs.groups[req.Group] = g
	}
	return gs.reap(g, g.Commit(nowMs, to, req))
}

// DeleteOffsets routes an OffsetDelete.
func (gs *Groups) DeleteOffsets(nowMs int64, to Handle, req *kmsg.OffsetDeleteRequest) Output {
	g := gs.groups[req.Group]
	if g == nil {
		r := kmsg.NewPtrOffsetDeleteResponse()
		r.Version = req.Version
		r.ErrorCode = code(kerr.GroupIDNotFound)
		return single(to, r)
	}
	return gs.reap(g, g.DeleteOffsets(nowMs, to, req))
}

// Tick fires the passed deadlines of every group.
func (gs *Groups) Tick(nowMs int64) Output {
	var out Output
	for _, id := range gs.IDs() {
		g := gs.groups[id]
		if ms, ok := g.NextDeadline(); ok && ms <= nowMs {
			o := g.Tick(nowMs)
			out.merge(o)
			gs.reap(g, o)
		}
	}
	return out
}

// NextDeadline is the earliest deadline of any group. It scans every group;
// a coordinator with very many groups would keep a heap instead.
func (gs *Groups) NextDeadline() (ms int64, ok bool) {
	for _, g := range gs.groups {
		if d, has := g.NextDeadline(); has && (!ok || d < ms) {
			ms, ok = d, true
		}
	}
	return ms, ok
}

// ExpireOffsets expires offsets in every group and drops the groups that
// die of it; the Output holds the tombstones to append.
func (gs *Groups) ExpireOffsets(nowMs int64) Output {
	var out Output
	for _, id := range gs.IDs() {
		g := gs.groups[id]
		o := g.ExpireOffsets(nowMs)
		out.merge(o)
		gs.reap(g, o)
	}
	return out
}
