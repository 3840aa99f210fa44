package group

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Three members join one generation with a leader; the leader's SyncGroup
// hands every member its assignment.
func TestThreeMembersJoinOneGeneration(t *testing.T) {
	x := newTester(t, testConfig())
	start := x.now
	var ids []string
	var hs []Handle
	for i := 0; i < 3; i++ {
		id, h := x.joinDynamic("t")
		ids, hs = append(ids, id), append(hs, h)
	}
	if g := x.group(); g.State() != PreparingRebalance {
		t.Fatalf("state %v, want PreparingRebalance", g.State())
	}
	x.tick(start + 2999)
	if x.replies[hs[0]] != nil {
		t.Fatal("join answered before the initial rebalance delay")
	}
	x.settle(hs...)
	g := x.group()
	if g.Generation() != 1 || g.State() != CompletingRebalance || g.Leader() != ids[0] {
		t.Fatalf("gen %d state %v leader %q", g.Generation(), g.State(), g.Leader())
	}
	for i, h := range hs {
		r := x.joinResp(h)
		if r.ErrorCode != 0 || r.Generation != 1 || r.LeaderID != ids[0] || r.MemberID != ids[i] || *r.Protocol != "range" {
			t.Fatalf("member %d join response %#v", i, r)
		}
		if want := map[bool]int{true: 3, false: 0}[i == 0]; len(r.Members) != want {
			t.Fatalf("member %d got %d members in its join response, want %d", i, len(r.Members), want)
		}
	}
	f1 := x.sync(ids[1], 1, nil)
	if x.replies[f1] != nil {
		t.Fatal("follower's SyncGroup answered before the leader's")
	}
	assign := map[string][]byte{ids[0]: []byte("p0"), ids[1]: []byte("p1")} // ids[2] left out
	nrec := len(x.records)
	l := x.sync(ids[0], 1, assign)
	f2 := x.sync(ids[2], 1, nil)
	if g.State() != Stable {
		t.Fatalf("state %v after the leader's sync", g.State())
	}
	if len(x.records) != nrec+1 {
		t.Fatalf("leader's sync wrote %d records, want the group metadata", len(x.records)-nrec)
	}
	for h, want := range map[Handle]string{l: "p0", f1: "p1", f2: ""} {
		if r := x.syncResp(h); r == nil || r.ErrorCode != 0 || string(r.MemberAssignment) != want {
			t.Fatalf("sync %d: %#v, want assignment %q", h, x.replies[h], want)
		}
	}
}

// A member leaving a Stable group makes the others rejoin a new generation.
func TestLeaveTriggersRebalance(t *testing.T) {
	x := newTester(t, testConfig())
	ids := x.stableGroup(3, "t")
	r := x.leave(leaving(ids[1], nil))
	if r.ErrorCode != 0 || len(r.Members) != 1 || r.Members[0].ErrorCode != 0 {
		t.Fatalf("leave: %#v", r)
	}
	g := x.group()
	if g.State() != PreparingRebalance {
		t.Fatalf("state %v after leave", g.State())
	}
	if ec := x.heartbeat(ids[0], nil, 1); ec != 27 {
		t.Fatalf("heartbeat during rebalance: %d, want REBALANCE_IN_PROGRESS", ec)
	}
	h0 := x.join(joinReq(ids[0], nil, "t"))
	h2 := x.join(joinReq(ids[2], nil, "t"))
	// Every member rejoined: the join phase ends at once.
	if r := x.joinResp(h2); r == nil || r.Generation != 2 || len(x.joinResp(h0).Members) != 2 {
		t.Fatalf("rejoin: %#v %#v", x.replies[h0], x.replies[h2])
	}
}

// A member that stops heartbeating is removed when Tick passes its session
// deadline, and the group rebalances without it.
func TestSessionTimeoutExpiresMember(t *testing.T) {
	x := newTester(t, testConfig())
	ids := x.stableGroup(2, "t")
	for ec := int16(0); ec == 0; {
		x.tick(x.now + 3000)
		if ec = x.heartbeat(ids[0], nil, 1); ec != 0 && ec != 27 {
			t.Fatalf("heartbeat: %d", ec)
		}
	}
	g := x.group()
	if _, ok := g.Assignment(ids[1]); ok {
		t.Fatal("silent member still in the group")
	}
	if g.State() != PreparingRebalance {
		t.Fatalf("state %v, want PreparingRebalance", g.State())
	}
	h := x.join(joinReq(ids[0], nil, "t"))
	if r := x.joinResp(h); r == nil || r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("rejoin: %#v", x.replies[h])
	}
}

