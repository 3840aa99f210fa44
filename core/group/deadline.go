package group

import "sort"

// Tick fires every deadline that has passed by nowMs: the end of a join
// phase (which answers the held JoinGroups), the sync deadline, session
// timeouts of members and of pending member ids. Every other input fires
// passed deadlines first too, so a late Tick changes nothing.
func (g *Group) Tick(nowMs int64) Output {
	return g.input(nowMs, func(*Output) {})
}

// input runs one input between two rounds of passed deadlines: before, so
// the input meets the group as its timers left it; after, for a deadline
// the input set at nowMs itself (a zero timeout).
func (g *Group) input(nowMs int64, fn func(out *Output)) Output {
	var out Output
	g.advance(nowMs, &out)
	fn(&out)
	g.advance(nowMs, &out)
	return out
}

// NextDeadline is when the shell must call Tick next; ok is false when no
// deadline is running.
func (g *Group) NextDeadline() (ms int64, ok bool) {
	ms, _, ok = g.next(true)
	return ms, ok
}

// deadline kinds, in the order they fire when due at the same time.
const (
	kindJoin = iota
	kindSync
	kindMember
	kindPending
)

type due struct {
	kind int
	id   string
}

// next is the earliest running deadline and what it belongs to, counting
// the join deadline only if withJoin.
func (g *Group) next(withJoin bool) (int64, due, bool) {
	var best int64
	var what due
	ok := false
	consider := func(ms int64, d due) {
		if !ok || ms < best {
			best, what, ok = ms, d, true
		}
	}
	if g.state == Dead {
		return 0, what, false
	}
	if withJoin && g.joinTimer.armed {
		consider(g.joinTimer.deadlineMs, due{kind: kindJoin})
	}
	if g.syncTimer.armed {
		consider(g.syncTimer.deadlineMs, due{kind: kindSync})
	}
	for _, id := range g.order {
		if ms, running := g.members[id].expires(); running {
			consider(ms, due{kind: kindMember, id: id})
		}
	}
	ids := make([]string, 0, len(g.pending))
	for id := range g.pending {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		consider(g.pending[id], due{kind: kindPending, id: id})
	}
	return best, what, ok
}

// advance fires the deadlines that have passed, earliest first, each as of
// its own time: the outcome does not depend on how late the shell ticks.
func (g *Group) advance(nowMs int64, out *Output) {
	for {
		ms, d, ok := g.next(true)
		if !ok || ms > nowMs {
			return
		}
		if d.kind == kindJoin && g.joinIdle() {
			g.skipIdleJoin(ms, nowMs)
			continue
		}
		g.fire(ms, d, out)
	}
}

// joinIdle reports whether firing the join deadline would change nothing
// but the deadline: no member has rejoined and every member is static, so
// completeJoin only waits another rebalance timeout.
func (g *Group) joinIdle() bool {
	if g.joinTimer.initial || g.awaiting > 0 || len(g.members) == 0 {
		return false
	}
	for _, id := range g.order {
		if !g.members[id].isStatic() {
			return false
		}
	}
	return true
}

// skipIdleJoin moves an idle join deadline due at ms along its period past
// nowMs or the next other deadline, whichever is first, as firing it again
// and again would; a late Tick must not loop once per period.
func (g *Group) skipIdleJoin(ms, nowMs int64) {
	limit := nowMs
	if other, _, ok := g.next(false); ok && other < limit {
		limit = other
	}
	period := int64(max(g.rebalanceTimeoutMs(), 1))
	g.joinTimer.deadlineMs = ms + ((limit-ms)/period+1)*period
}

// fire handles one deadline.
func (g *Group) fire(nowMs int64, d due, out *Output) {
	switch d.kind {
	case kindJoin:
		g.joinDeadline(nowMs, out)
	case kindSync:
		g.syncDeadline(nowMs, out)
	case kindMember:
		g.removeMember(nowMs, d.id, out)
	case kindPending:
		delete(g.pending, d.id)
		if g.state == PreparingRebalance {
			g.tryCompleteJoin(nowMs, out)
		}
	}
}
