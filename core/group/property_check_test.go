package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// absorb reads the answers that arrived since the last step, updates the
// clients, and checks each answer.
func (m *model) absorb(t *rapid.T) {
	var fresh []Handle
	for h := Handle(1); h <= m.x.next; h++ {
		if m.x.replies[h] != nil && !m.seen[h] {
			m.seen[h] = true
			fresh = append(fresh, h)
		}
	}
	// The leader's sync answer arrives in the same Output as its followers'.
	for _, h := range fresh {
		s := m.sent[h]
		if r, ok := m.x.replies[h].(*kmsg.SyncGroupResponse); ok && r.ErrorCode == 0 && s.c.leader && s.c.gen == s.gen {
			m.assigned[s.gen] = true
		}
	}
	for _, h := range fresh {
		s, ok := m.sent[h]
		if !ok {
			continue
		}
		switch r := m.x.replies[h].(type) {
		case *kmsg.JoinGroupResponse:
			m.joined(t, s.c, r)
		case *kmsg.SyncGroupResponse:
			m.synced(t, s, r)
		}
	}
}

func (m *model) joined(t *rapid.T, c *client, r *kmsg.JoinGroupResponse) {
	if r.MemberID != "" {
		m.issued[r.MemberID] = true
	}
	c.next = ""
	switch r.ErrorCode {
	case 0:
		c.next = "sync"
		if g := m.x.group(); r.Generation <= 0 || g == nil || r.Generation > g.Generation() {
			t.Fatalf("join answered with generation %d", r.Generation)
		}
		c.memberID, c.gen = r.MemberID, r.Generation
		c.leader = len(r.Members) > 0
		c.members = nil
		for _, rm := range r.Members {
			c.members = append(c.members, rm.MemberID)
		}
		if c.leader && r.LeaderID != r.MemberID {
			t.Fatalf("member list sent to %q, but the leader is %q", r.MemberID, r.LeaderID)
		}
	case 79:
		c.memberID = r.MemberID
	case 25, 82:
		c.memberID, c.leader = "", false
	}
}

func (m *model) synced(t *rapid.T, s sent, r *kmsg.SyncGroupResponse) {
	s.c.next = ""
	if r.ErrorCode != 0 {
		return
	}
	s.c.next = "heartbeat"
	if !m.assigned[s.gen] {
		t.Fatalf("assignment for generation %d delivered before its leader's sync", s.gen)
	}
	key := s.c.name // one process: a static member's ids are one owner
	if m.owner[s.gen] == nil {
		m.owner[s.gen] = map[byte]string{}
	}
	for _, p := range r.MemberAssignment {
		if o, ok := m.owner[s.gen][p]; ok && o != key {
			t.Fatalf("partition %d owned by %s and %s in generation %d", p, o, key, s.gen)
		}
		m.owner[s.gen][p] = key
	}
}

// check asserts the invariants after every step.
func (m *model) check(t *rapid.T) {
	g := m.x.group()
	if g != m.lastG {
		// A Dead group was dropped and a new one made: generations restart.
		m.lastG, m.lastGen = g, 0
		m.owner, m.assigned = map[int32]map[byte]string{}, map[int32]bool{}
	}
	m.absorb(t)
	if g == nil {
		return
	}
	if g.Generation() < m.lastGen {
		t.Fatalf("generation went from %d to %d", m.lastGen, g.Generation())
	}
	m.lastGen = g.Generation()
	checkInvariants(t, g)
	if g.State() == Stable && !m.assigned[g.Generation()] && g.Generation() > 0 {
		// Only the leader's own SyncGroup answer tells the model; it is in
		// the same Output, so absorb has seen it.
		t.Fatalf("Stable in generation %d without a leader's assignment", g.Generation())
	}
	if d, ok := g.NextDeadline(); ok && d <= m.x.now {
		t.Fatalf("deadline %d already passed at %d", d, m.x.now)
	}
}

// drain runs time forward until no deadline is left: every held request
// must have been answered by then.
func (m *model) drain(t *rapid.T) {
	for i := 0; i < 1000; i++ {
		d, ok := m.x.gs.NextDeadline()
		if !ok {
			break
		}
		m.x.tick(max(d, m.x.now))
		m.check(t)
	}
	for h := Handle(1); h <= m.x.next; h++ {
		if m.x.replies[h] == nil {
			t.Fatalf("handle %d (%s) never answered", h, m.sent[h].kind)
		}
	}
}

// Random sequences of join/sync/heartbeat/leave/commit/tick against the
// model of the clients.
func TestGroupProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := newModel(t)
		t.Repeat(map[string]func(*rapid.T){
			"step":      m.step,
			"step2":     m.step,
			"step3":     m.step,
			"step4":     m.step,
			"join":      m.join,
			"sync":      m.sync,
			"heartbeat": m.heartbeat,
			"leave":     m.leave,
			"commit":    m.commit,
			"stranger":  m.stranger,
			"tick":      m.tick,
			"deadline":  m.tickToDeadline,
			"expire":    m.expire,
			"":          m.check,
		})
		m.drain(t)
	})
}

// checkInvariants asserts what must hold between any two inputs.
func checkInvariants(t tb, g *Group) {
	t.Helper()
	if len(g.order) != len(g.members) {
		t.Fatalf("order %v vs %d members", g.order, len(g.members))
	}
	awaiting := 0
	for _, id := range g.order {
		m := g.members[id]
		if m == nil || m.id != id {
			t.Fatalf("member %q missing or misnamed", id)
		}
		if m.join != nil {
			awaiting++
			if g.state != PreparingRebalance {
				t.Fatalf("member %q holds a JoinGroup in %v", id, g.state)
			}
		}
		if m.sync != nil && g.state != CompletingRebalance {
			t.Fatalf("member %q holds a SyncGroup in %v", id, g.state)
		}
		if m.instanceID != nil && g.static[*m.instanceID] != id {
			t.Fatalf("static member %q not mapped from %q", id, *m.instanceID)
		}
		if g.state == Stable && m.assignment == nil {
			t.Fatalf("member %q of a Stable group has no assignment", id)
		}
	}
	if awaiting != g.awaiting {
		t.Fatalf("awaiting %d, counted %d", g.awaiting, awaiting)
	}
	if len(g.static) > len(g.members) {
		t.Fatalf("%d static mappings for %d members", len(g.static), len(g.members))
	}
	if len(g.members) > 0 {
		if _, ok := g.members[g.leader]; !ok {
			t.Fatalf("leader %q is not a member", g.leader)
		}
	} else if g.leader != "" {
		t.Fatalf("leader %q of a group without members", g.leader)
	}
	switch g.state {
	case Empty, Dead:
		if len(g.members) > 0 && g.state == Empty {
			t.Fatalf("Empty group with %d members", len(g.members))
		}
	case CompletingRebalance, Stable:
		if g.protocol == nil || len(g.members) == 0 {
			t.Fatalf("%v group without protocol or members", g.state)
		}
	}
	if g.state == PreparingRebalance && !g.joinTimer.armed {
		t.Fatalf("PreparingRebalance without a join deadline")
	}
}