// KIP-345: a static member restarted with the same group.instance.id takes
// over its old member id and keeps its assignment with no rebalance.
func TestStaticMemberRestartKeepsAssignment(t *testing.T) {
	x := newTester(t, testConfig())
	inst := "instance-1"
	ids := x.stableGroup(1, "t")
	hs := x.join(joinReq("", &inst, "t"))
	x.join(joinReq(ids[0], nil, "t"))
	x.settle(hs)
	old := x.joinResp(hs).MemberID
	x.sync(old, 2, nil)
	x.sync(ids[0], 2, map[string][]byte{ids[0]: []byte("A"), old: []byte("B")})
	g := x.group()
	if g.State() != Stable || g.Generation() != 2 {
		t.Fatalf("state %v gen %d", g.State(), g.Generation())
	}

	h := x.join(joinReq("", &inst, "t")) // the restarted process
	r := x.joinResp(h)
	if r == nil || r.ErrorCode != 0 || r.Generation != 2 || r.MemberID == old {
		t.Fatalf("static rejoin: %#v", x.replies[h])
	}
	if g.State() != Stable || g.Generation() != 2 {
		t.Fatalf("static rejoin rebalanced: state %v gen %d", g.State(), g.Generation())
	}
	s := x.syncResp(x.sync(r.MemberID, 2, nil))
	if s.ErrorCode != 0 || !bytes.Equal(s.MemberAssignment, []byte("B")) {
		t.Fatalf("restarted member's assignment: %#v", s)
	}
	if ec := x.heartbeat(old, &inst, 2); ec != 82 {
		t.Fatalf("old member id with its instance id: %d, want FENCED_INSTANCE_ID", ec)
	}
	if ec := x.heartbeat(old, nil, 2); ec != 25 {
		t.Fatalf("old member id: %d, want UNKNOWN_MEMBER_ID", ec)
	}
}

// Cooperative clients rejoin in Stable: a follower with unchanged metadata
// gets the current generation back; the leader's rejoin rebalances.
func TestRejoinInStable(t *testing.T) {
	x := newTester(t, testConfig())
	ids := x.stableGroup(2, "t")
	h := x.join(joinReq(ids[1], nil, "t"))
	if r := x.joinResp(h); r == nil || r.ErrorCode != 0 || r.Generation != 1 || x.group().State() != Stable {
		t.Fatalf("follower rejoin: %#v, state %v", x.replies[h], x.group().State())
	}
	h = x.join(joinReq(ids[1], nil, "t", "u")) // changed subscription
	if x.replies[h] != nil || x.group().State() != PreparingRebalance {
		t.Fatalf("changed metadata did not rebalance: %#v", x.replies[h])
	}
	hl := x.join(joinReq(ids[0], nil, "t"))
	if r := x.joinResp(hl); r == nil || r.Generation != 2 || x.joinResp(h).Generation != 2 {
		t.Fatalf("rebalance: %#v %#v", x.replies[hl], x.replies[h])
	}
	ids = x.stableGroupAgain(ids)
	hl = x.join(joinReq(ids[0], nil, "t"))
	if x.replies[hl] != nil || x.group().State() != PreparingRebalance {
		t.Fatal("leader rejoin in Stable did not rebalance")
	}
}

// stableGroupAgain syncs the current generation of ids to Stable.
func (x *tester) stableGroupAgain(ids []string) []string {
	gen := x.group().Generation()
	x.sync(ids[1], gen, nil)
	x.sync(ids[0], gen, map[string][]byte{ids[0]: []byte("x"), ids[1]: []byte("y")})
	if x.group().State() != Stable {
		x.t.Fatalf("state %v", x.group().State())
	}
	return ids
}

