package cluster

import (
	"errors"
	"fmt"
	"slices"
)

// partitionAtEpoch finds a partition a compare-and-set command changes and
// checks that it is still at the expected partition epoch.
func partitionAtEpoch(s *State, topic string, part, expected int32) (*Topic, Partition, error) {
	t, ok := s.Topics[topic]
	if !ok {
		return nil, Partition{}, fmt.Errorf("%w: %q", ErrUnknownTopic, topic)
	}
	if part < 0 || int(part) >= len(t.Partitions) {
		return nil, Partition{}, fmt.Errorf("%w: %q has no partition %d", ErrInvalidPartitions, topic, part)
	}
	p := t.Partitions[part]
	if expected != p.PartitionEpoch {
		return nil, Partition{}, fmt.Errorf("%w: %s-%d is at partition epoch %d, not %d",
			ErrStaleEpoch, topic, part, p.PartitionEpoch, expected)
	}
	return t, p, nil
}

func applyUpdatePartition(s *State, c UpdatePartition) (*State, error) {
	t, p, err := partitionAtEpoch(s, c.Topic, c.Partition, c.ExpectedPartitionEpoch)
	if err != nil {
		return nil, err
	}
	if c.LeaderEpoch < p.LeaderEpoch || (c.Leader != p.Leader && c.LeaderEpoch == p.LeaderEpoch) {
		return nil, fmt.Errorf("%w: %s-%d leader %d in epoch %d cannot become leader %d in epoch %d",
			ErrStaleEpoch, c.Topic, c.Partition, p.Leader, p.LeaderEpoch, c.Leader, c.LeaderEpoch)
	}
	if err := checkISR(p.Replicas, c.ISR, c.Leader); err != nil {
		return nil, fmt.Errorf("%s-%d: %w", c.Topic, c.Partition, err)
	}
	if p.PartitionEpoch == 1<<31-1 {
		return nil, fmt.Errorf("%w: %s-%d partition epoch exhausted", ErrBadCommand, c.Topic, c.Partition)
	}
	p.Leader = c.Leader
	p.LeaderEpoch = c.LeaderEpoch
	p.ISR = cloneIDs(c.ISR)
	p.PartitionEpoch++
	nt := cloneTopic(t)
	nt.Partitions[c.Partition] = p
	return withTopic(s, nt), nil
}

// checkISR requires isr to be distinct replicas and leader to be -1 or in
// isr.
func checkISR(replicas, isr []int32, leader int32) error {
	for i, id := range isr {
		if !slices.Contains(replicas, id) {
			return fmt.Errorf("%w: ISR member %d is not a replica %v", ErrInvalidReplicas, id, replicas)
		}
		if slices.Contains(isr[:i], id) {
			return fmt.Errorf("%w: ISR lists %d twice", ErrInvalidReplicas, id)
		}
	}
	if leader != -1 && !slices.Contains(isr, leader) {
		return fmt.Errorf("%w: leader %d is not in the ISR %v", ErrInvalidReplicas, leader, isr)
	}
	return nil
}

// Validate checks the invariants every State holds: TopicIDs mirrors
// Topics, topics are stored under their names, partition indexes run
// 0..n-1, replica lists are non-empty and distinct, the ISR is a subset of
// the replicas, the leader is -1 or in the ISR, adding and removing
// replicas are disjoint subsets of the replicas, and epochs are not
// negative. FSM.Restore runs it on every snapshot it loads.
func (s *State) Validate() error {
	if len(s.TopicIDs) != len(s.Topics) {
		return fmt.Errorf("cluster: %d topic IDs for %d topics", len(s.TopicIDs), len(s.Topics))
	}
	for name, t := range s.Topics {
		if t == nil || t.Name != name {
			return fmt.Errorf("cluster: topic stored under %q is %v", name, t)
		}
		if s.TopicIDs[t.ID] != name {
			return fmt.Errorf("cluster: topic %q ID maps to %q", name, s.TopicIDs[t.ID])
		}
		for i, p := range t.Partitions {
			if err := validatePartition(i, p); err != nil {
				return fmt.Errorf("cluster: %s-%d: %w", name, i, err)
			}
		}
	}
	for id, b := range s.Brokers {
		if b.ID != id {
			return fmt.Errorf("cluster: broker stored under %d has ID %d", id, b.ID)
		}
	}
	return nil
}

func validatePartition(i int, p Partition) error {
	if int(p.Index) != i {
		return fmt.Errorf("index %d", p.Index)
	}
	if len(p.Replicas) == 0 {
		return errors.New("no replicas")
	}
	for j, id := range p.Replicas {
		if slices.Contains(p.Replicas[:j], id) {
			return fmt.Errorf("replica %d listed twice", id)
		}
	}
	if p.LeaderEpoch < 0 || p.PartitionEpoch < 0 {
		return fmt.Errorf("negative epoch: leader %d, partition %d", p.LeaderEpoch, p.PartitionEpoch)
	}
	if err := checkReassignment(p.Replicas, p.AddingReplicas, p.RemovingReplicas); err != nil {
		return err
	}
	return checkISR(p.Replicas, p.ISR, p.Leader)
}
