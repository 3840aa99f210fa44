package main

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawMember speaks the group protocol by hand through a kgo client (which
// routes group requests to the coordinator), so a test can stop
// heartbeating, send stale generations and check exact error codes.
type rawMember struct {
	t      *testing.T
	cl     *kgo.Client
	group  string
	id     string
	gen    int32
	leader string
}

func newRawMember(t *testing.T, b *proc, groupID string) *rawMember {
	return &rawMember{t: t, cl: b.client(t), group: groupID}
}

func consumerMetadata(topic string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = []string{topic}
	return m.AppendTo(nil)
}

// join sends JoinGroup v9 (retrying once for MEMBER_ID_REQUIRED, KIP-394)
// and returns the error code.
func (m *rawMember) join(ctx context.Context, sessionMs int32, topic string) int16 {
	m.t.Helper()
	for i := 0; i < 2; i++ {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Version = 9
		req.Group, req.MemberID, req.ProtocolType = m.group, m.id, "consumer"
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = sessionMs, 5000
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", consumerMetadata(topic)
		req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
		resp, err := req.RequestWith(ctx, m.cl)
		if err != nil {
			m.t.Fatal(err)
		}
		m.id = resp.MemberID
		if resp.ErrorCode == kerr.MemberIDRequired.Code {
			continue
		}
		m.gen, m.leader = resp.Generation, resp.LeaderID
		return resp.ErrorCode
	}
	m.t.Fatal("MEMBER_ID_REQUIRED twice")
	return 0
}

func (m *rawMember) sync(ctx context.Context, assign map[string][]byte) int16 {
	m.t.Helper()
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group, req.MemberID, req.Generation = m.group, m.id, m.gen
	req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, a
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	resp, err := req.RequestWith(ctx, m.cl)
	if err != nil {
		m.t.Fatal(err)
	}
	return resp.ErrorCode
}

func (m *rawMember) heartbeat(ctx context.Context, gen int32, id string) int16 {
	m.t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation = m.group, id, gen
	resp, err := req.RequestWith(ctx, m.cl)
	if err != nil {
		m.t.Fatal(err)
	}
	return resp.ErrorCode
}

func (m *rawMember) commit(ctx context.Context, gen int32, topic string, offset int64) int16 {
	m.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 8
	req.Group, req.MemberID, req.Generation = m.group, m.id, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic // kgo sends the newest version both sides know: v10 names topics by ID
	topics, err := kadm.NewClient(m.cl).ListTopics(ctx, topic)
	if err != nil {
		m.t.Fatal(err)
	}
	rt.TopicID = topics[topic].ID
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, offset
	rt.Partitions = []kmsg.OffsetCommitRequestTopicPartition{rp}
	req.Topics = []kmsg.OffsetCommitRequestTopic{rt}
	resp, err := req.RequestWith(ctx, m.cl)
	if err != nil {
		m.t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func describeGroup(t *testing.T, b *proc, ctx context.Context, id string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{id}
	resp, err := req.RequestWith(ctx, b.client(t))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Groups[0]
}

// TestE2EGroupErrorCodes checks the codes clients depend on:
// INVALID_SESSION_TIMEOUT, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION and
// REBALANCE_IN_PROGRESS; and that a member that stops heartbeating is
// expelled after its session timeout.
func TestE2EGroupErrorCodes(t *testing.T) {
	b := startBroker(t, "", "--group.initial.rebalance.delay.ms=0", "--group.min.session.timeout.ms=1000")
	ctx := testCtx(t)
	if _, err := b.admin(t).CreateTopic(ctx, 1, 1, nil, "ec"); err != nil {
		t.Fatal(err)
	}
	bad := newRawMember(t, b, "codes")
	if code := bad.join(ctx, 10, "ec"); code != kerr.InvalidSessionTimeout.Code {
		t.Fatalf("join with a 10 ms session timeout: error %d, want INVALID_SESSION_TIMEOUT (26)", code)
	}

	a := newRawMember(t, b, "codes")
	if code := a.join(ctx, 1000, "ec"); code != 0 || a.leader != a.id {
		t.Fatalf("first join: error %d, leader %q (me %q)", code, a.leader, a.id)
	}
	if code := a.sync(ctx, map[string][]byte{a.id: nil}); code != 0 {
		t.Fatalf("sync: error %d", code)
	}
	if code := a.heartbeat(ctx, a.gen, "nobody"); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat from an unknown member: %d, want UNKNOWN_MEMBER_ID (25)", code)
	}
	if code := a.heartbeat(ctx, a.gen+7, a.id); code != kerr.IllegalGeneration.Code {
		t.Fatalf("heartbeat with a wrong generation: %d, want ILLEGAL_GENERATION (22)", code)
	}
	if code := a.commit(ctx, a.gen-1, "ec", 5); code != kerr.IllegalGeneration.Code {
		t.Fatalf("commit with a stale generation: %d, want ILLEGAL_GENERATION (22)", code)
	}
	if code := a.commit(ctx, a.gen, "ec", 5); code != 0 {
		t.Fatalf("commit with the current generation: %d", code)
	}

	// A second member joining starts a rebalance: the first member's
	// heartbeat says REBALANCE_IN_PROGRESS (rejoin), while its commit with
	// the current generation is still accepted, as Kafka accepts commits
	// from the revoke callback during PreparingRebalance.
	second := newRawMember(t, b, "codes")
	joined := make(chan int16, 1)
	go func() { joined <- second.join(ctx, 1000, "ec") }()
	waitUntil(t, ctx, func() bool { return describeGroup(t, b, ctx, "codes").State == "PreparingRebalance" })
	if code := a.heartbeat(ctx, a.gen, a.id); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat during a rebalance: %d, want REBALANCE_IN_PROGRESS (27)", code)
	}
	if code := a.commit(ctx, a.gen, "ec", 6); code != 0 {
		t.Fatalf("commit while preparing a rebalance: %d, want 0", code)
	}
	if code := a.join(ctx, 1000, "ec"); code != 0 {
		t.Fatalf("rejoin: error %d", code)
	}
	if code := <-joined; code != 0 || second.gen != a.gen {
		t.Fatalf("second member's join: error %d, generation %d (first member's %d)", code, second.gen, a.gen)
	}
	// The join phase is over but the leader has not synced: a commit with
	// the new generation is REBALANCE_IN_PROGRESS (CompletingRebalance).
	if code := a.commit(ctx, a.gen, "ec", 7); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("commit before the leader's sync: %d, want REBALANCE_IN_PROGRESS (27)", code)
	}
	leader, follower := a, second
	if second.leader == second.id {
		leader, follower = second, a
	}
	synced := make(chan int16, 1)
	go func() { synced <- follower.sync(ctx, nil) }()
	if code := leader.sync(ctx, map[string][]byte{a.id: nil, second.id: nil}); code != 0 {
		t.Fatalf("leader sync: %d", code)
	}
	if code := <-synced; code != 0 {
		t.Fatalf("follower sync: %d", code)
	}
	if g := describeGroup(t, b, ctx, "codes"); g.State != "Stable" || len(g.Members) != 2 {
		t.Fatalf("after sync: %s with %d members", g.State, len(g.Members))
	}
	// Neither member heartbeats: both are expelled after the session
	// timeout and the group becomes Empty.
	waitUntil(t, ctx, func() bool {
		g := describeGroup(t, b, ctx, "codes")
		return g.State == "Empty" && len(g.Members) == 0
	})
}
