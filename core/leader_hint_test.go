package core

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

// createReplicatedTopic creates topic with one partition on every broker of
// tc (RF = len(tc.brokers)) and waits until every broker's metadata shows
// it led with a full ISR and every replica is open locally. It returns the
// partition as the metadata has it.
func createReplicatedTopic(t *testing.T, tc *testCluster, topic string) cluster.Partition {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := tc.brokers[0]
	// Placement counts the unfenced brokers in the answering broker's
	// metadata, which may not have applied the others' unfencing yet.
	waitFor(t, 20*time.Second, "every broker unfenced", func() bool {
		st := b.node.State()
		for _, br := range st.Brokers {
			if br.Fenced {
				return false
			}
		}
		return len(st.Brokers) == len(tc.brokers)
	})
	c, err := b.dialPeer(ctx, b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, int16(len(tc.brokers))
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	req.SetVersion(5)
	resp, err := c.do(ctx, time.Now(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.(*kmsg.CreateTopicsResponse).Topics[0]; got.ErrorCode != 0 {
		t.Fatalf("create %s: %v %s", topic, kerr.ErrorForCode(got.ErrorCode), deref(got.ErrorMessage))
	}
	var p cluster.Partition
	waitFor(t, 20*time.Second, "a led, fully replicated "+topic, func() bool {
		for _, b := range tc.brokers {
			top, ok := b.node.State().Topic(topic)
			if !ok || top.Partitions[0].Leader < 0 || len(top.Partitions[0].ISR) != len(tc.brokers) || b.partition(topic, 0) == nil {
				return false
			}
			p = top.Partitions[0]
		}
		return true
	})
	return p
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tc *testCluster) byID(id int32) *Broker {
	for _, b := range tc.brokers {
		if b.cfg.NodeID == id {
			return b
		}
	}
	return nil
}

// wantEndpoint checks that a KIP-951 NodeEndpoints list names exactly the
// leader, at its advertised address.
func wantEndpoint(t *testing.T, what string, ids []int32, addrs []string, leader *Broker) {
	t.Helper()
	if len(ids) != 1 || ids[0] != leader.cfg.NodeID || addrs[0] != leader.Addr() {
		t.Fatalf("%s: NodeEndpoints %v at %v, want only leader %d at %s", what, ids, addrs, leader.cfg.NodeID, leader.Addr())
	}
}

// TestKIP951ProduceNotLeaderNamesLeader: a Produce sent to a follower
// answers NOT_LEADER_OR_FOLLOWER; from v10 the partition carries the
// leader's ID and epoch and the response the leader's endpoint, before v10
// neither (the tagged fields must not appear on v9).
func TestKIP951ProduceNotLeaderNamesLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	p := createReplicatedTopic(t, tc, "hints")
	leader, follower := tc.byID(p.Leader), tc.byID(p.ISR[0])
	if follower == leader {
		follower = tc.byID(p.ISR[1])
	}
	top, _ := follower.node.State().Topic("hints")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := follower.dialPeer(ctx, follower.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for _, v := range []int16{9, 10, 13} {
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(v)
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = "hints", top.ID
		rp := kmsg.NewProduceRequestTopicPartition()
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := c.do(ctx, time.Now(), req)
		if err != nil {
			t.Fatal(err)
		}
		pr := resp.(*kmsg.ProduceResponse)
		got := pr.Topics[0].Partitions[0]
		if got.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Fatalf("v%d: error %v, want NOT_LEADER_OR_FOLLOWER", v, kerr.ErrorForCode(got.ErrorCode))
		}
		if v < 10 {
			if got.CurrentLeader.LeaderID != -1 || len(pr.Brokers) != 0 {
				t.Fatalf("v%d: CurrentLeader %+v, %d endpoints; want none before v10", v, got.CurrentLeader, len(pr.Brokers))
			}
			continue
		}
		if got.CurrentLeader.LeaderID != p.Leader || got.CurrentLeader.LeaderEpoch != p.LeaderEpoch {
			t.Fatalf("v%d: CurrentLeader %+v, want leader %d epoch %d", v, got.CurrentLeader, p.Leader, p.LeaderEpoch)
		}
		ids, addrs := []int32{}, []string{}
		for _, b := range pr.Brokers {
			ids, addrs = append(ids, b.NodeID), append(addrs, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
		}
		wantEndpoint(t, fmt.Sprintf("produce v%d", v), ids, addrs, leader)
	}
}

// TestKIP951FetchNotLeaderNamesLeader: a consumer's Fetch sent to a
// broker with no replica of the partition is answered at once (not after
// MaxWaitMillis) with NOT_LEADER_OR_FOLLOWER, and from v16 with the leader
// and its endpoint (a follower would serve it: KIP-392); after the
// leadership moves, a fetch stamped with the old epoch gets
// FENCED_LEADER_EPOCH naming the new leader.
func TestKIP951FetchNotLeaderNamesLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := tc.brokers[0].commit(ctx, cluster.CreateTopic{Name: "hints", ID: [16]byte{5}, Assignments: [][]int32{{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	outsider := tc.byID(3)
	var p cluster.Partition
	waitFor(t, 20*time.Second, "every broker knows hints-0", func() bool {
		for _, b := range tc.brokers {
			if top, ok := b.node.State().Topic("hints"); !ok || top.Partitions[0].Leader != 1 {
				return false
			}
		}
		top, _ := outsider.node.State().Topic("hints")
		p = top.Partitions[0]
		return true
	})
	leader, follower := tc.byID(1), tc.byID(2)
	top, _ := follower.node.State().Topic("hints")
	for _, v := range []int16{15, 16, 18} {
		got, pr, took := rawFetch(t, outsider, v, top.ID, -1)
		if got.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Fatalf("v%d: error %v, want NOT_LEADER_OR_FOLLOWER", v, kerr.ErrorForCode(got.ErrorCode))
		}
		if took > 2*time.Second {
			t.Fatalf("v%d: answered after %v; an error must not wait out MaxWaitMillis", v, took)
		}
		if v < 16 {
			if len(pr.Brokers) != 0 {
				t.Fatalf("v%d: %d endpoints; want none before v16", v, len(pr.Brokers))
			}
			continue
		}
		if got.CurrentLeader.LeaderID != p.Leader || got.CurrentLeader.LeaderEpoch != p.LeaderEpoch {
			t.Fatalf("v%d: CurrentLeader %+v, want leader %d epoch %d", v, got.CurrentLeader, p.Leader, p.LeaderEpoch)
		}
		wantEndpoint(t, fmt.Sprintf("fetch v%d", v), fetchEndpointIDs(pr), fetchEndpointAddrs(pr), leader)
	}

	// Move the leadership to the follower, as the controller would.
	moved := moveLeader(t, tc, "hints", follower.cfg.NodeID)
	got, pr, _ := rawFetch(t, follower, 16, top.ID, p.LeaderEpoch)
	if got.ErrorCode != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("fetch in epoch %d from the new leader: %v, want FENCED_LEADER_EPOCH", p.LeaderEpoch, kerr.ErrorForCode(got.ErrorCode))
	}
	if got.CurrentLeader.LeaderID != follower.cfg.NodeID || got.CurrentLeader.LeaderEpoch != moved.LeaderEpoch {
		t.Fatalf("FENCED_LEADER_EPOCH: CurrentLeader %+v, want leader %d epoch %d", got.CurrentLeader, follower.cfg.NodeID, moved.LeaderEpoch)
	}
	wantEndpoint(t, "fenced fetch", fetchEndpointIDs(pr), fetchEndpointAddrs(pr), follower)
}

// rawFetch sends one consumer Fetch (MinBytes 1, MaxWaitMillis 5s) for
// partition 0 of topic id to b and returns the partition, the response and
// how long the answer took.
func rawFetch(t *testing.T, b *Broker, v int16, id [16]byte, epoch int32) (kmsg.FetchResponseTopicPartition, *kmsg.FetchResponse, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := b.dialPeer(ctx, b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(v)
	req.ReplicaID, req.ReplicaState.ID = -1, -1
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = 5000, 1, 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = "hints", id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.CurrentLeaderEpoch, rp.PartitionMaxBytes = epoch, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	start := time.Now()
	resp, err := c.do(ctx, start, req)
	if err != nil {
		t.Fatal(err)
	}
	fr := resp.(*kmsg.FetchResponse)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch v%d: %d topics in the answer", v, len(fr.Topics))
	}
	return fr.Topics[0].Partitions[0], fr, time.Since(start)
}

func fetchEndpointIDs(r *kmsg.FetchResponse) []int32 {
	var ids []int32
	for _, b := range r.Brokers {
		ids = append(ids, b.NodeID)
	}
	return ids
}

func fetchEndpointAddrs(r *kmsg.FetchResponse) []string {
	var addrs []string
	for _, b := range r.Brokers {
		addrs = append(addrs, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
	}
	return addrs
}

// moveLeader commits a leader change of topic's partition 0 to id (an ISR
// member) in a new leader epoch, as the controller does on an election, and
// waits until every broker has applied it and id leads locally.
func moveLeader(t *testing.T, tc *testCluster, topic string, id int32) cluster.Partition {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := tc.brokers[0]
	top, _ := b.node.State().Topic(topic)
	p := top.Partitions[0]
	cmd := cluster.UpdatePartition{Topic: topic, Partition: 0, Leader: id, LeaderEpoch: p.LeaderEpoch + 1,
		ISR: p.ISR, ExpectedPartitionEpoch: p.PartitionEpoch}
	if err := b.commit(ctx, cmd); err != nil {
		t.Fatalf("move leader of %s-0 to %d: %v", topic, id, err)
	}
	var moved cluster.Partition
	waitFor(t, 20*time.Second, fmt.Sprintf("broker %d to lead %s-0", id, topic), func() bool {
		for _, b := range tc.brokers {
			top, _ := b.node.State().Topic(topic)
			if top.Partitions[0].LeaderEpoch < cmd.LeaderEpoch {
				return false
			}
			moved = top.Partitions[0]
		}
		lp := tc.byID(id).partition(topic, 0)
		return lp != nil && lp.isLeader()
	})
	return moved
}

// kip951Log records whether franz-go took a KIP-951 move.
type kip951Log struct {
	mu    sync.Mutex // guards moved
	moved int
}

func (l *kip951Log) Level() kgo.LogLevel { return kgo.LogLevelInfo }

func (l *kip951Log) Log(_ kgo.LogLevel, msg string, _ ...any) {
	if strings.Contains(msg, "kip-951") {
		l.mu.Lock()
		l.moved++
		l.mu.Unlock()
	}
}

func (l *kip951Log) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.moved
}

// TestKIP951KgoProducesAcrossLeaderChange: a franz-go producer (acks=all,
// idempotent) keeps producing while the partition's leadership moves; it
// follows the moves through the KIP-951 hints in the old leader's answers,
// every send succeeds, and a consumer reads every record once, in order.
func TestKIP951KgoProducesAcrossLeaderChange(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	p := createReplicatedTopic(t, tc, "hints")
	var seeds []string
	for _, b := range tc.brokers {
		seeds = append(seeds, b.Addr())
	}
	logs := &kip951Log{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("hints"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.WithLogger(logs),
		// Metadata refreshes only when something fails: leader moves are
		// learned from the produce answers.
		kgo.MetadataMinAge(time.Minute), kgo.MetadataMaxAge(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const perRound, rounds = 20, 3
	sent := 0
	leader := p.Leader
	for round := 0; round < rounds; round++ {
		for i := 0; i < perRound; i++ {
			r := &kgo.Record{Value: []byte(strconv.Itoa(sent))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("record %d (round %d): %v", sent, round, err)
			}
			sent++
		}
		// Hand the leadership to the next ISR member.
		next := p.ISR[(indexOf(p.ISR, leader)+1)%len(p.ISR)]
		moveLeader(t, tc, "hints", next)
		leader = next
	}
	for i := 0; i < perRound; i++ { // and once more after the last move
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(sent))}).FirstErr(); err != nil {
			t.Fatalf("record %d after the last move: %v", sent, err)
		}
		sent++
	}
	if logs.count() == 0 {
		t.Fatal("franz-go never moved a partition on a KIP-951 hint")
	}
	readAllInOrder(t, seeds, sent)
}

func indexOf(ids []int32, id int32) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}

// readAllInOrder consumes topic hints from the start and checks that it
// holds the values 0..n-1, each once, in order.
func readAllInOrder(t *testing.T, seeds []string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("hints"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	next := 0
	for next < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", next, n, err)
		}
		for _, r := range fs.Records() {
			if string(r.Value) != strconv.Itoa(next) {
				t.Fatalf("record at offset %d is %q, want %d", r.Offset, r.Value, next)
			}
			next++
		}
	}
}
