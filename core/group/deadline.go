package group

import "sort"

// Tick fires every deadline that has passed by nowMs: the end of a join
// phase (which answers the held JoinGroups), the sync deadline, session
// timeouts of members and of pending member ids. Every other input fires
// passed deadlines first too, so a late Tick changes nothing.
func (g *Group) Tick(nowMs int64) Output {
	var out Output
	g.advance(nowMs, &out)
	return out
}

// NextDeadline is when the shell must call Tick next; ok is false when no
// deadline is running.
func (g *Group) NextDeadline() (ms int64, ok bool) {
	ms, _, ok = g.next()
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

// next is the earliest running deadline and what it belongs to.
func (g *Group) next() (int64, due, bool) {
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
	if g.joinTimer.armed {
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
		ms, d, ok := g.next()
		if !ok || ms > nowMs {
			return
		}
		g.fire(ms, d, out)
	}
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
