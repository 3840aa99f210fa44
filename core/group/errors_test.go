package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup error codes a client can provoke.
func TestJoinErrors(t *testing.T) {
	inst := "i1"
	tests := []struct {
		name  string
		setup bool // a Stable group of 2 with a static member "i1" first
		req   func(ids []string) *kmsg.JoinGroupRequest
		want  int16
	}{
		{"session timeout below group.min.session.timeout.ms", false, func([]string) *kmsg.JoinGroupRequest {
			r := joinReq("", nil, "t")
			r.SessionTimeoutMillis = 5999
			return r
		}, 26},
		{"session timeout above group.max.session.timeout.ms", true, func([]string) *kmsg.JoinGroupRequest {
			r := joinReq("", nil, "t")
			r.SessionTimeoutMillis = 1800001
			return r
		}, 26},
		{"empty group id", false, func([]string) *kmsg.JoinGroupRequest {
			r := joinReq("", nil, "t")
			r.Group = ""
			return r
		}, 24},
		{"empty protocol type", false, func([]string) *kmsg.JoinGroupRequest {
			r := joinReq("", nil, "t")
			r.ProtocolType = ""
			return r
		}, 23},
		{"protocol type differs from the group's", true, func([]string) *kmsg.JoinGroupRequest {
			r := joinReq("", nil, "t")
			r.ProtocolType = "connect"
			return r
		}, 23},
		{"no protocol in common", true, func([]string) *kmsg.JoinGroupRequest {
			r := joinReq("", nil, "t")
			r.Protocols[0].Name = "roundrobin"
			return r
		}, 23},
		{"member id unknown to a new group", false, func([]string) *kmsg.JoinGroupRequest {
			return joinReq("nobody", nil, "t")
		}, 25},
		{"member id unknown to the group", true, func([]string) *kmsg.JoinGroupRequest {
			return joinReq("nobody", nil, "t")
		}, 25},
		{"v4+ new dynamic member (KIP-394)", true, func([]string) *kmsg.JoinGroupRequest {
			return joinReq("", nil, "t")
		}, 79},
		{"KIP-345 stale member id of a static member", true, func(ids []string) *kmsg.JoinGroupRequest {
			return joinReq(ids[1], &inst, "t")
		}, 82},
		{"KIP-345 unknown instance id with a member id", true, func(ids []string) *kmsg.JoinGroupRequest {
			other := "i2"
			return joinReq(ids[0], &other, "t")
		}, 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newTester(t, testConfig())
			var ids []string
			if tt.setup {
				ids = x.staticAndDynamic(inst)
			}
			h := x.join(tt.req(ids))
			r := x.joinResp(h)
			if r == nil || r.ErrorCode != tt.want {
				t.Fatalf("got %#v, want error %d", x.replies[h], tt.want)
			}
		})
	}
}

// staticAndDynamic makes a Stable group of a static member (the leader) and
// a dynamic one, and returns their member ids.
func (x *tester) staticAndDynamic(inst string) []string {
	x.t.Helper()
	hs := x.join(joinReq("", &inst, "t"))
	dyn, hd := x.joinDynamic("t")
	x.settle(hs, hd)
	st := x.joinResp(hs).MemberID
	ids := []string{st, dyn}
	x.sync(dyn, 1, nil)
	x.sync(st, 1, map[string][]byte{st: []byte("s"), dyn: []byte("d")})
	// A restart of the static member leaves its first id stale.
	h := x.join(joinReq("", &inst, "t"))
	if r := x.joinResp(h); r == nil || r.ErrorCode != 0 {
		x.t.Fatalf("static restart: %#v", x.replies[h])
	}
	return []string{x.joinResp(h).MemberID, ids[0], dyn}
}

// SyncGroup and Heartbeat error codes.
func TestSyncAndHeartbeatErrors(t *testing.T) {
	x := newTester(t, testConfig())
	ids := x.stableGroup(2, "t")
	other := "range2"
	tests := []struct {
		name   string
		member string
		gen    int32
		proto  *string
		want   int16
	}{
		{"unknown member", "nobody", 1, nil, 25},
		{"stale generation", ids[1], 0, nil, 22},
		{"future generation", ids[1], 2, nil, 22},
		{"v5 protocol name differs", ids[1], 1, &other, 23},
		{"current member", ids[1], 1, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := kmsg.NewPtrSyncGroupRequest()
			r.Version, r.Group, r.MemberID, r.Generation, r.Protocol = 5, testGroup, tt.member, tt.gen, tt.proto
			h := x.handle()
			x.take(x.gs.Sync(x.now, h, r))
			if ec := x.syncResp(h).ErrorCode; ec != tt.want {
				t.Fatalf("sync: %d, want %d", ec, tt.want)
			}
			if tt.proto != nil {
				return
			}
			if ec := x.heartbeat(tt.member, nil, tt.gen); ec != tt.want {
				t.Fatalf("heartbeat: %d, want %d", ec, tt.want)
			}
		})
	}
	x.join(joinReq(ids[0], nil, "t")) // the leader rejoins: rebalance
	if ec := x.syncResp(x.sync(ids[1], 1, nil)).ErrorCode; ec != 27 {
		t.Fatalf("sync during rebalance: %d, want REBALANCE_IN_PROGRESS", ec)
	}
	if ec := x.heartbeat(ids[1], nil, 1); ec != 27 {
		t.Fatalf("heartbeat during rebalance: %d, want REBALANCE_IN_PROGRESS", ec)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID = "other", ids[1]
	if r := x.gs.Heartbeat(x.now, x.handle(), hb).Replies[0].Msg.(*kmsg.HeartbeatResponse); r.ErrorCode != 25 {
		t.Fatalf("heartbeat to an unknown group: %d, want UNKNOWN_MEMBER_ID", r.ErrorCode)
	}
}

