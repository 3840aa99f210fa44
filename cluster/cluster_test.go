package cluster

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"
)

// TestThreeVotersSurviveLeaderLoss grows a bootstrapped node into a
// three-voter group over loopback TCP, replicates metadata, stops the
// leader, and checks that a new leader is elected with all the metadata
// and keeps accepting proposals. This is the path multi-broker clusters
// take.
func TestThreeVotersSurviveLeaderLoss(t *testing.T) {
	cfg1 := testConfig(1, t.TempDir())
	cfg1.Bootstrap = true
	nodes := map[int32]*running{1: start(t, cfg1)}
	waitReady(t, nodes[1])
	for _, id := range []int32{2, 3} {
		nodes[id] = start(t, testConfig(id, t.TempDir()))
		if err := nodes[1].AddVoter(context.Background(), id, nodes[id].RaftAddr()); err != nil {
			t.Fatalf("AddVoter(%d): %v", id, err)
		}
	}
	for _, id := range []int32{2, 3} {
		waitReady(t, nodes[id])
		if leader, ok := nodes[id].LeaderID(); !ok || leader != 1 {
			t.Fatalf("node %d sees leader %d (%v), expected 1", id, leader, ok)
		}
	}
	voters, err := nodes[1].Voters()
	if err != nil || len(voters) != 3 || voters[2] != nodes[2].RaftAddr() {
		t.Fatalf("Voters = %v, %v", voters, err)
	}
	for id := range int32(3) {
		propose(t, nodes[1], RegisterBroker{Broker: Broker{ID: id + 1, Host: "localhost", Port: 9092 + id}})
	}
	propose(t, nodes[1], createTopic("before", 1, 1, 2, 3))
	if err := nodes[2].Propose(context.Background(), createTopic("x", 9, 1)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Propose on a follower: %v, expected ErrNotLeader", err)
	}
	for _, id := range []int32{2, 3} {
		waitFor(t, "topic replicated", func() bool { _, ok := nodes[id].State().Topic("before"); return ok })
	}

	nodes[1].stop()
	var leader *running
	waitFor(t, "a new leader", func() bool {
		for _, id := range []int32{2, 3} {
			if nodes[id].IsLeader() {
				leader = nodes[id]
				return true
			}
		}
		return false
	})
	if _, ok := leader.State().Topic("before"); !ok {
		t.Fatal("new leader lacks a committed topic")
	}
	// Two of three voters are a quorum: proposals still commit.
	propose(t, leader, createTopic("after", 2, 2, 3))
	for _, id := range []int32{2, 3} {
		waitFor(t, "post-failover topic replicated", func() bool { _, ok := nodes[id].State().Topic("after"); return ok })
	}
	if err := leader.RemoveServer(context.Background(), 1); err != nil {
		t.Fatalf("RemoveServer(1): %v", err)
	}
	if voters, err := leader.Voters(); err != nil || len(voters) != 2 {
		t.Fatalf("Voters after removal = %v, %v", voters, err)
	}
}

// TestLateJoinerInstallsSnapshot adds a voter after the leader compacted
// its log, so the newcomer can only catch up through InstallSnapshot and
// then continue appending after the snapshot's index (the path where raft
// clears a monotonic log store).
func TestLateJoinerInstallsSnapshot(t *testing.T) {
	cfg1 := testConfig(1, t.TempDir())
	cfg1.Bootstrap = true
	cfg1.TrailingLogs = 1
	n1 := start(t, cfg1)
	waitReady(t, n1)
	propose(t, n1, RegisterBroker{Broker: Broker{ID: 1}}, createTopic("a", 1, 1), createTopic("b", 2, 1))
	if err := n1.Snapshot(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	dir2 := t.TempDir()
	n2 := start(t, testConfig(2, dir2))
	if err := n1.AddVoter(context.Background(), 2, n2.RaftAddr()); err != nil {
		t.Fatalf("AddVoter: %v", err)
	}
	waitReady(t, n2)
	propose(t, n1, createTopic("c", 3, 1))
	waitFor(t, "late joiner catches up", func() bool {
		s := n2.State()
		return len(s.Topics) == 3 && s.TopicIDs[[16]byte{3}] == "c"
	})
	files, _ := afero.ReadDir(afero.NewOsFs(), filepath.Join(dir2, "snapshots"))
	if len(files) == 0 {
		t.Fatal("the late joiner caught up without installing a snapshot")
	}
}
