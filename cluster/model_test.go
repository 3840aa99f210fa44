package cluster

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// model is a deliberately naive, mutable statement of the metadata rules
// that ApplyCommand implements with immutable states.
type model struct {
	brokers map[int32]bool
	topics  map[string]*modelTopic
	nextPID int64
}

type modelTopic struct {
	id    byte // the first byte of the UUID; the generator sets no others
	parts []Partition
}

func (m *model) replicasOK(as [][]int32) error {
	for _, rs := range as {
		if len(rs) == 0 {
			return ErrInvalidReplicas
		}
		seen := map[int32]bool{}
		for _, r := range rs {
			if !m.brokers[r] || seen[r] {
				return ErrInvalidReplicas
			}
			seen[r] = true
		}
	}
	return nil
}

func (m *model) addParts(t *modelTopic, as [][]int32) {
	for _, rs := range as {
		t.parts = append(t.parts, Partition{Index: int32(len(t.parts)), Replicas: rs, ISR: rs, Leader: rs[0]})
	}
}

// apply returns the sentinel error the command must fail with, or nil.
func (m *model) apply(cmd Command) error {
	switch c := cmd.(type) {
	case RegisterBroker:
		m.brokers[c.Broker.ID] = true
	case CreateTopic:
		if m.topics[c.Name] != nil {
			return ErrTopicExists
		}
		for _, t := range m.topics {
			if t.id == c.ID[0] {
				return ErrTopicExists
			}
		}
		if len(c.Assignments) == 0 {
			return ErrInvalidPartitions
		}
		if err := m.replicasOK(c.Assignments); err != nil {
			return err
		}
		t := &modelTopic{id: c.ID[0]}
		m.addParts(t, c.Assignments)
		m.topics[c.Name] = t
	case DeleteTopic:
		if m.topics[c.Name] == nil {
			return ErrUnknownTopic
		}
		delete(m.topics, c.Name)
	case CreatePartitions:
		t := m.topics[c.Topic]
		if t == nil {
			return ErrUnknownTopic
		}
		if len(c.Assignments) == 0 {
			return ErrInvalidPartitions
		}
		if err := m.replicasOK(c.Assignments); err != nil {
			return err
		}
		m.addParts(t, c.Assignments)
	case UpdatePartition:
		return m.update(c)
	case AllocateProducerIDs:
		m.nextPID += c.Count
	}
	return nil
}

func (m *model) update(c UpdatePartition) error {
	t := m.topics[c.Topic]
	if t == nil {
		return ErrUnknownTopic
	}
	if c.Partition < 0 || int(c.Partition) >= len(t.parts) {
		return ErrInvalidPartitions
	}
	p := &t.parts[c.Partition]
	if c.ExpectedPartitionEpoch != p.PartitionEpoch || c.LeaderEpoch < p.LeaderEpoch ||
		(c.Leader != p.Leader && c.LeaderEpoch == p.LeaderEpoch) {
		return ErrStaleEpoch
	}
	for i, r := range c.ISR {
		if !slices.Contains(p.Replicas, r) || slices.Contains(c.ISR[:i], r) {
			return ErrInvalidReplicas
		}
	}
	if c.Leader != -1 && !slices.Contains(c.ISR, c.Leader) {
		return ErrInvalidReplicas
	}
	p.Leader, p.LeaderEpoch, p.ISR = c.Leader, c.LeaderEpoch, c.ISR
	p.PartitionEpoch++
	return nil
}

// drawCommand picks a command over a small domain so that collisions,
// unknown names and stale epochs are frequent.
func drawCommand(t *rapid.T, m *model) Command {
	name := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "topic")
	broker := rapid.Int32Range(1, 4)
	replicas := rapid.Custom(func(t *rapid.T) []int32 {
		if rapid.IntRange(0, 9).Draw(t, "noReplicas") == 0 {
			return nil
		}
		return rapid.SliceOfN(broker, 1, 3).Draw(t, "replicas")
	})
	assignments := rapid.Custom(func(t *rapid.T) [][]int32 {
		if rapid.IntRange(0, 9).Draw(t, "noPartitions") == 0 {
			return nil
		}
		return rapid.SliceOfN(replicas, 1, 3).Draw(t, "assignments")
	})
	// Rapid shrinks towards small numbers, so the commands that most need
	// exercising come first.
	switch rapid.IntRange(0, 6).Draw(t, "kind") {
	case 1, 2:
		return CreateTopic{Name: name, ID: [16]byte{rapid.ByteRange(1, 4).Draw(t, "uuid")}, Assignments: assignments.Draw(t, "as")}
	case 3:
		return CreatePartitions{Topic: name, Assignments: assignments.Draw(t, "as")}
	case 4:
		return DeleteTopic{Name: name}
	case 5:
		return RegisterBroker{Broker: Broker{ID: broker.Draw(t, "id"), Host: "h", Port: 9092}}
	case 6:
		return AllocateProducerIDs{BrokerID: broker.Draw(t, "id"), Count: rapid.Int64Range(1, 100).Draw(t, "count")}
	}
	return drawUpdate(t, m, name, broker)
}

