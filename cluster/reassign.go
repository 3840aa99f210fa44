package cluster

import (
	"fmt"
	"slices"
)

// Reassignment, as KRaft does it: a partition whose replicas move from
// the old set O to a target T first gets the replicas T followed by O-T,
// with AddingReplicas T-O and RemovingReplicas O-T. The brokers in
// AddingReplicas open a follower replica and catch up; once every target
// is in the ISR the controller completes the move: Replicas becomes T,
// the ISR loses O-T, a leader outside T hands over to one in T, and the
// leader epoch is bumped so that the removed replicas are fenced. The
// removed brokers then delete their copies. cluster/controller decides
// each step; ReassignPartition carries it.

// ReassignPartition changes a partition's replicas together with its
// leader, leader epoch and ISR, if its PartitionEpoch is still
// ExpectedPartitionEpoch (compare and set; KRaft's PartitionChangeRecord
// with replicas). It starts, completes or cancels a reassignment. Replicas
// are distinct and a broker that was not a replica before must be
// registered; AddingReplicas and RemovingReplicas are disjoint subsets of
// Replicas; the leader and ISR follow UpdatePartition's rules; and taking
// a broker out of Replicas must bump the leader epoch (KRaft does, so that
// the removed replica's fetches are fenced). PartitionEpoch is bumped.
type ReassignPartition struct {
	Topic                  string
	Partition              int32
	Replicas               []int32
	AddingReplicas         []int32
	RemovingReplicas       []int32
	Leader                 int32
	LeaderEpoch            int32
	ISR                    []int32
	ExpectedPartitionEpoch int32
}

func (ReassignPartition) commandTag() byte { return tagReassignPartition }

func applyReassignPartition(s *State, c ReassignPartition) (*State, error) {
	t, p, err := partitionAtEpoch(s, c.Topic, c.Partition, c.ExpectedPartitionEpoch)
	if err != nil {
		return nil, err
	}
	if err := checkNewReplicas(s, p.Replicas, c.Replicas); err != nil {
		return nil, fmt.Errorf("%s-%d: %w", c.Topic, c.Partition, err)
	}
	if err := checkReassignment(c.Replicas, c.AddingReplicas, c.RemovingReplicas); err != nil {
		return nil, fmt.Errorf("%s-%d: %w", c.Topic, c.Partition, err)
	}
	removes := slices.ContainsFunc(p.Replicas, func(id int32) bool { return !slices.Contains(c.Replicas, id) })
	switch {
	case c.LeaderEpoch < p.LeaderEpoch || (c.Leader != p.Leader && c.LeaderEpoch == p.LeaderEpoch):
		return nil, fmt.Errorf("%w: %s-%d leader %d in epoch %d cannot become leader %d in epoch %d",
			ErrStaleEpoch, c.Topic, c.Partition, p.Leader, p.LeaderEpoch, c.Leader, c.LeaderEpoch)
	case removes && c.LeaderEpoch == p.LeaderEpoch:
		return nil, fmt.Errorf("%w: %s-%d: removing replicas from %v needs a new leader epoch, not %d",
			ErrStaleEpoch, c.Topic, c.Partition, p.Replicas, c.LeaderEpoch)
	}
	if err := checkISR(c.Replicas, c.ISR, c.Leader); err != nil {
		return nil, fmt.Errorf("%s-%d: %w", c.Topic, c.Partition, err)
	}
	if p.PartitionEpoch == 1<<31-1 {
		return nil, fmt.Errorf("%w: %s-%d partition epoch exhausted", ErrBadCommand, c.Topic, c.Partition)
	}
	p.Replicas = cloneIDs(c.Replicas)
	p.AddingReplicas = cloneIDs(c.AddingReplicas)
	p.RemovingReplicas = cloneIDs(c.RemovingReplicas)
	p.Leader = c.Leader
	p.LeaderEpoch = c.LeaderEpoch
	p.ISR = cloneIDs(c.ISR)
	p.PartitionEpoch++
	nt := cloneTopic(t)
	nt.Partitions[c.Partition] = p
	return withTopic(s, nt), nil
}

// checkNewReplicas requires next to be a non-empty list of distinct
// brokers, each registered unless it is in cur already (a replica keeps
// its place while its broker is away).
func checkNewReplicas(s *State, cur, next []int32) error {
	if len(next) == 0 || len(next) > replicasMax {
		return fmt.Errorf("%w: %d replicas", ErrInvalidReplicas, len(next))
	}
	for i, id := range next {
		if _, ok := s.Brokers[id]; !ok && !slices.Contains(cur, id) {
			return fmt.Errorf("%w: broker %d is not registered", ErrInvalidReplicas, id)
		}
		if slices.Contains(next[:i], id) {
			return fmt.Errorf("%w: broker %d listed twice", ErrInvalidReplicas, id)
		}
	}
	return nil
}

// checkReassignment requires adding and removing to be distinct, disjoint
// members of replicas, with at least one replica that is not being
// removed.
func checkReassignment(replicas, adding, removing []int32) error {
	for _, set := range []struct {
		name string
		ids  []int32
	}{{"adding", adding}, {"removing", removing}} {
		for i, id := range set.ids {
			if !slices.Contains(replicas, id) || slices.Contains(set.ids[:i], id) {
				return fmt.Errorf("%w: %s replicas %v are not distinct members of the replicas %v", ErrInvalidReplicas, set.name, set.ids, replicas)
			}
		}
	}
	for _, id := range adding {
		if slices.Contains(removing, id) {
			return fmt.Errorf("%w: replica %d is both added and removed", ErrInvalidReplicas, id)
		}
	}
	if len(removing) >= len(replicas) {
		return fmt.Errorf("%w: every replica of %v is being removed", ErrInvalidReplicas, replicas)
	}
	return nil
}

// Reassigning reports whether a reassignment of p is in progress.
func (p Partition) Reassigning() bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// TargetReplicas returns the replicas p has once its reassignment (if any)
// completes: Replicas without RemovingReplicas, in order.
func (p Partition) TargetReplicas() []int32 {
	return without(p.Replicas, p.RemovingReplicas)
}

// OriginalReplicas returns the replicas p had before its reassignment (if
// any) started: Replicas without AddingReplicas, in order (the target
// replicas first, as the reassignment put them, then the removed ones).
func (p Partition) OriginalReplicas() []int32 {
	return without(p.Replicas, p.AddingReplicas)
}

// without returns the members of ids not in drop, in order.
func without(ids, drop []int32) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(drop, id) {
			out = append(out, id)
		}
	}
	return out
}
