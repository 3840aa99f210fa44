package group

// SyncGroup: v0-5. Heartbeat: v0-4. LeaveGroup: v0-5.
//
// Behavior, as Kafka's GroupCoordinator.handleSyncGroup and handleHeartbeat:
//   - the member must be known (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID for a
//     static member's stale id) and in the current generation
//     (ILLEGAL_GENERATION); SyncGroup v5 also checks the protocol type and
//     name (INCONSISTENT_GROUP_PROTOCOL);
//   - during a join phase both answer REBALANCE_IN_PROGRESS, which tells
//     the member to rejoin;
//   - after a join phase, followers' SyncGroups wait for the leader's; the
//     leader's carries the assignment, which is persisted with the group
//     metadata and handed to every member; members the leader left out get
//     an empty assignment;
//   - in Stable a SyncGroup returns the member's assignment at once;
//   - a heartbeat pushes the member's session deadline out.
//
// LeaveGroup, as Kafka's handleLeaveGroup: v0-2 name one member and carry
// its error at the top level; v3+ (KIP-345) name a batch of members, each by
// member id or, for static members removed by an admin, by
// group.instance.id alone, and answer each one. A member that leaves is
// removed at once and the group rebalances.

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Sync takes a SyncGroup. A follower's reply may come in the Output of the
// leader's SyncGroup, or of whatever input starts a rebalance first.
func (g *Group) Sync(nowMs int64, to Handle, req *kmsg.SyncGroupRequest) Output {
	return g.input(nowMs, func(out *Output) {
		if err := g.sync(nowMs, to, req, out); err != nil {
			out.reply(to, syncError(req.Version, err))
		}
	})
}

func (g *Group) sync(nowMs int64, to Handle, req *kmsg.SyncGroupRequest, out *Output) error {
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration
	}
	if req.ProtocolType != nil && (g.protoType == nil || *req.ProtocolType != *g.protoType) {
		return kerr.InconsistentGroupProtocol
	}
	if req.Protocol != nil && (g.protocol == nil || *req.Protocol != *g.protocol) {
		return kerr.InconsistentGroupProtocol
	}
	m := g.members[req.MemberID]
	switch g.state {
	case Empty:
		return kerr.UnknownMemberID
	case PreparingRebalance:
		return kerr.RebalanceInProgress
	case CompletingRebalance:
		if m.sync != nil { // superseded by this one
			out.reply(m.sync.to, syncError(m.sync.version, kerr.RebalanceInProgress))
		}
		m.sync = &waiter{to: to, version: req.Version}
		g.synced(m.id)
		if m.id == g.leader {
			g.assign(nowMs, req.GroupAssignment, out)
		}
	case Stable:
		g.synced(m.id)
		out.reply(to, g.syncResponse(m, req.Version))
		m.heartbeatDeadlineMs = nowMs + int64(m.sessionTimeoutMs)
	}
	return nil
}

// synced notes that a member sent its SyncGroup this generation.
func (g *Group) synced(id string) {
	delete(g.pendingSync, id)
	if len(g.pendingSync) == 0 {
		g.syncTimer = syncTimer{}
	}
}

// assign installs the leader's assignment, persists it with the group
// metadata, answers every held SyncGroup and makes the group Stable.
func (g *Group) assign(nowMs int64, as []kmsg.SyncGroupRequestGroupAssignment, out *Output) {
	byMember := make(map[string][]byte, len(as))
	for _, a := range as {
		byMember[a.MemberID] = a.MemberAssignment
	}
	for _, id := range g.order {
		g.members[id].assignment = bytes.Clone(byMember[id])
		if g.members[id].assignment == nil {
			g.members[id].assignment = []byte{}
		}
	}
	k, v := g.MetadataRecord()
	out.record(k, v)
	for _, id := range g.order {
		m := g.members[id]
		if m.sync != nil {
			out.reply(m.sync.to, g.syncResponse(m, m.sync.version))
			m.sync = nil
			m.heartbeatDeadlineMs = nowMs + int64(m.sessionTimeoutMs)
		}
	}
	g.transition(Stable, nowMs)
}

func (g *Group) syncResponse(m *member, version int16) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.Version = version
	r.ProtocolType = cloneString(g.protoType)
	r.Protocol = cloneString(g.protocol)
	r.MemberAssignment = m.assignment
	return r
}

// Heartbeat takes a Heartbeat; its reply is always in the returned Output.
func (g *Group) Heartbeat(nowMs int64, to Handle, req *kmsg.HeartbeatRequest) Output {
	return g.input(nowMs, func(out *Output) {
		r := kmsg.NewPtrHeartbeatResponse()
		r.Version = req.Version
		r.ErrorCode = code(g.heartbeat(nowMs, req))
		out.reply(to, r)
	})
}

func (g *Group) heartbeat(nowMs int64, req *kmsg.HeartbeatRequest) error {
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration
	}
	m := g.members[req.MemberID]
	switch g.state {
	case Empty:
		return kerr.UnknownMemberID
	case PreparingRebalance:
		m.heartbeatDeadlineMs = nowMs + int64(m.sessionTimeoutMs)
		return kerr.RebalanceInProgress
	}
	m.heartbeatDeadlineMs = nowMs + int64(m.sessionTimeoutMs)
	return nil
}

// Leave takes a LeaveGroup; its reply is always in the returned Output.
func (g *Group) Leave(nowMs int64, to Handle, req *kmsg.LeaveGroupRequest) Output {
	return g.input(nowMs, func(out *Output) {
		r := kmsg.NewPtrLeaveGroupResponse()
		r.Version = req.Version
		if g.state == Dead {
			r.ErrorCode = code(kerr.CoordinatorNotAvailable)
			out.reply(to, r)
			return
		}
		for _, lm := range leavingMembers(req) {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID = lm.MemberID
			rm.InstanceID = cloneString(lm.InstanceID)
			rm.ErrorCode = code(g.leave(nowMs, lm, out))
			r.Members = append(r.Members, rm)
		}
		if req.Version < 3 {
			r.ErrorCode = r.Members[0].ErrorCode
			r.Members = nil
		}
		out.reply(to, r)
	})
}

// leavingMembers turns a v0-2 request into the v3+ batch form.
func leavingMembers(req *kmsg.LeaveGroupRequest) []kmsg.LeaveGroupRequestMember {
	if req.Version >= 3 {
		return req.Members
	}
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = req.MemberID
	return []kmsg.LeaveGroupRequestMember{lm}
}

// leave removes one member.
func (g *Group) leave(nowMs int64, lm kmsg.LeaveGroupRequestMember, out *Output) error {
	if lm.MemberID == "" {
		if lm.InstanceID == nil {
			return kerr.UnknownMemberID
		}
		id, ok := g.static[*lm.InstanceID]
		if !ok {
			return kerr.UnknownMemberID
		}
		g.removeMember(nowMs, id, out)
		return nil
	}
	if _, ok := g.pending[lm.MemberID]; ok {
		delete(g.pending, lm.MemberID)
		if g.state == PreparingRebalance {
			g.tryCompleteJoin(nowMs, out)
		}
		return nil
	}
	if err := g.validateMember(lm.MemberID, lm.InstanceID); err != nil {
		return err
	}
	g.removeMember(nowMs, lm.MemberID, out)
	return nil
}
