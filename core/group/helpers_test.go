package group

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// seqIDs is a deterministic IDSource: UUIDs count up.
type seqIDs struct{ n uint64 }

func (s *seqIDs) UUID() [16]byte {
	s.n++
	var u [16]byte
	binary.BigEndian.PutUint64(u[8:], s.n)
	return u
}

// tester drives a Groups the way the shell would, keeping every reply and
// record, and fails the test if a handle is answered twice.
// tb is what tests and rapid's T both offer.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

type tester struct {
	t       tb
	gs      *Groups
	now     int64
	next    Handle
	replies map[Handle]kmsg.Response
	records []Record
}

const testGroup = "g"

func newTester(t tb, cfg Config) *tester {
	return &tester{t: t, gs: NewGroups(cfg, &seqIDs{}), now: 1_000_000, replies: map[Handle]kmsg.Response{}}
}

func testConfig() Config { return DefaultConfig() }

// settle ticks from deadline to deadline until every handle in hs is
// answered.
func (x *tester) settle(hs ...Handle) {
	x.t.Helper()
	for _, h := range hs {
		for x.replies[h] == nil {
			d, ok := x.gs.NextDeadline()
			if !ok {
				x.t.Fatalf("handle %d is held with no deadline running", h)
			}
			x.tick(max(d, x.now))
		}
	}
}

func (x *tester) take(out Output) {
	x.t.Helper()
	x.records = append(x.records, out.Records...)
	for _, r := range out.Replies {
		if r.To == 0 || r.To > x.next {
			x.t.Fatalf("reply to handle %d that was never given out", r.To)
		}
		if _, dup := x.replies[r.To]; dup {
			x.t.Fatalf("handle %d answered twice: %#v", r.To, r.Msg)
		}
		x.replies[r.To] = r.Msg
	}
}

func (x *tester) handle() Handle { x.next++; return x.next }

func (x *tester) group() *Group { return x.gs.Get(testGroup) }

func (x *tester) tick(nowMs int64) {
	x.t.Helper()
	x.now = nowMs
	x.take(x.gs.Tick(nowMs))
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

func joinReq(member string, instance *string, topics ...string) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = 9
	r.Group = testGroup
	r.SessionTimeoutMillis = 10000
	r.RebalanceTimeoutMillis = 30000
	r.MemberID = member
	r.InstanceID = instance
	r.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	p.Metadata = consumerMeta(topics...)
	r.Protocols = []kmsg.JoinGroupRequestProtocol{p}
	return r
}

func (x *tester) join(req *kmsg.JoinGroupRequest) Handle {
	x.t.Helper()
	h := x.handle()
	x.take(x.gs.Join(x.now, h, Client{ID: "client", Host: "/127.0.0.1"}, req))
	return h
}

func (x *tester) joinResp(h Handle) *kmsg.JoinGroupResponse {
	r, _ := x.replies[h].(*kmsg.JoinGroupResponse)
	return r
}

// joinDynamic does the v4+ two-step join of a new dynamic member and
// returns its member id and the held second JoinGroup.
func (x *tester) joinDynamic(topics ...string) (string, Handle) {
	x.t.Helper()
	h := x.join(joinReq("", nil, topics...))
	r := x.joinResp(h)
	if r == nil || r.ErrorCode != 79 {
		x.t.Fatalf("first join: want MEMBER_ID_REQUIRED, got %#v", x.replies[h])
	}
	return r.MemberID, x.join(joinReq(r.MemberID, nil, topics...))
}

func (x *tester) sync(member string, gen int32, assign map[string][]byte) Handle {
	x.t.Helper()
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group = testGroup
	r.MemberID = member
	r.Generation = gen
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, a
		r.GroupAssignment = append(r.GroupAssignment, ga)
	}
	h := x.handle()
	x.take(x.gs.Sync(x.now, h, r))
	return h
}

func (x *tester) syncResp(h Handle) *kmsg.SyncGroupResponse {
	r, _ := x.replies[h].(*kmsg.SyncGroupResponse)
	return r
}

func (x *tester) heartbeat(member string, instance *string, gen int32) int16 {
	x.t.Helper()
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = 4
	r.Group, r.MemberID, r.InstanceID, r.Generation = testGroup, member, instance, gen
	h := x.handle()
	x.take(x.gs.Heartbeat(x.now, h, r))
	return x.replies[h].(*kmsg.HeartbeatResponse).ErrorCode
}

func (x *tester) leave(members ...kmsg.LeaveGroupRequestMember) *kmsg.LeaveGroupResponse {
	x.t.Helper()
	r := kmsg.NewPtrLeaveGroupRequest()
	r.Version = 5
	r.Group = testGroup
	r.Members = members
	h := x.handle()
	x.take(x.gs.Leave(x.now, h, r))
	return x.replies[h].(*kmsg.LeaveGroupResponse)
}

func leaving(member string, instance *string) kmsg.LeaveGroupRequestMember {
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID, m.InstanceID = member, instance
	return m
}

func commitReq(version int16, member string, gen int32, topic string, partition int32, offset int64) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = version
	r.Group, r.MemberID, r.Generation = testGroup, member, gen
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic = topic
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset = partition, offset
	md := "md"
	p.Metadata = &md
	t.Partitions = []kmsg.OffsetCommitRequestTopicPartition{p}
	r.Topics = []kmsg.OffsetCommitRequestTopic{t}
	return r
}

func (x *tester) commit(req *kmsg.OffsetCommitRequest) int16 {
	x.t.Helper()
	h := x.handle()
	x.take(x.gs.Commit(x.now, h, req))
	return x.replies[h].(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
}

// stableGroup makes a Stable group of n dynamic members, each assigned
// "a-<i>", and returns the member ids (the first is the leader).
func (x *tester) stableGroup(n int, topics ...string) []string {
	x.t.Helper()
	var ids []string
	var hs []Handle
	for i := 0; i < n; i++ {
		id, h := x.joinDynamic(topics...)
		ids, hs = append(ids, id), append(hs, h)
	}
	x.settle(hs...)
	gen := x.group().Generation()
	for _, h := range hs {
		if r := x.joinResp(h); r == nil || r.ErrorCode != 0 || r.Generation != gen {
			x.t.Fatalf("join not completed: %#v", x.replies[h])
		}
	}
	assign := map[string][]byte{}
	for i, id := range ids {
		assign[id] = []byte{'a', byte('0' + i)}
	}
	for i := len(ids) - 1; i >= 0; i-- {
		if i == 0 {
			x.sync(ids[0], gen, assign)
		} else {
			x.sync(ids[i], gen, nil)
		}
	}
	if s := x.group().State(); s != Stable {
		x.t.Fatalf("state %v, want Stable", s)
	}
	return ids
}
