package core

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

// createAssigned creates topic with explicit replica assignments.
func createAssigned(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, assign ...[]int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for i, reps := range assign {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(i), reps
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v (%s)", topic, err, deref(resp.Topics[0].ErrorMessage))
	}
}

// partitionIs returns a waitState condition on topic's partition 0.
func partitionIs(topic string, ok func(cluster.Partition) bool) func(*cluster.State) bool {
	return func(st *cluster.State) bool {
		t, found := st.Topic(topic)
		return found && len(t.Partitions) > 0 && ok(t.Partitions[0])
	}
}

// reassign asks for topic's partition 0 to move to target and fails on any
// error.
func reassign(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, target ...int32) {
	t.Helper()
	req := kadm.AlterPartitionAssignmentsReq{}
	req.Assign(topic, 0, target)
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r := resp[topic][0]; r.Err != nil {
		t.Fatalf("reassign %s-0 to %v: %v (%s)", topic, target, r.Err, r.ErrMessage)
	}
}

// TestReassignmentMovesReplicas: a partition on brokers [1 2] moved to
// [2 3] (AlterPartitionReassignments) is reassigned through the adding
// state (ListPartitionReassignments shows it), completes once broker 3 has
// caught up, broker 1 deletes its copy, and every record produced with
// acks=all before the move is read back from the new replicas after it.
func TestReassignmentMovesReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	tc.waitState(t, "all brokers unfenced", allUnfenced(3))
	adm, cl := tc.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createAssigned(ctx, t, cl, "moved", []int32{1, 2})
	tc.waitState(t, "topic created", partitionIs("moved", func(p cluster.Partition) bool { return p.Leader == 1 }))

	const n = 200
	for i := range n {
		r := &kgo.Record{Topic: "moved", Value: []byte("record-" + strconv.Itoa(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}

	reassign(ctx, t, adm, "moved", 2, 3)
	tc.waitState(t, "reassignment complete", partitionIs("moved", func(p cluster.Partition) bool {
		return !p.Reassigning() && slices.Equal(p.Replicas, []int32{2, 3}) && len(p.ISR) == 2
	}))
	p, _ := tc.brokers[0].node.State().Topic("moved")
	if got := p.Partitions[0]; got.Leader != 2 || got.LeaderEpoch != 1 {
		t.Fatalf("after the move: leader %d in epoch %d, want 2 in epoch 1 (the preferred target, a new epoch)", got.Leader, got.LeaderEpoch)
	}
	lr, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"moved": {0: {}}})
	if err != nil || len(lr) != 0 {
		t.Fatalf("reassignments listed after completion: %v, %v", lr, err)
	}
	// Broker 1 closes and deletes its copy.
	deadline := time.Now().Add(10 * time.Second)
	dir := filepath.Join(tc.brokers[0].cfg.DataDir, "moved-0")
	for tc.brokers[0].partition("moved", 0) != nil || exists(t, dir) {
		if time.Now().After(deadline) {
			t.Fatal("broker 1 kept its copy of moved-0")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The records are there, on the new replicas, in order.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(tc.brokers[2].Addr()), kgo.ConsumeTopics("moved"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var got []string
	for len(got) < n {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", len(got), n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for i, v := range got {
		if want := "record-" + strconv.Itoa(i); v != want {
			t.Fatalf("record %d is %q, want %q", i, v, want)
		}
	}
}

// TestReassignmentInProgressAndCancel: a reassignment to a broker that
// cannot catch up (fenced by its own request) stays listed with its adding
// and removing replicas, and cancelling it restores the original replicas.
func TestReassignmentListAndCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	tc.waitState(t, "all brokers unfenced", allUnfenced(3))
	adm, cl := tc.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createAssigned(ctx, t, cl, "held", []int32{1})
	tc.waitState(t, "topic created", partitionIs("held", func(p cluster.Partition) bool { return p.Leader == 1 }))
	// Broker 3 stops: the reassignment to it cannot complete.
	tc.stop[2]()
	if err := <-tc.done[2]; err != nil {
		t.Fatal(err)
	}
	tc.done[2] <- nil // for the cleanup
	reassign(ctx, t, adm, "held", 3)
	lr, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"held": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	r := lr["held"][0]
	if !slices.Equal(r.Replicas, []int32{3, 1}) || !slices.Equal(r.AddingReplicas, []int32{3}) || !slices.Equal(r.RemovingReplicas, []int32{1}) {
		t.Fatalf("listed %+v, want replicas [3 1], adding [3], removing [1]", r)
	}
	// null Topics lists every reassignment.
	all, err := kmsg.NewPtrListPartitionReassignmentsRequest().RequestWith(ctx, cl)
	if err != nil || len(all.Topics) != 1 || all.Topics[0].Topic != "held" {
		t.Fatalf("listing all: %+v, %v", all, err)
	}
	req := kadm.AlterPartitionAssignmentsReq{}
	req.Assign("held", 0, nil)
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil || resp["held"][0].Err != nil {
		t.Fatalf("cancel: %v, %+v", err, resp)
	}
	tc.waitState(t, "cancelled", partitionIs("held", func(p cluster.Partition) bool {
		return !p.Reassigning() && slices.Equal(p.Replicas, []int32{1})
	}))
	// A second cancel has nothing to cancel.
	resp, err = adm.AlterPartitionAssignments(ctx, req)
	if err != nil || !errors.Is(resp["held"][0].Err, kerr.NoReassignmentInProgress) {
		t.Fatalf("second cancel: %v, %+v", err, resp)
	}
}

// TestElectLeadersPreferred: after the replicas of a partition led by 1
// are reordered to prefer 2 (a reorder moves no leadership), ElectLeaders
// PREFERRED moves leadership to 2 in a new epoch; asking again is
// ELECTION_NOT_NEEDED; with auto.leader.rebalance.enable the controller
// does the same by itself.
func TestElectLeadersPreferred(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	tc.waitState(t, "all brokers unfenced", allUnfenced(3))
	adm, cl := tc.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	setClusterConfig(ctx, t, adm, "auto.leader.rebalance.enable", "false")
	createAssigned(ctx, t, cl, "elect", []int32{1, 2, 3})
	tc.waitState(t, "topic created", partitionIs("elect", func(p cluster.Partition) bool { return p.Leader == 1 }))

	reassign(ctx, t, adm, "elect", 2, 1, 3)
	tc.waitState(t, "reordered", partitionIs("elect", func(p cluster.Partition) bool { return slices.Equal(p.Replicas, []int32{2, 1, 3}) }))
	if p := tc.brokers[0].node.State().Topics["elect"].Partitions[0]; p.Leader != 1 || p.Reassigning() {
		t.Fatalf("after the reorder: %+v, want it still led by 1, with no reassignment in progress", p)
	}
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"elect": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := res["elect"][0]; r.Err != nil {
		t.Fatalf("elect: %v (%s)", r.Err, r.ErrMessage)
	}
	tc.waitState(t, "2 leads", partitionIs("elect", func(p cluster.Partition) bool { return p.Leader == 2 && p.LeaderEpoch == 1 }))
	res, err = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"elect": {0: {}}})
	if err != nil || !errors.Is(res["elect"][0].Err, kerr.ElectionNotNeeded) {
		t.Fatalf("second election: %v, %+v", err, res)
	}
	// Electing every partition leaves out those that need nothing.
	all := kmsg.NewPtrElectLeadersRequest()
	all.Topics = nil
	allResp, err := all.RequestWith(ctx, cl)
	if err != nil || len(allResp.Topics) != 0 {
		t.Fatalf("electing all: %+v, %v", allResp, err)
	}
	// Unclean: nothing to do for a led partition.
	res, err = adm.ElectLeaders(ctx, kadm.ElectLiveReplica, kadm.TopicsSet{"elect": {0: {}}})
	if err != nil || !errors.Is(res["elect"][0].Err, kerr.ElectionNotNeeded) {
		t.Fatalf("unclean election of a led partition: %v, %+v", err, res)
	}

	// Automatic: prefer 3, and let the controller check every second.
	reassign(ctx, t, adm, "elect", 3, 2, 1)
	setClusterConfig(ctx, t, adm, "leader.imbalance.check.interval.seconds", "1")
	setClusterConfig(ctx, t, adm, "auto.leader.rebalance.enable", "true")
	tc.waitState(t, "3 leads by itself", partitionIs("elect", func(p cluster.Partition) bool { return p.Leader == 3 }))
}

