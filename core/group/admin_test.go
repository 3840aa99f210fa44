package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups shows protocol, metadata and assignments in Stable only;
// an unknown group is Dead (GROUP_ID_NOT_FOUND from v6).
func TestDescribe(t *testing.T) {
	x := newTester(t, testConfig())
	ids := x.stableGroup(2, "t")
	d := x.gs.Describe(testGroup, 5)
	if d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "range" || len(d.Members) != 2 {
		t.Fatalf("describe: %#v", d)
	}
	if m := d.Members[1]; m.MemberID != ids[1] || m.ClientID != "client" || m.ClientHost != "/127.0.0.1" ||
		string(m.MemberAssignment) != "a1" || len(m.ProtocolMetadata) == 0 {
		t.Fatalf("member: %#v", m)
	}
	x.join(joinReq(ids[0], nil, "t"))
	if d := x.gs.Describe(testGroup, 5); d.State != "PreparingRebalance" || d.Protocol != "" || d.Members[0].MemberAssignment != nil {
		t.Fatalf("describe while rebalancing: %#v", d)
	}
	if d := x.gs.Describe("nope", 5); d.State != "Dead" || d.ErrorCode != 0 {
		t.Fatalf("unknown v5: %#v", d)
	}
	if d := x.gs.Describe("nope", 6); d.State != "Dead" || d.ErrorCode != 69 {
		t.Fatalf("unknown v6: %#v", d)
	}
}

// ListGroups filters on Kafka's state names, case-insensitively, and on
// the "classic" type.
func TestList(t *testing.T) {
	x := newTester(t, testConfig())
	x.stableGroup(1, "t")
	r := commitReq(8, "", -1, "t", 0, 1)
	r.Group = "simple"
	x.commit(r)
	list := func(states, types []string) []string {
		req := kmsg.NewPtrListGroupsRequest()
		req.StatesFilter, req.TypesFilter = states, types
		var ids []string
		for _, g := range x.gs.List(req) {
			ids = append(ids, g.Group+"/"+g.GroupState+"/"+g.ProtocolType)
		}
		return ids
	}
	tests := []struct {
		states, types []string
		want          string
	}{
		{nil, nil, "[g/Stable/consumer simple/Empty/]"},
		{[]string{"Empty"}, nil, "[simple/Empty/]"},
		{[]string{"stable", "Dead"}, nil, "[g/Stable/consumer]"},
		{[]string{"CompletingRebalance"}, nil, "[]"},
		{nil, []string{"Classic"}, "[g/Stable/consumer simple/Empty/]"},
		{nil, []string{"consumer"}, "[]"},
	}
	for _, tt := range tests {
		if got := fmtList(list(tt.states, tt.types)); got != tt.want {
			t.Errorf("states %v types %v: %s, want %s", tt.states, tt.types, got, tt.want)
		}
	}
}

func fmtList(ids []string) string {
	s := "["
	for i, id := range ids {
		if i > 0 {
			s += " "
		}
		s += id
	}
	return s + "]"
}

// DeleteGroups: NON_EMPTY_GROUP with members, GROUP_ID_NOT_FOUND when
// unknown; an Empty group goes with tombstones for its offsets and metadata.
func TestDeleteGroups(t *testing.T) {
	x := newTester(t, testConfig())
	ids := x.stableGroup(1, "t")
	x.commit(commitReq(8, ids[0], 1, "t", 0, 3))
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{testGroup, "nope"}
	h := x.handle()
	x.take(x.gs.Delete(x.now, h, del))
	r := x.replies[h].(*kmsg.DeleteGroupsResponse)
	if r.Groups[0].ErrorCode != 68 || r.Groups[1].ErrorCode != 69 {
		t.Fatalf("delete: %#v", r.Groups)
	}
	x.leave(leaving(ids[0], nil))
	nrec := len(x.records)
	h = x.handle()
	x.take(x.gs.Delete(x.now, h, del))
	if r := x.replies[h].(*kmsg.DeleteGroupsResponse); r.Groups[0].ErrorCode != 0 {
		t.Fatalf("delete of an Empty group: %#v", r.Groups[0])
	}
	if x.gs.Get(testGroup) != nil || len(x.records) != nrec+2 {
		t.Fatalf("group kept or %d records written", len(x.records)-nrec)
	}
	for _, rec := range x.records[nrec:] {
		if rec.Value != nil {
			t.Fatal("want tombstones")
		}
	}
}

// LeaveGroup v3+ (KIP-345): a batch with an error per member; static
// members can be removed by group.instance.id alone. v0-2 carry the one
// member's error at the top level.
func TestLeaveBatch(t *testing.T) {
	x := newTester(t, testConfig())
	inst, other := "i1", "i9"
	ids := x.staticAndDynamic(inst) // current static id, stale static id, dynamic id
	r := x.leave(leaving("", &inst), leaving("nobody", nil), leaving("", &other), leaving(ids[1], &inst), leaving(ids[2], nil))
	want := []int16{0, 25, 25, 25, 0}
	for i, m := range r.Members {
		if m.ErrorCode != want[i] {
			t.Fatalf("member %d: %d, want %d (%#v)", i, m.ErrorCode, want[i], r.Members)
		}
	}
	if g := x.group(); len(g.Members()) != 0 {
		t.Fatalf("members left: %v", g.Members())
	}
	old := kmsg.NewPtrLeaveGroupRequest()
	old.Version, old.Group, old.MemberID = 1, testGroup, "nobody"
	h := x.handle()
	x.take(x.gs.Leave(x.now, h, old))
	if r := x.replies[h].(*kmsg.LeaveGroupResponse); r.ErrorCode != 25 || r.Members != nil {
		t.Fatalf("v1 leave: %#v", r)
	}
}

// A JoinGroup held while its member leaves is answered.
func TestLeaveAnswersHeldJoin(t *testing.T) {
	x := newTester(t, testConfig())
	inst := "i1"
	ids := x.stableGroup(1, "t")
	hs := x.join(joinReq("", &inst, "t")) // static member joins: rebalance, held
	x.leave(leaving("", &inst))
	if r := x.joinResp(hs); r == nil || r.ErrorCode != 25 {
		t.Fatalf("held join of a removed member: %#v", x.replies[hs])
	}
	_ = ids
}
