package controller

import (
	"errors"
	"fmt"
	"slices"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
)

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// part is a partition to build: replicas, then the ISR and leader to move
// it to (nil ISR: all replicas, led by the first).
type part struct {
	replicas []int32
	isr      []int32
	leader   int32
}

// newState registers brokers 1..n and creates the topics, each partition
// moved to its ISR and leader through the state machine, so the state is
// one the FSM could reach.
func newState(t tb, n int, topics map[string][]part) *cluster.State {
	t.Helper()
	st := cluster.NewState()
	var idx uint64
	apply := func(cmd cluster.Command) {
		t.Helper()
		idx++
		next, err := cluster.ApplyCommand(st, idx, cmd)
		if err != nil {
			t.Fatalf("setup %#v: %v", cmd, err)
		}
		st = next
	}
	for id := 1; id <= n; id++ {
		apply(cluster.RegisterBroker{Broker: cluster.Broker{ID: int32(id), Host: "h", Port: 9092}})
	}
	names := make([]string, 0, len(topics))
	for name := range topics {
		names = append(names, name)
	}
	slices.Sort(names)
	for ti, name := range names {
		parts := topics[name]
		assign := make([][]int32, len(parts))
		for i, p := range parts {
			assign[i] = p.replicas
		}
		apply(cluster.CreateTopic{Name: name, ID: [16]byte{byte(ti + 1)}, Assignments: assign})
		for i, p := range parts {
			if p.isr == nil {
				continue
			}
			cur := st.Topics[name].Partitions[i]
			epoch := cur.LeaderEpoch
			if p.leader != cur.Leader {
				epoch++
			}
			apply(cluster.UpdatePartition{Topic: name, Partition: int32(i), Leader: p.leader, LeaderEpoch: epoch, ISR: p.isr, ExpectedPartitionEpoch: cur.PartitionEpoch})
		}
	}
	return st
}

// applyAll applies cmds in order and fails the test if the FSM refuses one.
func applyAll(t tb, st *cluster.State, cmds []cluster.UpdatePartition) *cluster.State {
	t.Helper()
	for i, c := range cmds {
		next, err := cluster.ApplyCommand(st, st.AppliedIndex+1, c)
		if err != nil {
			t.Fatalf("command %d %+v refused by the FSM: %v", i, c, err)
		}
		st = next
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("state after the commands: %v", err)
	}
	return st
}

// live returns eligible brokers with the given IDs.
func live(ids ...int32) []BrokerInfo {
	out := make([]BrokerInfo, len(ids))
	for i, id := range ids {
		out[i] = BrokerInfo{ID: id}
	}
	return out
}

// codeOf returns the Kafka error of err, or nil.
func codeOf(t tb, err error) *kerr.Error {
	t.Helper()
	if err == nil {
		return nil
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *controller.Error", err)
	}
	if !errors.Is(err, ce.Code) {
		t.Fatalf("errors.Is(%v, %v) is false", err, ce.Code)
	}
	return ce.Code
}

func partitionOf(st *cluster.State, topic string, i int32) cluster.Partition {
	return st.Topics[topic].Partitions[i]
}

func (p part) String() string { return fmt.Sprintf("%v/%v/%d", p.replicas, p.isr, p.leader) }
