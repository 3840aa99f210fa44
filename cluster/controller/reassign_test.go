package controller

import (
	"fmt"
	"slices"
	"testing"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"pgregory.net/rapid"
)

// apply applies one command and fails the test if the FSM refuses it.
func apply(t tb, st *cluster.State, cmd cluster.Command) *cluster.State {
	t.Helper()
	next, err := cluster.ApplyCommand(st, st.AppliedIndex+1, cmd)
	if err != nil {
		t.Fatalf("%+v refused by the FSM: %v", cmd, err)
	}
	if err := next.Validate(); err != nil {
		t.Fatalf("state after %+v: %v", cmd, err)
	}
	return next
}

// setISR moves topic "t" partition 0 to isr under its current leader, as
// the leader's AlterPartition would.
func setISR(t tb, st *cluster.State, isr ...int32) *cluster.State {
	t.Helper()
	p := partitionOf(st, "t", 0)
	return apply(t, st, cluster.UpdatePartition{Topic: "t", Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, ISR: isr, ExpectedPartitionEpoch: p.PartitionEpoch})
}

func describe(p cluster.Partition) string {
	return fmt.Sprintf("replicas %v adding %v removing %v leader %d epoch %d isr %v",
		p.Replicas, p.AddingReplicas, p.RemovingReplicas, p.Leader, p.LeaderEpoch, p.ISR)
}

