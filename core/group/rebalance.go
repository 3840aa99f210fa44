package group

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maybePrepareRebalance starts a join phase unless one is running.
func (g *Group) maybePrepareRebalance(nowMs int64, out *Output) {
	if g.state == Stable || g.state == CompletingRebalance || g.state == Empty {
		g.prepareRebalance(nowMs, out)
	}
}

// prepareRebalance is Kafka's GroupCoordinator.prepareRebalance. An Empty
// group waits group.initial.rebalance.delay.ms for more members first.
func (g *Group) prepareRebalance(nowMs int64, out *Output) {
	if g.state == CompletingRebalance {
		g.resetAssignments(nowMs, kerr.RebalanceInProgress, out)
	}
	g.syncTimer = syncTimer{}
	clear(g.pendingSync)
	rebalanceMs := g.rebalanceTimeoutMs()
	if g.state == Empty {
		delay := g.cfg.InitialRebalanceDelayMs
		g.joinTimer = joinTimer{
			armed:       true,
			deadlineMs:  nowMs + int64(delay),
			initial:     true,
			delayMs:     delay,
			remainingMs: max(rebalanceMs-delay, 0),
		}
	} else {
		g.joinTimer = joinTimer{armed: true, deadlineMs: nowMs + int64(rebalanceMs)}
	}
	g.transition(PreparingRebalance, nowMs)
	out.Rebalances++
	g.tryCompleteJoin(nowMs, out)
}

// tryCompleteJoin ends the join phase early once every member has rejoined
// and no pending member id is outstanding (Kafka's tryCompleteJoin). The
// initial delay never ends early.
func (g *Group) tryCompleteJoin(nowMs int64, out *Output) {
	if !g.joinTimer.armed || g.joinTimer.initial {
		return
	}
	if len(g.members) == g.awaiting && len(g.pending) == 0 {
		g.joinTimer = joinTimer{}
		g.completeJoin(nowMs, out)
	}
}

// joinDeadline fires the join timer (Kafka's DelayedJoin.onComplete and
// InitialDelayedJoin.onComplete).
func (g *Group) joinDeadline(nowMs int64, out *Output) {
	j := g.joinTimer
	if j.initial && g.newMemberAdded && j.remainingMs != 0 {
		g.newMemberAdded = false
		delay := min(g.cfg.InitialRebalanceDelayMs, j.remainingMs)
		g.joinTimer = joinTimer{
			armed:       true,
			deadlineMs:  nowMs + int64(delay),
			initial:     true,
			delayMs:     delay,
			remainingMs: max(j.remainingMs-j.delayMs, 0),
		}
		return
	}
	g.joinTimer = joinTimer{}
	g.completeJoin(nowMs, out)
}

// completeJoin ends the join phase (Kafka's onCompleteJoin): dynamic
// members that did not rejoin are removed, a leader is elected among those
// that did, the generation advances, and every held JoinGroup is answered.
func (g *Group) completeJoin(nowMs int64, out *Output) {
	g.newMemberAdded = false
	for _, id := range append([]string(nil), g.order...) {
		if m := g.members[id]; m.join == nil && !m.isStatic() {
			g.drop(id, kerr.UnknownMemberID, out)
		}
	}
	if !g.electJoinedLeader() && len(g.members) > 0 {
		// Only static members that did not rejoin are left: wait for them
		// to rejoin or to expire.
		// At least a millisecond on, so a zero timeout cannot spin.
		g.joinTimer = joinTimer{armed: true, deadlineMs: nowMs + int64(max(g.rebalanceTimeoutMs(), 1))}
		return
	}
	g.generation++
	clear(g.pendingSync)
	if len(g.members) == 0 {
		g.protocol = nil
		g.subscribed = g.computeSubscribed()
		g.transition(Empty, nowMs)
		k, v := g.MetadataRecord()
		out.record(k, v)
		return
	}
	p := g.selectProtocol()
	g.protocol = &p
	g.subscribed = g.computeSubscribed()
	g.transition(CompletingRebalance, nowMs)
	for _, id := range g.order {
		m := g.members[id]
		if m.join != nil {
			out.reply(m.join.to, g.joinResponse(m, m.join.version, id == g.leader, g.leader, false))
			m.join = nil
			g.awaiting--
		}
		m.heartbeatDeadlineMs = nowMs + int64(m.sessionTimeoutMs)
		m.isNew = false
		g.pendingSync[id] = true
	}
	g.syncTimer = syncTimer{armed: true, deadlineMs: nowMs + int64(g.rebalanceTimeoutMs()), generation: g.generation}
}

// electJoinedLeader keeps the leader if it rejoined, or picks the oldest
// member that did (Kafka's maybeElectNewJoinedLeader).
func (g *Group) electJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if g.members[g.leader].join != nil {
		return true
	}
	for _, id := range g.order {
		if g.members[id].join != nil {
			g.leader = id
			return true
		}
	}
	return false
}

// resetAssignments clears every assignment and answers held SyncGroups
// with err (Kafka's resetAndPropagateAssignmentError).
func (g *Group) resetAssignments(nowMs int64, err error, out *Output) {
	for _, id := range g.order {
		m := g.members[id]
		m.assignment = nil
		if m.sync != nil {
			out.reply(m.sync.to, syncError(m.sync.version, err))
			m.sync = nil
			m.heartbeatDeadlineMs = nowMs + int64(m.sessionTimeoutMs)
		}
	}
}

// drop removes a member or pending member id, answering its held requests
// with err.
func (g *Group) drop(id string, err error, out *Output) {
	if m, ok := g.members[id]; ok {
		if m.join != nil {
			out.reply(m.join.to, joinError(m.join.version, "", err))
		}
		if m.sync != nil {
			out.reply(m.sync.to, syncError(m.sync.version, err))
			m.sync = nil
		}
	}
	g.remove(id)
}

// removeMember removes a member that left or expired, and rebalances
// (Kafka's removeMemberAndUpdateGroup).
func (g *Group) removeMember(nowMs int64, id string, out *Output) {
	g.drop(id, kerr.UnknownMemberID, out)
	switch g.state {
	case Stable, CompletingRebalance:
		g.maybePrepareRebalance(nowMs, out)
	case PreparingRebalance:
		g.tryCompleteJoin(nowMs, out)
	}
}

// syncDeadline removes the members that did not send SyncGroup in time and
// rebalances (Kafka's onExpirePendingSync).
func (g *Group) syncDeadline(nowMs int64, out *Output) {
	t := g.syncTimer
	g.syncTimer = syncTimer{}
	if t.generation != g.generation || (g.state != CompletingRebalance && g.state != Stable) {
		return
	}
	ids := make([]string, 0, len(g.pendingSync))
	for id := range g.pendingSync {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g.drop(id, kerr.UnknownMemberID, out)
	}
	g.prepareRebalance(nowMs, out)
}

// syncError is a SyncGroup response carrying only an error.
func syncError(version int16, err error) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.Version = version
	r.ErrorCode = code(err)
	return r
}