// setClusterConfig sets a cluster-wide dynamic broker config.
func setClusterConfig(ctx context.Context, t *testing.T, adm *kadm.Client, name, value string) {
	t.Helper()
	resp, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: name, Value: &value}})
	if err == nil {
		for _, r := range resp {
			if r.Err != nil {
				err = fmt.Errorf("%v (%s)", r.Err, r.ErrMessage)
			}
		}
	}
	if err != nil {
		t.Fatalf("set %s=%s: %v", name, value, err)
	}
}

// TestInternalTopicRaised: __consumer_offsets created at replication
// factor 1 (as on a cluster of one) is raised by the controller to
// offsets.topic.replication.factor's default, min(3, live brokers) = 3,
// and offsets committed before are still there.
func TestInternalTopicRaised(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	tc.waitState(t, "all brokers unfenced", allUnfenced(3))
	adm, _ := tc.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := tc.brokers[0]
	err := b.createTopic(ctx, topicSpec{name: offsetsTopic, partitions: 3, replication: 1, internal: true,
		configs: map[string]string{"cleanup.policy": "compact"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "some-topic"); err != nil {
		t.Fatal(err)
	}
	tc.waitState(t, "some-topic created", func(st *cluster.State) bool { _, ok := st.Topic("some-topic"); return ok })
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "some-topic", Partition: 0, At: 42, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(ctx, "g", offsets); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v, %v", err, resp.Error())
	}
	tc.waitState(t, "__consumer_offsets at RF 3, all in sync", func(st *cluster.State) bool {
		top, ok := st.Topic(offsetsTopic)
		if !ok {
			return false
		}
		for _, p := range top.Partitions {
			if p.Reassigning() || len(p.Replicas) != 3 || len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})
	got, err := adm.FetchOffsets(ctx, "g")
	if err == nil {
		err = got.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := got.Lookup("some-topic", 0); !ok || o.At != 42 {
		t.Fatalf("committed offset after the raise: %+v, %v", o, ok)
	}
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	ok, err := afero.Exists(afero.NewOsFs(), path)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
