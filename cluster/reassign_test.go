package cluster

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// reassigning is three brokers and topic "t" with partition 0 on [1 2],
// led by 1, being reassigned to [2 3] (KRaft's layout: targets first).
func reassigning(t *testing.T) *State {
	s := mustApply(t, threeBrokers(t), CreateTopic{Name: "t", ID: [16]byte{1}, Assignments: [][]int32{{1, 2}}})
	return mustApply(t, s, ReassignPartition{Topic: "t", Replicas: []int32{2, 3, 1}, AddingReplicas: []int32{3},
		RemovingReplicas: []int32{1}, Leader: 1, ISR: []int32{1, 2}})
}

func TestReassignPartitionStartsAndCompletes(t *testing.T) {
	s := reassigning(t)
	p := s.Topics["t"].Partitions[0]
	want := Partition{Replicas: []int32{2, 3, 1}, ISR: []int32{1, 2}, Leader: 1, PartitionEpoch: 1,
		AddingReplicas: []int32{3}, RemovingReplicas: []int32{1}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("started: %+v, want %+v", p, want)
	}
	if !p.Reassigning() || !reflect.DeepEqual(p.TargetReplicas(), []int32{2, 3}) || !reflect.DeepEqual(p.OriginalReplicas(), []int32{2, 1}) {
		t.Fatalf("reassigning %v, target %v, original %v", p.Reassigning(), p.TargetReplicas(), p.OriginalReplicas())
	}
	// The new replica joins the ISR through the leader's AlterPartition.
	s = mustApply(t, s, UpdatePartition{Topic: "t", Leader: 1, ISR: []int32{1, 2, 3}, ExpectedPartitionEpoch: 1})
	if p := s.Topics["t"].Partitions[0]; !p.Reassigning() {
		t.Fatal("an ISR change ended the reassignment")
	}
	complete := ReassignPartition{Topic: "t", Replicas: []int32{2, 3}, Leader: 2, LeaderEpoch: 1, ISR: []int32{2, 3}, ExpectedPartitionEpoch: 2}
	s = mustApply(t, s, complete)
	p = s.Topics["t"].Partitions[0]
	want = Partition{Replicas: []int32{2, 3}, ISR: []int32{2, 3}, Leader: 2, LeaderEpoch: 1, PartitionEpoch: 3}
	if !reflect.DeepEqual(p, want) || p.Reassigning() {
		t.Fatalf("completed: %+v, want %+v", p, want)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestReassignPartitionRejections(t *testing.T) {
	base := reassigning(t)
	ok := ReassignPartition{Topic: "t", Replicas: []int32{2, 3}, Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, ExpectedPartitionEpoch: 1}
	if _, err := ApplyCommand(base, 99, ok); err != nil {
		t.Fatalf("the baseline command fails: %v", err)
	}
	cases := []struct {
		name string
		edit func(c *ReassignPartition)
		want error
	}{
		{"unknown topic", func(c *ReassignPartition) { c.Topic = "x" }, ErrUnknownTopic},
		{"unknown partition", func(c *ReassignPartition) { c.Partition = 1 }, ErrInvalidPartitions},
		{"stale partition epoch", func(c *ReassignPartition) { c.ExpectedPartitionEpoch = 0 }, ErrStaleEpoch},
		{"removal without a new leader epoch", func(c *ReassignPartition) {
			c.LeaderEpoch = 0
			c.Leader = 1
			c.Replicas = []int32{1, 2}
			c.ISR = []int32{1}
		}, ErrStaleEpoch},
		{"new leader in the same epoch", func(c *ReassignPartition) { c.LeaderEpoch = 0 }, ErrStaleEpoch},
		{"no replicas", func(c *ReassignPartition) { c.Replicas = nil; c.ISR = nil; c.Leader = -1 }, ErrInvalidReplicas},
		{"unregistered broker", func(c *ReassignPartition) { c.Replicas = []int32{2, 4}; c.AddingReplicas = []int32{4} }, ErrInvalidReplicas},
		{"duplicate replica", func(c *ReassignPartition) { c.Replicas = []int32{2, 2} }, ErrInvalidReplicas},
		{"adding outside the replicas", func(c *ReassignPartition) { c.AddingReplicas = []int32{1} }, ErrInvalidReplicas},
		{"added and removed", func(c *ReassignPartition) { c.AddingReplicas, c.RemovingReplicas = []int32{3}, []int32{3} }, ErrInvalidReplicas},
		{"everything removed", func(c *ReassignPartition) { c.RemovingReplicas = []int32{2, 3} }, ErrInvalidReplicas},
		{"ISR outside the replicas", func(c *ReassignPartition) { c.ISR = []int32{2, 1} }, ErrInvalidReplicas},
		{"leader outside the ISR", func(c *ReassignPartition) { c.Leader = 3 }, ErrInvalidReplicas},
	}
	for _, tc := range cases {
		c := ok
		tc.edit(&c)
		next, err := ApplyCommand(base, 99, c)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if next != base {
			t.Errorf("%s: a rejected command changed the state", tc.name)
		}
	}
}

// TestReassignPartitionKeepsAbsentReplica: a replica whose broker is not
// registered (gone) may stay in the list, but not be added.
func TestReassignPartitionKeepsAbsentReplica(t *testing.T) {
	s := reassigning(t)
	delete(s.Brokers, 1) // as if broker 1 had been removed from the cluster
	c := ReassignPartition{Topic: "t", Replicas: []int32{2, 3, 1}, AddingReplicas: []int32{3}, RemovingReplicas: []int32{1},
		Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, ExpectedPartitionEpoch: 1}
	if _, err := ApplyCommand(s, 99, c); err != nil {
		t.Fatal(err)
	}
}

func TestReassignPartitionEncodingAndSnapshot(t *testing.T) {
	cmd := ReassignPartition{Topic: "t", Partition: 2, Replicas: []int32{2, 3, 1}, AddingReplicas: []int32{3}, RemovingReplicas: []int32{1},
		Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 2}, ExpectedPartitionEpoch: 5}
	b, err := EncodeCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeCommand(b)
	if err != nil || !reflect.DeepEqual(got, cmd) {
		t.Fatalf("round trip: %#v, %v", got, err)
	}
	if b[0] != tagReassignPartition {
		t.Fatalf("tag %d", b[0])
	}

	// A snapshot taken mid-reassignment restores the same state.
	want := reassigning(t)
	data, err := encodeState(want)
	if err != nil {
		t.Fatal(err)
	}
	restored, err := decodeState(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored, want) {
		t.Fatalf("restored %+v\nwant %+v", restored.Topics["t"], want.Topics["t"])
	}
}