// A follower waiting for the leader's SyncGroup is told to rejoin when a
// rebalance starts first.
func TestHeldSyncAnsweredByRebalance(t *testing.T) {
	x := newTester(t, testConfig())
	a, ha := x.joinDynamic("t")
	b, hb := x.joinDynamic("t")
	x.settle(ha, hb)
	hs := x.sync(b, 1, nil)
	x.join(joinReq(b, nil, "t", "u")) // b changes its subscription
	if r := x.syncResp(hs); r == nil || r.ErrorCode != 27 {
		t.Fatalf("held sync: %#v", x.replies[hs])
	}
	_ = a
}

// OffsetCommit error codes (KIP-98 era rules of Kafka 4's ClassicGroup).
func TestCommitErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(x *tester) []string
		req   func(ids []string) *kmsg.OffsetCommitRequest
		want  int16
	}{
		{"simple commit creates a group", nil, func([]string) *kmsg.OffsetCommitRequest {
			return commitReq(8, "", -1, "t", 0, 5)
		}, 0},
		{"v0 commit", nil, func([]string) *kmsg.OffsetCommitRequest {
			return commitReq(0, "", -1, "t", 0, 5)
		}, 0},
		{"generation to an unknown group before v9", nil, func([]string) *kmsg.OffsetCommitRequest {
			return commitReq(8, "m", 3, "t", 0, 5)
		}, 22},
		{"generation to an unknown group from v9", nil, func([]string) *kmsg.OffsetCommitRequest {
			return commitReq(9, "m", 3, "t", 0, 5)
		}, 69},
		{"simple commit to a group with members", stable2, func([]string) *kmsg.OffsetCommitRequest {
			return commitReq(8, "", -1, "t", 0, 5)
		}, 25},
		{"unknown member", stable2, func([]string) *kmsg.OffsetCommitRequest {
			return commitReq(8, "nobody", 1, "t", 0, 5)
		}, 25},
		{"stale generation", stable2, func(ids []string) *kmsg.OffsetCommitRequest {
			return commitReq(8, ids[0], 0, "t", 0, 5)
		}, 22},
		{"member commit in Stable", stable2, func(ids []string) *kmsg.OffsetCommitRequest {
			return commitReq(8, ids[1], 1, "t", 0, 5)
		}, 0},
		{"member commit while PreparingRebalance", preparing, func(ids []string) *kmsg.OffsetCommitRequest {
			return commitReq(8, ids[1], 1, "t", 0, 5)
		}, 0},
		{"member commit while CompletingRebalance", completing, func(ids []string) *kmsg.OffsetCommitRequest {
			return commitReq(8, ids[1], 2, "t", 0, 5)
		}, 27},
		{"metadata above offset.metadata.max.bytes", nil, func([]string) *kmsg.OffsetCommitRequest {
			r := commitReq(8, "", -1, "t", 0, 5)
			big := string(make([]byte, 4097))
			r.Topics[0].Partitions[0].Metadata = &big
			return r
		}, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newTester(t, testConfig())
			var ids []string
			if tt.setup != nil {
				ids = tt.setup(x)
			}
			req := tt.req(ids)
			if ec := x.commit(req); ec != tt.want {
				t.Fatalf("commit: %d, want %d", ec, tt.want)
			}
			stored := false
			if g := x.gs.Get(testGroup); g != nil {
				_, stored = g.Offsets()[TopicPartition{"t", 0}]
			}
			if stored != (tt.want == 0) {
				t.Fatalf("stored %v, error %d", stored, tt.want)
			}
		})
	}
}

func stable2(x *tester) []string { return x.stableGroup(2, "t") }

func preparing(x *tester) []string {
	ids := x.stableGroup(2, "t")
	x.join(joinReq(ids[0], nil, "t"))
	return ids
}

func completing(x *tester) []string {
	ids := preparing(x)
	x.join(joinReq(ids[1], nil, "t"))
	if s := x.group().State(); s != CompletingRebalance {
		x.t.Fatalf("state %v", s)
	}
	return ids
}