func TestReassign(t *testing.T) {
	base := func() *cluster.State {
		return newState(t, 4, map[string][]part{"t": {{[]int32{1, 2}, nil, 0}}})
	}
	// inProgress is [1 2] -> [2 3] started, 3 not yet in sync.
	inProgress := func() *cluster.State {
		st := base()
		cmd, _, err := Reassign(st, live(1, 2, 3, 4), "t", 0, []int32{2, 3}, true)
		if err != nil {
			t.Fatal(err)
		}
		return apply(t, st, cmd)
	}
	tests := []struct {
		name     string
		st       *cluster.State
		target   []int32
		noRF     bool // AllowReplicationFactorChange false
		want     string
		unchaged bool
		code     *kerr.Error
	}{
		{"move [1 2] to [2 3]: targets first, then the removed", base(), []int32{2, 3}, false,
			"replicas [2 3 1] adding [3] removing [1] leader 1 epoch 0 isr [1 2]", false, nil},
		{"reorder takes effect at once", base(), []int32{2, 1}, false,
			"replicas [2 1] adding [] removing [] leader 1 epoch 0 isr [1 2]", false, nil},
		{"grow to three", base(), []int32{1, 2, 4}, false,
			"replicas [1 2 4] adding [4] removing [] leader 1 epoch 0 isr [1 2]", false, nil},
		{"same assignment: nothing", base(), []int32{1, 2}, false, "", true, nil},
		{"cancel: back to the original replicas, the added leave, new epoch", inProgress(), nil, false,
			"replicas [2 1] adding [] removing [] leader 1 epoch 1 isr [1 2]", false, nil},
		{"a new target replaces the one in progress", inProgress(), []int32{4, 1}, false,
			"replicas [4 1 2] adding [4] removing [2] leader 1 epoch 1 isr [1 2]", false, nil},
		{"cancel with nothing in progress", base(), nil, false, "", false, kerr.NoReassignmentInProgress},
		{"empty target", base(), []int32{}, false, "", false, kerr.InvalidReplicaAssignment},
		{"repeated broker", base(), []int32{2, 2}, false, "", false, kerr.InvalidReplicaAssignment},
		{"unregistered broker", base(), []int32{2, 9}, false, "", false, kerr.InvalidReplicaAssignment},
		{"replication factor change refused (KIP-860)", base(), []int32{1, 2, 3}, true, "", false, kerr.InvalidReplicationFactor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd, changed, err := Reassign(tc.st, live(1, 2, 3, 4), "t", 0, tc.target, !tc.noRF)
			if got := codeOf(t, err); got != tc.code {
				t.Fatalf("error %v, want %v", err, tc.code)
			}
			if tc.code != nil {
				return
			}
			if changed == tc.unchaged {
				t.Fatalf("changed %v", changed)
			}
			if !changed {
				return
			}
			if got := describe(partitionOf(apply(t, tc.st, cmd), "t", 0)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if _, _, err := Reassign(base(), live(1, 2), "t", 1, []int32{1}, true); codeOf(t, err) != kerr.UnknownTopicOrPartition {
		t.Fatalf("unknown partition: %v", err)
	}
}

// TestReassignRefusesLosingTheISR: a new target that keeps none of the
// in-sync replicas is refused rather than taking the partition offline.
func TestReassignRefusesLosingTheISR(t *testing.T) {
	st := newState(t, 3, map[string][]part{"t": {{[]int32{1}, nil, 0}}})
	cmd, _, _ := Reassign(st, live(1, 2, 3), "t", 0, []int32{2}, true)
	st = apply(t, st, cmd)
	st = setISR(t, st, 1, 2)
	// 1 fails: 2 leads alone (what Failover would do).
	p := partitionOf(st, "t", 0)
	st = apply(t, st, cluster.UpdatePartition{Topic: "t", Leader: 2, LeaderEpoch: p.LeaderEpoch + 1, ISR: []int32{2}, ExpectedPartitionEpoch: p.PartitionEpoch})
	if _, _, err := Reassign(st, live(2, 3), "t", 0, []int32{3}, true); codeOf(t, err) != kerr.InvalidReplicaAssignment {
		t.Fatalf("target without any ISR member: %v, want INVALID_REPLICA_ASSIGNMENT", err)
	}
}

func TestCompleteReassignments(t *testing.T) {
	start := func(replicas, target []int32, brokers []BrokerInfo) *cluster.State {
		st := newState(t, 4, map[string][]part{"t": {{replicas, nil, 0}}})
		cmd, _, err := Reassign(st, brokers, "t", 0, target, true)
		if err != nil {
			t.Fatal(err)
		}
		return apply(t, st, cmd)
	}
	all := live(1, 2, 3, 4)

	st := start([]int32{1, 2}, []int32{2, 3}, all)
	if cmds := CompleteReassignments(st, all); len(cmds) != 0 {
		t.Fatalf("completed before the new replica is in sync: %+v", cmds)
	}
	st = setISR(t, st, 1, 2, 3)
	cmds := CompleteReassignments(st, all)
	if len(cmds) != 1 {
		t.Fatalf("%d commands, want 1", len(cmds))
	}
	st = apply(t, st, cmds[0])
	if got, want := describe(partitionOf(st, "t", 0)), "replicas [2 3] adding [] removing [] leader 2 epoch 1 isr [2 3]"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if cmds := CompleteReassignments(st, all); len(cmds) != 0 {
		t.Fatalf("not a fixed point: %+v", cmds)
	}

	// A leader that stays keeps leading, in a new epoch (a replica left).
	st = start([]int32{1, 2}, []int32{1, 3}, all)
	st = apply(t, setISR(t, st, 1, 2, 3), CompleteReassignments(setISR(t, st, 1, 2, 3), all)[0])
	if got, want := describe(partitionOf(st, "t", 0)), "replicas [1 3] adding [] removing [] leader 1 epoch 1 isr [1 3]"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// Growing removes nothing: same leader, same epoch.
	st = start([]int32{1}, []int32{1, 2, 3}, all)
	st = setISR(t, st, 1, 2, 3)
	st = apply(t, st, CompleteReassignments(st, all)[0])
	if got, want := describe(partitionOf(st, "t", 0)), "replicas [1 2 3] adding [] removing [] leader 1 epoch 0 isr [1 2 3]"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// No eligible target to take over: wait.
	st = start([]int32{1}, []int32{2}, all)
	st = setISR(t, st, 1, 2)
	if cmds := CompleteReassignments(st, []BrokerInfo{{ID: 1}, {ID: 2, Fenced: true}}); len(cmds) != 0 {
		t.Fatalf("handed leadership to a fenced broker: %+v", cmds)
	}
}

// TestReassignLifecycleProperty: from any assignment to any target, start,
// followers catching up one by one, and completion (with cancels and new
// targets on the way) are all accepted by the FSM, keep a non-empty ISR
// with the leader in it, never lower the leader epoch, and end with
// exactly the last target's replicas, all in sync.
func TestReassignLifecycleProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const n = 5
		brokers := live(1, 2, 3, 4, 5)
		replicaList := func(label string) []int32 {
			ids := rapid.Permutation([]int32{1, 2, 3, 4, 5}).Draw(t, label)
			return ids[:rapid.IntRange(1, n).Draw(t, label+"-rf")]
		}
		st := newState(t, n, map[string][]part{"t": {{replicaList("initial"), nil, 0}}})
		var target []int32
		for round := 0; round < 3; round++ {
			next := replicaList("target")
			if round > 0 && rapid.Bool().Draw(t, "cancel") && partitionOf(st, "t", 0).Reassigning() {
				next = nil
			}
			before := partitionOf(st, "t", 0)
			cmd, changed, err := Reassign(st, brokers, "t", 0, next, true)
			if err != nil {
				t.Fatalf("reassign %v: %v", next, err)
			}
			if changed {
				st = apply(t, st, cmd)
			}
			after := partitionOf(st, "t", 0)
			checkPartition(t, before, after)
			if next == nil {
				target = before.OriginalReplicas()
			} else {
				target = next
			}
			// Some of the targets catch up.
			for _, id := range target {
				p := partitionOf(st, "t", 0)
				if !slices.Contains(p.ISR, id) && rapid.Bool().Draw(t, "catch-up") {
					st = setISR(t, st, append(slices.Clone(p.ISR), id)...)
				}
			}
			for _, cmd := range CompleteReassignments(st, brokers) {
				before := partitionOf(st, "t", 0)
				st = apply(t, st, cmd)
				checkPartition(t, before, partitionOf(st, "t", 0))
			}
		}
		for _, id := range target {
			if p := partitionOf(st, "t", 0); !slices.Contains(p.ISR, id) {
				st = setISR(t, st, append(slices.Clone(p.ISR), id)...)
			}
		}
		for _, cmd := range CompleteReassignments(st, brokers) {
			st = apply(t, st, cmd)
		}
		p := partitionOf(st, "t", 0)
		if p.Reassigning() || !slices.Equal(p.Replicas, target) || len(p.ISR) != len(target) {
			t.Fatalf("ended at %s, want the replicas %v all in sync", describe(p), target)
		}
	})
}

