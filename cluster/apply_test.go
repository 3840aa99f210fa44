package cluster

import (
	"errors"
	"reflect"
	"testing"
)

// mustApply applies cmds in order at indexes 1, 2, ...
func mustApply(t *testing.T, s *State, cmds ...Command) *State {
	t.Helper()
	for _, cmd := range cmds {
		next, err := ApplyCommand(s, s.AppliedIndex+1, cmd)
		if err != nil {
			t.Fatalf("apply %#v: %v", cmd, err)
		}
		s = next
	}
	return s
}

func threeBrokers(t *testing.T) *State {
	return mustApply(t, NewState(),
		RegisterBroker{Broker: Broker{ID: 1, Host: "a", Port: 9092}},
		RegisterBroker{Broker: Broker{ID: 2, Host: "b", Port: 9092}},
		RegisterBroker{Broker: Broker{ID: 3, Host: "c", Port: 9092}},
	)
}

func TestCreateTopicChoosesFirstReplicaAsLeader(t *testing.T) {
	s := mustApply(t, threeBrokers(t), CreateTopic{
		Name: "orders", ID: [16]byte{9}, Assignments: [][]int32{{2, 3, 1}, {3, 1, 2}},
		Configs: map[string]string{"retention.ms": "1000"},
	})
	top, ok := s.Topic("orders")
	if !ok {
		t.Fatal("topic missing")
	}
	if byID, ok := s.TopicByID([16]byte{9}); !ok || byID != top {
		t.Fatal("TopicByID does not find the topic")
	}
	want := []Partition{
		{Index: 0, Replicas: []int32{2, 3, 1}, ISR: []int32{2, 3, 1}, Leader: 2},
		{Index: 1, Replicas: []int32{3, 1, 2}, ISR: []int32{3, 1, 2}, Leader: 3},
	}
	if !reflect.DeepEqual(top.Partitions, want) {
		t.Fatalf("partitions %+v, expected %+v", top.Partitions, want)
	}
	if s.AppliedIndex != 4 {
		t.Fatalf("AppliedIndex %d, expected 4", s.AppliedIndex)
	}
}

func TestApplyCommandRejections(t *testing.T) {
	base := mustApply(t, threeBrokers(t),
		CreateTopic{Name: "t", ID: [16]byte{1}, Assignments: [][]int32{{1, 2}}})
	cases := []struct {
		name string
		cmd  Command
		want error
	}{
		{"duplicate name", CreateTopic{Name: "t", ID: [16]byte{2}, Assignments: [][]int32{{1}}}, ErrTopicExists},
		{"duplicate UUID", CreateTopic{Name: "u", ID: [16]byte{1}, Assignments: [][]int32{{1}}}, ErrTopicExists},
		{"zero UUID", CreateTopic{Name: "u", Assignments: [][]int32{{1}}}, ErrBadCommand},
		{"empty name", CreateTopic{ID: [16]byte{2}, Assignments: [][]int32{{1}}}, ErrBadCommand},
		{"no partitions", CreateTopic{Name: "u", ID: [16]byte{2}}, ErrInvalidPartitions},
		{"no replicas", CreateTopic{Name: "u", ID: [16]byte{2}, Assignments: [][]int32{{}}}, ErrInvalidReplicas},
		{"unknown broker", CreateTopic{Name: "u", ID: [16]byte{2}, Assignments: [][]int32{{1, 7}}}, ErrInvalidReplicas},
		{"duplicate replica", CreateTopic{Name: "u", ID: [16]byte{2}, Assignments: [][]int32{{1, 1}}}, ErrInvalidReplicas},
		{"delete unknown", DeleteTopic{Name: "nope"}, ErrUnknownTopic},
		{"grow unknown", CreatePartitions{Topic: "nope", Assignments: [][]int32{{1}}}, ErrUnknownTopic},
		{"grow by nothing", CreatePartitions{Topic: "t"}, ErrInvalidPartitions},
		{"alter unknown", AlterTopicConfigs{Topic: "nope"}, ErrUnknownTopic},
		{"update unknown", UpdatePartition{Topic: "nope"}, ErrUnknownTopic},
		{"update bad partition", UpdatePartition{Topic: "t", Partition: 1, Leader: 1, ISR: []int32{1}}, ErrInvalidPartitions},
		{"update stale", UpdatePartition{Topic: "t", Leader: 1, ISR: []int32{1}, ExpectedPartitionEpoch: 1}, ErrStaleEpoch},
		{"new leader same epoch", UpdatePartition{Topic: "t", Leader: 2, ISR: []int32{2}}, ErrStaleEpoch},
		{"leader not in ISR", UpdatePartition{Topic: "t", Leader: 2, LeaderEpoch: 1, ISR: []int32{1}}, ErrInvalidReplicas},
		{"ISR not replicas", UpdatePartition{Topic: "t", Leader: 1, ISR: []int32{1, 3}}, ErrInvalidReplicas},
		{"cluster ID change", SetClusterID{ID: "other"}, ErrBadCommand},
		{"no producer IDs", AllocateProducerIDs{BrokerID: 1}, ErrBadCommand},
		{"nil command", nil, ErrBadCommand},
	}
	base = mustApply(t, base, SetClusterID{ID: "c1"})
	for _, c := range cases {
		next, err := ApplyCommand(base, 99, c.cmd)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, expected %v", c.name, err, c.want)
		}
		if next != base {
			t.Errorf("%s: rejected command changed the state", c.name)
		}
	}
}

