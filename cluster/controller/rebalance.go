package controller

import (
	"cmp"
	"slices"
)

// Assignment is one partition's replica list, preferred leader first.
type Assignment struct {
	Topic     string
	Partition int32
	Replicas  []int32
}

// Rebalance plans `jocko cluster rebalance`: new replica lists for the
// partitions that must change so that replicas, then preferred leaders,
// are spread evenly over the eligible brokers (no two differ by more than
// one where the racks allow it), moving as few replicas as it can. It
// returns the changed partitions in the order given; partitions on
// ineligible brokers keep those replicas (moving them off is a
// decommission, not a rebalance).
//
// Replicas: while the most loaded eligible broker holds at least two more
// replicas than the least loaded one, a replica moves from the first to
// the second in the first partition where that keeps the partition's
// racks as spread as they were (the next pair of brokers is tried when no
// partition allows it). Preferred leaders: likewise, a partition led by
// the broker preferred most often gets another of its replicas, preferred
// least often, as its first replica. Every step lowers the sum of squared
// counts, so the plan ends; it depends only on the inputs' order.
func Rebalance(brokers []BrokerInfo, parts []Assignment) []Assignment {
	var ids []int32
	rack := map[int32]string{}
	for _, b := range brokers {
		rack[b.ID] = b.Rack
		if b.eligible() && !slices.Contains(ids, b.ID) {
			ids = append(ids, b.ID)
		}
	}
	slices.Sort(ids)
	if len(ids) < 2 {
		return nil
	}
	work := make([][]int32, len(parts))
	for i, p := range parts {
		work[i] = slices.Clone(p.Replicas)
	}
	spreadReplicas(ids, rack, work)
	spreadLeaders(ids, work)
	var out []Assignment
	for i, p := range parts {
		if !slices.Equal(work[i], p.Replicas) {
			out = append(out, Assignment{Topic: p.Topic, Partition: p.Partition, Replicas: work[i]})
		}
	}
	return out
}

// spreadReplicas moves replicas between the brokers ids until their
// replica counts differ by at most one, or no move keeps the racks spread.
func spreadReplicas(ids []int32, rack map[int32]string, work [][]int32) {
	count := func(id int32) int {
		n := 0
		for _, reps := range work {
			if slices.Contains(reps, id) {
				n++
			}
		}
		return n
	}
	movable := func(reps []int32, from, to int32) bool {
		if slices.Contains(reps, to) {
			return false
		}
		moved := slices.Clone(reps)
		moved[slices.Index(moved, from)] = to
		return rackSpread(moved, rack) >= rackSpread(reps, rack)
	}
	for step := 0; step < len(work)*len(ids); step++ {
		i, from, to := bestMove(ids, count, work, movable)
		if i < 0 {
			return
		}
		work[i][slices.Index(work[i], from)] = to
	}
}

// spreadLeaders reorders replica lists until the brokers' preferred
// leadership counts differ by at most one, or no reorder helps.
func spreadLeaders(ids []int32, work [][]int32) {
	count := func(id int32) int {
		n := 0
		for _, reps := range work {
			if len(reps) > 0 && reps[0] == id {
				n++
			}
		}
		return n
	}
	movable := func(reps []int32, from, to int32) bool {
		return len(reps) > 0 && reps[0] == from && slices.Contains(reps, to)
	}
	for step := 0; step < len(work)*len(ids); step++ {
		i, from, to := bestMove(ids, count, work, movable)
		if i < 0 {
			return
		}
		j := slices.Index(work[i], to)
		work[i][0], work[i][j] = to, from
	}
}

// bestMove finds the partition and pair of brokers for the next step: the
// pair with the widest gap in count (at least two), the first partition
// where movable allows it; -1 when there is none.
func bestMove(ids []int32, count func(int32) int, work [][]int32, movable func(reps []int32, from, to int32) bool) (int, int32, int32) {
	type load struct {
		id int32
		n  int
	}
	loads := make([]load, len(ids))
	for i, id := range ids {
		loads[i] = load{id, count(id)}
	}
	slices.SortStableFunc(loads, func(a, b load) int { return cmp.Compare(b.n, a.n) }) // most loaded first
	for _, hi := range loads {
		for k := len(loads) - 1; k >= 0; k-- { // least loaded first
			lo := loads[k]
			if hi.n-lo.n < 2 {
				break
			}
			// A follower replica first: moving a preferred leader
			// (the first replica) would unbalance leadership, which a
			// partition with one replica cannot give back.
			for _, leader := range []bool{false, true} {
				for i, reps := range work {
					if slices.Contains(reps, hi.id) && (reps[0] == hi.id) == leader && movable(reps, hi.id, lo.id) {
						return i, hi.id, lo.id
					}
				}
			}
		}
	}
	return -1, 0, 0
}

// rackSpread counts the distinct racks of replicas.
func rackSpread(replicas []int32, rack map[int32]string) int {
	var seen []string
	for _, id := range replicas {
		if r := rack[id]; !slices.Contains(seen, r) {
			seen = append(seen, r)
		}
	}
	return len(seen)
}