// drawUpdate mostly proposes plausible updates (current epochs, an ISR
// drawn from the replicas) so that many succeed, and sometimes not.
func drawUpdate(t *rapid.T, m *model, name string, broker *rapid.Generator[int32]) Command {
	c := UpdatePartition{Topic: name, Partition: rapid.Int32Range(-1, 3).Draw(t, "p"), Leader: -1}
	if len(m.topics) > 0 && rapid.IntRange(0, 9).Draw(t, "randomPartition") > 0 {
		c.Topic = rapid.SampledFrom(slices.Sorted(maps.Keys(m.topics))).Draw(t, "existing")
		c.Partition = rapid.Int32Range(0, int32(len(m.topics[c.Topic].parts)-1)).Draw(t, "p")
	}
	mt := m.topics[c.Topic]
	if mt == nil || c.Partition < 0 || int(c.Partition) >= len(mt.parts) {
		c.ISR = rapid.SliceOfN(broker, 0, 3).Draw(t, "isr")
		return c
	}
	p := mt.parts[c.Partition]
	c.ExpectedPartitionEpoch = p.PartitionEpoch + rapid.SampledFrom([]int32{0, 0, 0, -1, 1}).Draw(t, "pe")
	c.LeaderEpoch = p.LeaderEpoch + rapid.SampledFrom([]int32{0, 1, 1, 2, -1}).Draw(t, "le")
	if rapid.IntRange(0, 9).Draw(t, "wildISR") == 0 {
		c.ISR = rapid.SliceOfN(broker, 0, 3).Draw(t, "isr")
	} else {
		for _, r := range p.Replicas {
			if rapid.Bool().Draw(t, "inISR") {
				c.ISR = append(c.ISR, r)
			}
		}
	}
	if len(c.ISR) > 0 && rapid.IntRange(0, 9).Draw(t, "leaderless") > 0 {
		c.Leader = rapid.SampledFrom(c.ISR).Draw(t, "leader")
	}
	return c
}

// TestApplyCommandMatchesModel runs random command sequences through
// ApplyCommand and the model, and checks after every step that they agree,
// that the state's invariants hold, that epochs never go back, and that
// the previous state was not mutated.
func TestApplyCommandMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		m := &model{brokers: map[int32]bool{}, topics: map[string]*modelTopic{}}
		s := NewState()
		for i := range rapid.IntRange(1, 80).Draw(rt, "steps") {
			var cmd Command = RegisterBroker{Broker: Broker{ID: int32(i + 1)}}
			if i >= 3 { // brokers 1-3 first, so that most topics can be created
				cmd = drawCommand(rt, m)
			}
			before, _ := encodeState(s)
			next, err := ApplyCommand(s, uint64(i+1), cmd)
			if want := m.apply(cmd); !errors.Is(err, want) || (want == nil) != (err == nil) {
				rt.Fatalf("step %d %#v: err %v, model says %v", i, cmd, err, want)
			}
			if after, _ := encodeState(s); !bytes.Equal(before, after) {
				rt.Fatalf("step %d %#v mutated the previous state", i, cmd)
			}
			if err := next.Validate(); err != nil {
				rt.Fatalf("step %d %#v: %v", i, cmd, err)
			}
			checkEpochsMonotonic(rt, s, next)
			compareWithModel(rt, next, m)
			s = next
		}
	})
}

func checkEpochsMonotonic(t *rapid.T, prev, next *State) {
	for name, nt := range next.Topics {
		pt, ok := prev.Topics[name]
		if !ok || pt.ID != nt.ID {
			continue
		}
		for i, p := range pt.Partitions {
			q := nt.Partitions[i]
			if q.LeaderEpoch < p.LeaderEpoch || q.PartitionEpoch < p.PartitionEpoch {
				t.Fatalf("%s-%d epochs went back: %+v -> %+v", name, i, p, q)
			}
		}
	}
}

func compareWithModel(t *rapid.T, s *State, m *model) {
	if got, want := slices.Sorted(maps.Keys(s.Brokers)), slices.Sorted(maps.Keys(m.brokers)); !slices.Equal(got, want) {
		t.Fatalf("brokers %v, model %v", got, want)
	}
	if got, want := s.SortedTopicNames(), slices.Sorted(maps.Keys(m.topics)); !slices.Equal(got, want) {
		t.Fatalf("topics %v, model %v", got, want)
	}
	for name, mt := range m.topics {
		st := s.Topics[name]
		if st.ID[0] != mt.id || len(st.Partitions) != len(mt.parts) {
			t.Fatalf("topic %s: %+v, model %+v", name, st, mt)
		}
		for i, want := range mt.parts {
			got := st.Partitions[i]
			if got.Index != want.Index || got.Leader != want.Leader || got.LeaderEpoch != want.LeaderEpoch ||
				got.PartitionEpoch != want.PartitionEpoch || !slices.Equal(got.Replicas, want.Replicas) ||
				!slices.Equal(got.ISR, want.ISR) {
				t.Fatalf("%s-%d: %+v, model %+v", name, i, got, want)
			}
		}
	}
	if s.NextProducerID != m.nextPID {
		t.Fatalf("next producer ID %d, model %d", s.NextProducerID, m.nextPID)
	}
}
