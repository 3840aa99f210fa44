package group

// JoinGroup: v0-9.
//
// Behavior, as Kafka's GroupCoordinator.handleJoinGroup:
//   - the session timeout must lie within the broker's bounds
//     (INVALID_SESSION_TIMEOUT); v0 has no rebalance timeout and uses the
//     session timeout;
//   - a new dynamic member on v4+ gets MEMBER_ID_REQUIRED and a generated id,
//     held as pending until it joins with it (KIP-394);
//   - a static member (group.instance.id, KIP-345) that joins with an empty
//     member id replaces the member its instance id maps to; a known member
//     id that does not match its instance id is FENCED_INSTANCE_ID;
//   - the protocol type must match and one protocol must be supported by
//     every member (INCONSISTENT_GROUP_PROTOCOL);
//   - in Stable, a join from the leader or with changed metadata starts a
//     rebalance; a follower with unchanged metadata gets the current
//     generation back at once (what cooperative clients do when they
//     rejoin);
//   - otherwise the JoinGroup is held and answered when the join phase ends.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Join takes a JoinGroup. Its reply may come in this Output or in the one of
// a later input that ends the join phase.
func (g *Group) Join(nowMs int64, to Handle, c Client, req *kmsg.JoinGroupRequest) Output {
	return g.input(nowMs, func(out *Output) {
		if err := g.join(nowMs, to, c, req, out); err != nil {
			out.reply(to, joinError(req.Version, req.MemberID, err))
		}
		if g.state == PreparingRebalance {
			g.tryCompleteJoin(nowMs, out)
		}
	})
}

// joinArgs is one JoinGroup, its protocols copied.
type joinArgs struct {
	req         *kmsg.JoinGroupRequest
	c           Client
	w           *waiter
	protocols   []protocol
	rebalanceMs int32
}

func (g *Group) join(nowMs int64, to Handle, c Client, req *kmsg.JoinGroupRequest, out *Output) error {
	st := req.SessionTimeoutMillis
	if st < g.cfg.SessionTimeoutMinMs || st > g.cfg.SessionTimeoutMaxMs {
		return kerr.InvalidSessionTimeout
	}
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable
	}
	a := joinArgs{req: req, c: c, w: &waiter{to: to, version: req.Version}, protocols: protocolsOf(req.Protocols)}
	a.rebalanceMs = req.RebalanceTimeoutMillis
	if req.Version == 0 || a.rebalanceMs < 0 {
		a.rebalanceMs = st
	}
	if !g.acceptJoining(req.MemberID) {
		g.drop(req.MemberID, kerr.UnknownMemberID, out)
		out.reply(to, joinError(req.Version, "", kerr.GroupMaxSizeReached))
		return nil
	}
	if !g.supportsProtocols(req.ProtocolType, a.protocols) {
		if req.MemberID == "" {
			out.reply(to, joinError(req.Version, "", kerr.InconsistentGroupProtocol))
			return nil
		}
		return kerr.InconsistentGroupProtocol
	}
	if req.MemberID == "" {
		g.joinNew(nowMs, a, out)
		return nil
	}
	return g.joinCurrent(nowMs, a, out)
}

// acceptJoining is Kafka's acceptJoiningMember: group.max.size.
func (g *Group) acceptJoining(id string) bool {
	if g.cfg.GroupSizeMax <= 0 {
		return true
	}
	m, known := g.members[id]
	switch g.state {
	case PreparingRebalance:
		return (known && m.join != nil) || int32(g.awaiting) < g.cfg.GroupSizeMax
	case CompletingRebalance, Stable:
		return known || int32(len(g.members)) < g.cfg.GroupSizeMax
	}
	return true
}

func (g *Group) joinNew(nowMs int64, a joinArgs, out *Output) {
	id := memberID(g.ids, a.c.ID, a.req.InstanceID)
	if a.req.InstanceID != nil {
		if old, ok := g.static[*a.req.InstanceID]; ok {
			g.replaceStatic(nowMs, old, id, a, out)
			return
		}
		g.addAndRebalance(nowMs, id, a, out)
		return
	}
	if a.req.Version >= 4 {
		g.pending[id] = nowMs + int64(a.req.SessionTimeoutMillis)
		out.reply(a.w.to, joinError(a.req.Version, id, kerr.MemberIDRequired))
		return
	}
	g.addAndRebalance(nowMs, id, a, out)
}

func (g *Group) joinCurrent(nowMs int64, a joinArgs, out *Output) error {
	id := a.req.MemberID
	if _, ok := g.pending[id]; ok {
		if a.req.InstanceID != nil {
			return kerr.UnknownMemberID // pending members are dynamic
		}
		g.addAndRebalance(nowMs, id, a, out)
		return nil
	}
	if err := g.validateMember(id, a.req.InstanceID); err != nil {
		return err
	}
	m := g.members[id]
	switch g.state {
	case PreparingRebalance:
		g.updateAndRebalance(nowMs, m, a, out)
	case CompletingRebalance:
		if !m.matches(a.protocols) {
			g.updateAndRebalance(nowMs, m, a, out)
			return nil
		}
		// The member lost its JoinGroup response: send it again.
		out.reply(a.w.to, g.joinResponse(m, a.req.Version, g.leader == id, g.leader, false))
	case Stable:
		if g.leader == id || !m.matches(a.protocols) {
			g.updateAndRebalance(nowMs, m, a, out)
			return nil
		}
		out.reply(a.w.to, g.joinResponse(m, a.req.Version, false, g.leader, false))
	default:
		return kerr.UnknownMemberID
	}
	return nil
}