func TestUpdatePartitionCompareAndSet(t *testing.T) {
	s := mustApply(t, threeBrokers(t),
		CreateTopic{Name: "t", ID: [16]byte{1}, Assignments: [][]int32{{1, 2, 3}}})
	// Shrink the ISR under the same leader, then fail over to 2.
	s = mustApply(t, s,
		UpdatePartition{Topic: "t", Leader: 1, LeaderEpoch: 0, ISR: []int32{1, 2}, ExpectedPartitionEpoch: 0},
		UpdatePartition{Topic: "t", Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, ExpectedPartitionEpoch: 1},
	)
	p := s.Topics["t"].Partitions[0]
	want := Partition{Index: 0, Replicas: []int32{1, 2, 3}, ISR: []int32{2}, Leader: 2, LeaderEpoch: 1, PartitionEpoch: 2}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("partition %+v, expected %+v", p, want)
	}
	// No leader at all is allowed (offline partition).
	s = mustApply(t, s, UpdatePartition{Topic: "t", Leader: -1, LeaderEpoch: 2, ExpectedPartitionEpoch: 2})
	if p := s.Topics["t"].Partitions[0]; p.Leader != -1 || p.ISR != nil || p.PartitionEpoch != 3 {
		t.Fatalf("offline partition %+v", p)
	}
}

func TestConfigsMergeReplaceDelete(t *testing.T) {
	s := mustApply(t, threeBrokers(t),
		CreateTopic{Name: "t", ID: [16]byte{1}, Assignments: [][]int32{{1}}, Configs: map[string]string{"a": "1", "b": "2"}},
		AlterTopicConfigs{Topic: "t", Set: map[string]string{"c": "3"}, Delete: []string{"a"}},
		AlterBrokerConfigs{Set: map[string]string{"x": "1", "y": "2"}},
		AlterBrokerConfigs{Set: map[string]string{"z": "3"}, Replace: true},
	)
	if got := s.Topics["t"].Configs; !reflect.DeepEqual(got, map[string]string{"b": "2", "c": "3"}) {
		t.Fatalf("topic configs %v", got)
	}
	if !reflect.DeepEqual(s.BrokerConfigs, map[string]string{"z": "3"}) {
		t.Fatalf("broker configs %v", s.BrokerConfigs)
	}
	s = mustApply(t, s, AlterTopicConfigs{Topic: "t", Replace: true})
	if s.Topics["t"].Configs != nil {
		t.Fatalf("replace with nothing left %v", s.Topics["t"].Configs)
	}
}

func TestAllocateProducerIDsNeverOverlap(t *testing.T) {
	s := mustApply(t, NewState(),
		AllocateProducerIDs{BrokerID: 1, Count: 10},
		AllocateProducerIDs{BrokerID: 2, Count: 5},
		AllocateProducerIDs{BrokerID: 1, Count: 10},
	)
	if b1, b2 := s.ProducerIDBlocks[1], s.ProducerIDBlocks[2]; b1 != (ProducerIDBlock{15, 10}) || b2 != (ProducerIDBlock{10, 5}) {
		t.Fatalf("blocks %+v %+v", b1, b2)
	}
	if s.NextProducerID != 25 {
		t.Fatalf("NextProducerID %d", s.NextProducerID)
	}
}

// TestBrokerEpochsAndFencing: each registration gets a new epoch (its Raft
// index) and starts fenced; FenceBroker acts only on the current epoch.
func TestBrokerEpochsAndFencing(t *testing.T) {
	s, err := ApplyCommand(NewState(), 7, RegisterBroker{Broker: Broker{ID: 1, Host: "h", Port: 9092, Epoch: 99}})
	if err != nil {
		t.Fatal(err)
	}
	if b := s.Brokers[1]; b.Epoch != 7 || !b.Fenced {
		t.Fatalf("after registration: %+v, want epoch 7, fenced", b)
	}
	if s, err = ApplyCommand(s, 8, FenceBroker{ID: 1, Epoch: 7, Fenced: false}); err != nil || s.Brokers[1].Fenced {
		t.Fatalf("unfence at the current epoch: %v, %+v", err, s.Brokers[1])
	}
	s, err = ApplyCommand(s, 9, RegisterBroker{Broker: Broker{ID: 1, Host: "h", Port: 9092}})
	if err != nil || s.Brokers[1].Epoch != 9 || !s.Brokers[1].Fenced {
		t.Fatalf("re-registration: %v, %+v, want epoch 9, fenced", err, s.Brokers[1])
	}
	if _, err := ApplyCommand(s, 10, FenceBroker{ID: 1, Epoch: 7, Fenced: false}); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("unfence with the old epoch: %v, want ErrStaleEpoch", err)
	}
	if _, err := ApplyCommand(s, 10, FenceBroker{ID: 2, Epoch: 1}); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("fence an unknown broker: %v, want ErrBadCommand", err)
	}
}
