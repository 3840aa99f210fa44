package group

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
