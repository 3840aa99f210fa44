package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// createAssignedTopic creates topic with an explicit replica list per
// partition (the CLI cannot).
func createAssignedTopic(ctx context.Context, t *testing.T, cc *coreCluster, topic string, assign [][]int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cc.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
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
		t.Fatalf("create %s: %v", topic, err)
	}
}

// replicasOf reads topic's replica lists from Metadata once every
// partition is there.
func replicasOf(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, partitions int) [][]int32 {
	t.Helper()
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil && len(md.Topics[topic].Partitions) == partitions {
			out := make([][]int32, partitions)
			for _, p := range md.Topics[topic].Partitions {
				out[p.Partition] = p.Replicas
			}
			return out
		}
		if ctx.Err() != nil {
			t.Fatalf("metadata of %s: %v", topic, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitEveryBroker waits until every broker of cc answers Metadata with
// each topic's partitions: a topic is created once the controller commits
// it, and a broker applies the metadata log a moment later, so a CLI
// command sent to one broker right after a create may not see it yet.
func waitEveryBroker(ctx context.Context, t *testing.T, cc *coreCluster, partitions map[string]int) {
	t.Helper()
	for i, addr := range cc.addrs {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		for {
			req := kmsg.NewPtrMetadataRequest()
			for topic := range partitions {
				rt := kmsg.NewMetadataRequestTopic()
				rt.Topic = kmsg.StringPtr(topic)
				req.Topics = append(req.Topics, rt)
			}
			// Broker(i+1), not the client's choice: each broker's own view.
			resp, err := req.RequestWith(ctx, cl.Broker(i+1))
			seen := 0
			if err == nil {
				for _, rt := range resp.Topics {
					if rt.ErrorCode == 0 && rt.Topic != nil && len(rt.Partitions) == partitions[*rt.Topic] {
						seen++
					}
				}
			}
			if seen == len(partitions) {
				break
			}
			if ctx.Err() != nil {
				cl.Close()
				t.Fatalf("broker %d does not show %v: %v", i+1, partitions, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		cl.Close()
	}
}

// TestCLITopicReassign moves a partition with `jocko topic reassign`: the
// command follows the move to its end, the metadata then shows the new
// replicas, and the topic has no reassignment left to show.
func TestCLITopicReassign(t *testing.T) {
	cc := startCoreCluster(t, 3)
	br := "--brokers=" + cc.addrs[0]
	createTopic(t, "mv", "2", br)
	adm := cc.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cur := replicasOf(ctx, t, adm, "mv", 3)[0]
	var spare int32
	for id := int32(1); id <= 3; id++ {
		if !slices.Contains(cur, id) {
			spare = id
		}
	}
	target := brokerList{spare, cur[0]} // cur[1] leaves
	code, out, errOut := runCLI("topic", "reassign", "mv", "--partition", "0", "--replicas", target.String(), br)
	if code != 0 {
		t.Fatalf("reassign: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "reassigning mv-0 to") || !strings.Contains(out, "mv-0: complete: replicas ") {
		t.Fatalf("output does not follow the move to its end:\n%s", out)
	}
	for {
		if got := replicasOf(ctx, t, adm, "mv", 3)[0]; slices.Equal(got, []int32(target)) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("metadata never showed replicas %v", target)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errOut = runCLI("topic", "reassign", "mv", br)
	if code != 0 || !strings.Contains(out, "no reassignment of mv is in progress") {
		t.Fatalf("show: exit %d: %s%s", code, out, errOut)
	}
	code, _, errOut = runCLI("topic", "reassign", "mv", "--cancel", br)
	if code != 1 || !strings.Contains(errOut, "NO_REASSIGNMENT_IN_PROGRESS") {
		t.Fatalf("cancel with nothing in progress: exit %d: %s", code, errOut)
	}
	code, _, errOut = runCLI("topic", "reassign", "mv", "--replicas", "9", br)
	if code != 1 || !strings.Contains(errOut, "INVALID_REPLICA_ASSIGNMENT") || !strings.Contains(errOut, "no such broker") {
		t.Fatalf("unknown broker: exit %d: %s", code, errOut)
	}
	if code, _, _ := runCLI("topic", "reassign", "mv", "--cancel", "--replicas", "1", br); code != 2 {
		t.Fatalf("--cancel with --replicas: exit %d, want 2", code)
	}
}

// TestCLIClusterRebalance: six RF=2 partitions made on brokers 1 and 2
// only, and three RF=3 partitions all preferring broker 1, are spread by
// `jocko cluster rebalance --execute` to seven replicas and three
// preferred (and actual: reorders move no leadership, the preferred
// election does) leaderships per broker; the dry run before changes
// nothing, and a second run finds nothing to move.
func TestCLIClusterRebalance(t *testing.T) {
	cc := startCoreCluster(t, 3)
	br := "--brokers=" + cc.addrs[0]
	adm := cc.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var assign [][]int32
	for i := range 6 {
		if i%2 == 0 {
			assign = append(assign, []int32{1, 2})
		} else {
			assign = append(assign, []int32{2, 1})
		}
	}
	createAssignedTopic(ctx, t, cc, "skew", assign)
	// Replicas even, preferred leaders all on 1: only reorders and
	// preferred elections fix this one.
	createAssignedTopic(ctx, t, cc, "lead", [][]int32{{1, 2, 3}, {1, 3, 2}, {1, 2, 3}})
	before := replicasOf(ctx, t, adm, "skew", 6)
	// The CLI asks broker 1; CI once saw it plan before it knew "lead".
	waitEveryBroker(ctx, t, cc, map[string]int{"skew": 6, "lead": 3})

	code, out, errOut := runCLI("cluster", "rebalance", br)
	if code != 0 || !strings.Contains(out, "run again with --execute") {
		t.Fatalf("dry run: exit %d:\n%s%s", code, out, errOut)
	}
	if got := replicasOf(ctx, t, adm, "skew", 6); !slices.EqualFunc(got, before, slices.Equal) {
		t.Fatalf("the dry run changed the replicas: %v", got)
	}

	code, out, errOut = runCLI("cluster", "rebalance", "--execute", "--timeout", "60s", br)
	if code != 0 || !strings.Contains(out, "preferred leader") {
		t.Fatalf("execute: exit %d:\n%s%s", code, out, errOut)
	}
	t.Logf("rebalance:\n%s", out)
	for {
		md, err := adm.Metadata(ctx, "skew", "lead")
		if err != nil {
			t.Fatal(err)
		}
		replicas, preferred, leading := map[int32]int{}, map[int32]int{}, map[int32]int{}
		for _, topic := range []string{"skew", "lead"} {
			for _, p := range md.Topics[topic].Partitions {
				for _, id := range p.Replicas {
					replicas[id]++
				}
				preferred[p.Replicas[0]]++
				leading[p.Leader]++
			}
		}
		even := true
		for id := int32(1); id <= 3; id++ {
			even = even && replicas[id] == 7 && preferred[id] == 3 && leading[id] == 3
		}
		if even {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after rebalance: replicas %v, preferred %v, leading %v; want 7, 3 and 3 per broker", replicas, preferred, leading)
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, out, errOut = runCLI("cluster", "rebalance", br)
	if code != 0 || !strings.Contains(out, "nothing to move") {
		t.Fatalf("second run: exit %d:\n%s%s", code, out, errOut)
	}
}