// checkPartition checks one step of a reassignment.
func checkPartition(t tb, before, after cluster.Partition) {
	t.Helper()
	if len(after.ISR) == 0 || !slices.Contains(after.ISR, after.Leader) {
		t.Fatalf("%s -> %s: the ISR is empty or lacks the leader", describe(before), describe(after))
	}
	if after.LeaderEpoch < before.LeaderEpoch {
		t.Fatalf("%s -> %s: leader epoch went back", describe(before), describe(after))
	}
	for _, id := range after.ISR {
		if !slices.Contains(before.ISR, id) {
			t.Fatalf("%s -> %s: %d joined the ISR without catching up", describe(before), describe(after), id)
		}
	}
}

func TestRaiseReplication(t *testing.T) {
	brokers := []BrokerInfo{{ID: 1, Rack: "a"}, {ID: 2, Rack: "a"}, {ID: 3, Rack: "b"}, {ID: 4, Rack: "c"}, {ID: 5, Rack: "c", Fenced: true}}
	parts := make([]part, 6)
	for i := range parts {
		parts[i] = part{[]int32{1}, nil, 0}
	}
	parts[5] = part{[]int32{1, 2, 3}, nil, 0} // already there
	st := newState(t, 5, map[string][]part{"__consumer_offsets": parts})
	if cmds := RaiseReplication(st, brokers, "__consumer_offsets", 3, 2); len(cmds) != 2 {
		t.Fatalf("limit 2: %d commands", len(cmds))
	}
	cmds := RaiseReplication(st, brokers, "__consumer_offsets", 3, 100)
	if len(cmds) != 5 {
		t.Fatalf("%d commands, want 5 (partition 5 has three replicas)", len(cmds))
	}
	added := map[int32]int{}
	for _, c := range cmds {
		st = apply(t, st, c)
		p := partitionOf(st, "__consumer_offsets", c.Partition)
		if len(p.TargetReplicas()) != 3 || p.TargetReplicas()[0] != 1 || p.Leader != 1 {
			t.Fatalf("partition %d: %s", c.Partition, describe(p))
		}
		for _, id := range p.AddingReplicas {
			added[id]++
			if id == 5 {
				t.Fatal("a fenced broker got a replica")
			}
		}
		// Rack a holds the existing replica: the new ones go to b and c.
		if !slices.Contains(p.AddingReplicas, 3) || !slices.Contains(p.AddingReplicas, 4) {
			t.Fatalf("partition %d adds %v, want one replica in each other rack", c.Partition, p.AddingReplicas)
		}
	}
	if added[3] != 5 || added[4] != 5 {
		t.Fatalf("added per broker %v", added)
	}
	if cmds := RaiseReplication(st, brokers, "__consumer_offsets", 3, 100); len(cmds) != 0 {
		t.Fatalf("raised partitions already being reassigned: %+v", cmds)
	}

	// Without racks the new replicas spread evenly.
	st = newState(t, 4, map[string][]part{"o": parts[:5]})
	added = map[int32]int{}
	for _, c := range RaiseReplication(st, live(1, 2, 3, 4), "o", 3, 100) {
		for _, id := range c.AddingReplicas {
			added[id]++
		}
	}
	if added[2]+added[3]+added[4] != 10 || max(added[2], added[3], added[4])-min(added[2], added[3], added[4]) > 1 {
		t.Fatalf("added per broker %v, want 10 spread evenly over 2, 3 and 4", added)
	}
}