// addAndRebalance is Kafka's addMemberAndRebalance.
func (g *Group) addAndRebalance(nowMs int64, id string, a joinArgs, out *Output) {
	m := &member{
		id:                  id,
		instanceID:          cloneString(a.req.InstanceID),
		clientID:            a.c.ID,
		clientHost:          a.c.Host,
		rebalanceTimeoutMs:  a.rebalanceMs,
		sessionTimeoutMs:    a.req.SessionTimeoutMillis,
		protocolType:        a.req.ProtocolType,
		protocols:           a.protocols,
		join:                a.w,
		isNew:               true,
		heartbeatDeadlineMs: nowMs + newMemberJoinTimeoutMs,
	}
	if g.state == PreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true
	}
	g.add(m)
	g.maybePrepareRebalance(nowMs, out)
}

func (g *Group) updateAndRebalance(nowMs int64, m *member, a joinArgs, out *Output) {
	g.update(m, a.req, a.rebalanceMs, a.w, out)
	g.maybePrepareRebalance(nowMs, out)
}

// replaceStatic is Kafka's updateStaticMemberAndRebalance: a static member
// restarted with a new member id takes over the old one's place, and in
// Stable with unchanged protocols keeps its assignment with no rebalance.
func (g *Group) replaceStatic(nowMs int64, oldID, newID string, a joinArgs, out *Output) {
	prevLeader := g.leader
	m := g.members[oldID]
	g.fence(m, out)
	delete(g.members, oldID)
	for i, id := range g.order {
		if id == oldID {
			g.order[i] = newID
		}
	}
	delete(g.pendingSync, oldID)
	m.id = newID
	g.members[newID] = m
	if g.leader == oldID {
		g.leader = newID
	}
	g.static[*m.instanceID] = newID
	m.clientID, m.clientHost = a.c.ID, a.c.Host
	m.heartbeatDeadlineMs = nowMs + int64(m.sessionTimeoutMs)
	g.update(m, a.req, a.rebalanceMs, a.w, out)
	switch g.state {
	case Stable:
		if g.protocol != nil && g.selectProtocol() == *g.protocol {
			g.rejoinStable(nowMs, m, prevLeader, a, out)
			return
		}
		g.maybePrepareRebalance(nowMs, out)
	case CompletingRebalance:
		g.maybePrepareRebalance(nowMs, out)
	case PreparingRebalance:
		// The member has rejoined; the join phase goes on.
	}
}

// rejoinStable answers a restarted static member in a Stable group with
// the current generation, and persists its new member id. From JoinGroup
// v9 the leader learns it leads but skips the assignor (KIP-814); before
// that the old leader id is returned so it does not assign.
func (g *Group) rejoinStable(nowMs int64, m *member, prevLeader string, a joinArgs, out *Output) {
	k, v := g.MetadataRecord()
	out.record(k, v)
	w := m.join
	m.join = nil
	g.awaiting--
	m.heartbeatDeadlineMs = nowMs + int64(m.sessionTimeoutMs)
	if a.req.Version >= 9 {
		lead := g.leader == m.id
		out.reply(w.to, g.joinResponse(m, w.version, lead, g.leader, lead))
		return
	}
	out.reply(w.to, g.joinResponse(m, w.version, false, prevLeader, false))
}

// fence answers the held requests of a member whose static instance was
// taken over by a new member id with FENCED_INSTANCE_ID.
func (g *Group) fence(m *member, out *Output) {
	if m.join != nil {
		out.reply(m.join.to, joinError(m.join.version, m.id, kerr.FencedInstanceID))
		m.join = nil
		g.awaiting--
	}
	if m.sync != nil {
		out.reply(m.sync.to, syncError(m.sync.version, kerr.FencedInstanceID))
		m.sync = nil
	}
}

func cloneString(s *string) *string {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}

// joinError is a JoinGroup response carrying only an error (Kafka's
// JoinGroupResult(memberId, error)).
func joinError(version int16, memberID string, err error) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Version = version
	r.ErrorCode = code(err)
	r.MemberID = memberID
	return r
}

// joinResponse is a successful JoinGroup response for m in the current
// generation; the leader's carries every member's metadata.
func (g *Group) joinResponse(m *member, version int16, withMembers bool, leader string, skip bool) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Version = version
	r.Generation = g.generation
	r.ProtocolType = cloneString(g.protoType)
	r.Protocol = cloneString(g.protocol)
	r.LeaderID = leader
	r.SkipAssignment = skip
	r.MemberID = m.id
	if withMembers {
		for _, id := range g.order {
			o := g.members[id]
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID = o.id
			rm.InstanceID = cloneString(o.instanceID)
			rm.ProtocolMetadata = o.metadata(*g.protocol)
			r.Members = append(r.Members, rm)
		}
	}
	return r
}