// group.initial.rebalance.delay.ms: the first join phase of a new group is
// extended, a delay at a time, while new members keep arriving, up to the
// rebalance timeout.
func TestInitialRebalanceDelayExtends(t *testing.T) {
	x := newTester(t, testConfig())
	t0 := x.now
	_, h1 := x.joinDynamic("t")
	x.tick(t0 + 2000)
	_, h2 := x.joinDynamic("t")
	x.tick(t0 + 4000) // the delay was extended at 3000 to 6000
	_, h3 := x.joinDynamic("t")
	x.tick(t0 + 8999) // extended again at 6000 to 9000
	if x.replies[h1] != nil {
		t.Fatal("join phase ended while members were still arriving")
	}
	x.tick(t0 + 9000)
	for _, h := range []Handle{h1, h2, h3} {
		if r := x.joinResp(h); r == nil || r.Generation != 1 {
			t.Fatalf("join %d: %#v", h, x.replies[h])
		}
	}
}

// A member that does not rejoin within the rebalance timeout is removed.
func TestRebalanceTimeoutRemovesMember(t *testing.T) {
	x := newTester(t, testConfig())
	ids := x.stableGroup(2, "t")
	t0 := x.now
	h := x.join(joinReq(ids[0], nil, "t")) // leader rejoins: rebalance
	for x.now+3000 < t0+30_000 {
		x.tick(x.now + 3000)
		if ec := x.heartbeat(ids[1], nil, 1); ec != 27 {
			t.Fatalf("heartbeat during rebalance: %d", ec)
		}
	}
	x.tick(t0 + 29_999)
	if x.replies[h] != nil {
		t.Fatal("join phase ended before the rebalance timeout")
	}
	x.tick(t0 + 30_000)
	if r := x.joinResp(h); r == nil || r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("join after rebalance timeout: %#v", x.replies[h])
	}
}

// KIP-394: a member id handed out with MEMBER_ID_REQUIRED holds the join
// phase open until it joins or its session times out.
func TestPendingMemberHoldsJoinPhase(t *testing.T) {
	x := newTester(t, testConfig())
	ids := x.stableGroup(1, "t")
	first := x.join(joinReq("", nil, "t"))
	pending := x.joinResp(first).MemberID
	h := x.join(joinReq(ids[0], nil, "t")) // leader rejoin: rebalance
	if x.replies[h] != nil {
		t.Fatal("join phase ended with a pending member outstanding")
	}
	hp := x.join(joinReq(pending, nil, "t"))
	if x.joinResp(hp) == nil || x.joinResp(h).Generation != 2 || len(x.joinResp(h).Members) != 2 {
		t.Fatalf("join: %#v %#v", x.replies[h], x.replies[hp])
	}
}

// Dead groups answer nothing but errors.
func TestDeadGroupAcceptsNothing(t *testing.T) {
	x := newTester(t, testConfig())
	g := NewGroup("d", testConfig(), &seqIDs{}, 0)
	g.transition(Dead, 0)
	out := g.Join(0, 1, Client{}, joinReq("", nil, "t"))
	out2 := g.Heartbeat(0, 2, &kmsg.HeartbeatRequest{Group: "d"})
	out3 := g.Commit(0, 3, commitReq(8, "", -1, "t", 0, 1))
	for _, o := range []Output{out, out2, out3} {
		if len(o.Records) != 0 || len(o.Replies) != 1 {
			t.Fatalf("dead group output %#v", o)
		}
	}
	if out.Replies[0].Msg.(*kmsg.JoinGroupResponse).ErrorCode != 15 {
		t.Fatal("join of a dead group")
	}
	_ = x
}

