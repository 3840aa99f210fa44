package core

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jocko/jocko/cluster"
)

// adminOf connects a kadm client to every broker of tc.
func (tc *testCluster) admin(t *testing.T) (*kadm.Client, *kgo.Client) {
	t.Helper()
	var seeds []string
	for _, b := range tc.brokers {
		seeds = append(seeds, b.Addr())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl), cl
}

// waitState polls every broker's metadata until ok holds on all of them.
func (tc *testCluster) waitState(t *testing.T, what string, ok func(*cluster.State) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, b := range tc.brokers {
		for !ok(b.node.State()) {
			if time.Now().After(deadline) {
				t.Fatalf("broker %d: %s: not reached in 30s", b.cfg.NodeID, what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// allUnfenced reports whether n brokers are registered and unfenced.
func allUnfenced(n int) func(*cluster.State) bool {
	return func(st *cluster.State) bool { return liveBrokers(st) == n }
}

// TestPlacementRF3: a topic created without a replication factor (-1,
// KIP-464) on three brokers gets min(3, live brokers) = 3 replicas on
// distinct brokers, with preferred leaders spread evenly; asking for 4 is
// INVALID_REPLICATION_FACTOR with a message that says why.
func TestPlacementRF3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	tc.waitState(t, "all brokers unfenced", allUnfenced(3))
	adm, _ := tc.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, 6, -1, nil, "placed")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create: %v (%s)", err, resp.ErrMessage)
	}
	if resp.ReplicationFactor != 3 {
		t.Fatalf("replication factor %d, want 3", resp.ReplicationFactor)
	}
	tc.waitState(t, "topic created", func(st *cluster.State) bool { _, ok := st.Topic("placed"); return ok })
	top, _ := tc.brokers[0].node.State().Topic("placed")
	leaders := map[int32]int{}
	for _, p := range top.Partitions {
		if len(p.Replicas) != 3 || p.Replicas[0] == p.Replicas[1] || p.Replicas[1] == p.Replicas[2] || p.Replicas[0] == p.Replicas[2] {
			t.Fatalf("partition %d: replicas %v, want 3 distinct brokers", p.Index, p.Replicas)
		}
		leaders[p.Replicas[0]]++
	}
	for id := int32(1); id <= 3; id++ {
		if leaders[id] != 2 {
			t.Fatalf("preferred leaders per broker %v, want 2 each", leaders)
		}
	}

	resp, err = adm.CreateTopic(ctx, 1, 4, nil, "too-wide")
	if err == nil {
		err = resp.Err
	}
	if !errors.Is(err, kerr.InvalidReplicationFactor) || !strings.Contains(resp.ErrMessage, "only 3 broker(s) are registered") {
		t.Fatalf("RF 4 on 3 brokers: %v (%q), want INVALID_REPLICATION_FACTOR saying 3 brokers are registered", err, resp.ErrMessage)
	}

	// CreatePartitions places the new partitions the same way.
	if _, err := adm.UpdatePartitions(ctx, 9, "placed"); err != nil {
		t.Fatal(err)
	}
	tc.waitState(t, "9 partitions", func(st *cluster.State) bool {
		tp, ok := st.Topic("placed")
		return ok && len(tp.Partitions) == 9
	})
	top, _ = tc.brokers[0].node.State().Topic("placed")
	clear(leaders)
	for _, p := range top.Partitions {
		if len(p.Replicas) != 3 {
			t.Fatalf("partition %d: replicas %v, want 3", p.Index, p.Replicas)
		}
		leaders[p.Replicas[0]]++
	}
	for id := int32(1); id <= 3; id++ {
		if leaders[id] != 3 {
			t.Fatalf("after CreatePartitions, preferred leaders per broker %v, want 3 each", leaders)
		}
	}
}