// A member that never sends SyncGroup after a join phase is removed once
// the rebalance timeout passes, and the group rebalances (Kafka's
// DelayedSync).
func TestMissingSyncRemovesMember(t *testing.T) {
	x := newTester(t, testConfig())
	a, ha := x.joinDynamic("t")
	b, hb := x.joinDynamic("t")
	x.settle(ha, hb)
	t0 := x.now
	x.sync(b, 1, nil)
	x.sync(a, 1, map[string][]byte{a: []byte("A"), b: []byte("B")})
	c := x.group() // every member synced: no sync deadline runs
	if d, _ := c.NextDeadline(); d < t0+10_000 {
		t.Fatalf("next deadline %d, want the session deadlines", d)
	}

	x2 := newTester(t, testConfig())
	a, ha = x2.joinDynamic("t")
	b, hb = x2.joinDynamic("t")
	x2.settle(ha, hb)
	t0 = x2.now
	x2.sync(a, 1, map[string][]byte{a: []byte("A"), b: []byte("B")}) // b never syncs
	for x2.now+3000 < t0+30_000 {
		x2.tick(x2.now + 3000)
		x2.heartbeat(a, nil, 1)
		x2.heartbeat(b, nil, 1)
	}
	x2.tick(t0 + 30_000)
	if _, ok := x2.group().Assignment(b); ok || x2.group().State() != PreparingRebalance {
		t.Fatalf("member that never synced: state %v", x2.group().State())
	}
}

// group.max.size: a new member beyond the limit gets GROUP_MAX_SIZE_REACHED.
func TestGroupMaxSize(t *testing.T) {
	cfg := testConfig()
	cfg.GroupSizeMax = 2
	x := newTester(t, cfg)
	ids := x.stableGroup(2, "t")
	if r := x.joinResp(x.join(joinReq("", nil, "t"))); r.ErrorCode != 81 {
		t.Fatalf("join beyond group.max.size in Stable: %d", r.ErrorCode)
	}
	x.join(joinReq(ids[0], nil, "t")) // rebalance: 1 of 2 members awaiting
	r := x.joinResp(x.join(joinReq("", nil, "t")))
	if r.ErrorCode != 79 {
		t.Fatalf("first join during the rebalance: %d", r.ErrorCode)
	}
	x.join(joinReq(ids[1], nil, "t")) // 2 of 2 awaiting
	if x.group().State() != PreparingRebalance {
		t.Fatal("join phase ended with a pending member outstanding")
	}
	h := x.join(joinReq(r.MemberID, nil, "t"))
	if r := x.joinResp(h); r == nil || r.ErrorCode != 81 {
		t.Fatalf("join beyond group.max.size: %#v", x.replies[h])
	}
	if g := x.group(); g.State() != CompletingRebalance || len(g.Members()) != 2 {
		t.Fatalf("after the refused member: %v with %d members", g.State(), len(g.Members()))
	}
}

// KIP-814: from JoinGroup v9 a restarted static leader learns it leads but
// skips the assignment; before v9 it is told the old leader id.
func TestStaticLeaderRestartSkipsAssignment(t *testing.T) {
	for _, version := range []int16{5, 9} {
		x := newTester(t, testConfig())
		inst := "i1"
		ids := x.staticAndDynamic(inst)
		if x.group().Leader() != ids[0] {
			t.Fatalf("leader %q, want the static member %q", x.group().Leader(), ids[0])
		}
		req := joinReq("", &inst, "t")
		req.Version = version
		h := x.join(req)
		r := x.joinResp(h)
		if r == nil || r.ErrorCode != 0 || x.group().State() != Stable || x.group().Leader() != r.MemberID {
			t.Fatalf("v%d: %#v", version, x.replies[h])
		}
		if lead := r.LeaderID == r.MemberID; lead != (version >= 9) || r.SkipAssignment != (version >= 9) {
			t.Fatalf("v%d: leader %q member %q skip %v members %d", version, r.LeaderID, r.MemberID, r.SkipAssignment, len(r.Members))
		}
	}
}

// JoinGroup v0 has no rebalance timeout: the session timeout stands in.
func TestJoinV0RebalanceTimeout(t *testing.T) {
	x := newTester(t, testConfig())
	req := joinReq("", nil, "t")
	req.Version, req.RebalanceTimeoutMillis, req.SessionTimeoutMillis = 0, -1, 7000
	h := x.join(req)
	x.settle(h)
	if m := x.group().members[x.joinResp(h).MemberID]; m.rebalanceTimeoutMs != 7000 {
		t.Fatalf("rebalance timeout %d", m.rebalanceTimeoutMs)
	}
}
