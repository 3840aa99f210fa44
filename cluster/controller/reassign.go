package controller

import (
	"cmp"
	"slices"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Reassign answers one partition of an AlterPartitionReassignments request
// as KRaft's ReplicationControlManager does: target is the new replica
// list, preferred leader first, or nil to cancel the reassignment in
// progress. It returns the command that starts (or cancels) it, or changed
// false when the partition already has that assignment.
//
// The reassignment is computed from the partition's original replicas O
// (before any reassignment in progress, which the new one replaces):
// Replicas becomes target followed by O-target, AddingReplicas
// target-O, RemovingReplicas O-target; a target that is O reordered
// takes effect at once. The ISR keeps only members of the new replicas; a
// leader that is no longer a replica hands over to the first eligible ISR
// member, with a new leader epoch, as does any command that takes a
// broker out of the replicas (a cancel removes the added ones).
// CompleteReassignments finishes the move once every target is in sync.
//
// Errors are *Error: UNKNOWN_TOPIC_OR_PARTITION; INVALID_REPLICA_ASSIGNMENT
// for an empty target, a repeated or unregistered broker, or a change that
// would leave no in-sync replica, or none eligible to lead;
// INVALID_REPLICATION_FACTOR when allowRFChange is false (KIP-860) and
// the target's size differs; NO_REASSIGNMENT_IN_PROGRESS for a cancel
// with nothing to cancel. Target brokers may be fenced: they join once
// they are back, as in Kafka.
func Reassign(st *cluster.State, brokers []BrokerInfo, topic string, index int32, target []int32, allowRFChange bool) (cluster.ReassignPartition, bool, error) {
	_, p, err := partition(st, topic, index)
	if err != nil {
		return cluster.ReassignPartition{}, false, err
	}
	orig := p.OriginalReplicas()
	if target == nil {
		if !p.Reassigning() {
			return cluster.ReassignPartition{}, false, errorf(kerr.NoReassignmentInProgress, "no reassignment of %s-%d is in progress", topic, index)
		}
		target = orig
	} else if err := checkTarget(st, target, len(orig), allowRFChange); err != nil {
		return cluster.ReassignPartition{}, false, err
	}
	return reassignTo(topic, p, indexBrokers(brokers), target)
}

// checkTarget validates a requested replica list with Kafka's messages.
func checkTarget(st *cluster.State, target []int32, origRF int, allowRFChange bool) error {
	if len(target) == 0 {
		return errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
	}
	for i, id := range target {
		if slices.Contains(target[:i], id) {
			return errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes the broker %d more than once.", id)
		}
		if _, ok := st.Brokers[id]; !ok {
			return errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes broker %d, but no such broker is registered.", id)
		}
	}
	if !allowRFChange && len(target) != origRF {
		return errorf(kerr.InvalidReplicationFactor, "The replication factor is changed from %d to %d but AllowReplicationFactorChange is false.", origRF, len(target))
	}
	return nil
}

// reassignTo builds the command that moves p towards target.
func reassignTo(topic string, p cluster.Partition, idx brokerIndex, target []int32) (cluster.ReassignPartition, bool, error) {
	orig := p.OriginalReplicas()
	adding := minus(target, orig)
	removing := minus(orig, target)
	replicas := append(slices.Clone(target), removing...)
	isr := keep(p.ISR, func(id int32) bool { return slices.Contains(replicas, id) })
	if len(isr) == 0 {
		return cluster.ReassignPartition{}, false, errorf(kerr.InvalidReplicaAssignment,
			"no in-sync replica of %s-%d (ISR %v) would remain among the replicas %v", topic, p.Index, p.ISR, replicas)
	}
	leader := p.Leader
	if leader >= 0 && !slices.Contains(isr, leader) {
		if leader = firstEligible(replicas, isr, idx); leader < 0 {
			return cluster.ReassignPartition{}, false, errorf(kerr.InvalidReplicaAssignment,
				"no eligible in-sync replica of %s-%d could take over from leader %d", topic, p.Index, p.Leader)
		}
	}
	if slices.Equal(replicas, p.Replicas) && slices.Equal(adding, p.AddingReplicas) && slices.Equal(removing, p.RemovingReplicas) {
		return cluster.ReassignPartition{}, false, nil
	}
	return partitionChange(topic, p, replicas, adding, removing, leader, isr), true, nil
}

// partitionChange is the command that gives p these replicas, leader and
// ISR, bumping the leader epoch when the leader changes or a replica is
// removed (KRaft's PartitionChangeBuilder).
func partitionChange(topic string, p cluster.Partition, replicas, adding, removing []int32, leader int32, isr []int32) cluster.ReassignPartition {
	epoch := p.LeaderEpoch
	if leader != p.Leader || len(minus(p.Replicas, replicas)) > 0 {
		epoch++
	}
	return cluster.ReassignPartition{
		Topic: topic, Partition: p.Index,
		Replicas: replicas, AddingReplicas: nilIfEmpty(adding), RemovingReplicas: nilIfEmpty(removing),
		Leader: leader, LeaderEpoch: epoch, ISR: slices.Clone(isr),
		ExpectedPartitionEpoch: p.PartitionEpoch,
	}
}

// CompleteReassignments returns, in topic name and partition order, the
// commands that finish the reassignments whose target replicas are all in
// the ISR (KRaft's completeReassignmentIfNeeded): the replicas become the
// targets, the removed ones leave the ISR, and a leader that is removed
// (or not eligible) hands over to the first eligible target in the ISR. A
// reassignment with no such target waits. The leader epoch is bumped when
// a replica is removed or the leader changes.
func CompleteReassignments(st *cluster.State, brokers []BrokerInfo) []cluster.ReassignPartition {
	idx := indexBrokers(brokers)
	var out []cluster.ReassignPartition
	for _, name := range st.SortedTopicNames() {
		for _, p := range st.Topics[name].Partitions {
			if cmd, ok := completeReassignment(name, p, idx); ok {
				out = append(out, cmd)
			}
		}
	}
	return out
}

func completeReassignment(topic string, p cluster.Partition, idx brokerIndex) (cluster.ReassignPartition, bool) {
	if !p.Reassigning() {
		return cluster.ReassignPartition{}, false
	}
	target := p.TargetReplicas()
	for _, id := range target {
		if !slices.Contains(p.ISR, id) {
			return cluster.ReassignPartition{}, false
		}
	}
	isr := keep(p.ISR, func(id int32) bool { return slices.Contains(target, id) })
	leader := p.Leader
	if !slices.Contains(target, leader) || !idx.eligible(leader) {
		if leader = firstEligible(target, isr, idx); leader < 0 {
			return cluster.ReassignPartition{}, false
		}
	}
	return partitionChange(topic, p, target, nil, nil, leader, isr), true
}

// RaiseReplication returns the reassignments that give each partition of
// topic with fewer than rf replicas, and no reassignment in progress, up to
// rf: the ones the controller makes for internal topics created while the
// cluster was smaller. New replicas go to eligible brokers, racks the
// partition does not use yet first, then the brokers with the fewest
// replicas (counting the ones planned here), then the lowest ID. At most
// limit commands, in partition order.
func RaiseReplication(st *cluster.State, brokers []BrokerInfo, topic string, rf, limit int) []cluster.ReassignPartition {
	t, ok := st.Topic(topic)
	if !ok {
		return nil
	}
	idx := indexBrokers(brokers)
	load := replicaLoad(st)
	var out []cluster.ReassignPartition
	for _, p := range t.Partitions {
		if len(out) >= limit {
			break
		}
		if p.Reassigning() || len(p.Replicas) >= rf {
			continue
		}
		target := slices.Clone(p.Replicas)
		for len(target) < rf {
			id := leastLoaded(brokers, target, idx, load)
			if id < 0 {
				break
			}
			target = append(target, id)
			load[id]++
		}
		if len(target) == len(p.Replicas) {
			continue
		}
		if cmd, changed, err := reassignTo(topic, p, idx, target); err == nil && changed {
			out = append(out, cmd)
		}
	}
	return out
}

// replicaLoad counts the replicas each broker holds.
func replicaLoad(st *cluster.State) map[int32]int {
	load := map[int32]int{}
	for _, t := range st.Topics { // sums only: the order does not matter
		for _, p := range t.Partitions {
			for _, id := range p.Replicas {
				load[id]++
			}
		}
	}
	return load
}

// leastLoaded picks the eligible broker outside replicas for one more
// replica: an unused rack first, then the fewest replicas, then the lowest
// ID; -1 if there is none.
func leastLoaded(brokers []BrokerInfo, replicas []int32, idx brokerIndex, load map[int32]int) int32 {
	usedRack := func(rack string) bool {
		return slices.ContainsFunc(replicas, func(id int32) bool { return idx[id].Rack == rack })
	}
	var best *BrokerInfo
	for i := range brokers {
		b := &brokers[i]
		if !b.eligible() || slices.Contains(replicas, b.ID) {
			continue
		}
		if best == nil || cmp.Or(
			compareBool(!usedRack(b.Rack), !usedRack(best.Rack)),
			cmp.Compare(load[best.ID], load[b.ID]),
			cmp.Compare(best.ID, b.ID)) > 0 {
			best = b
		}
	}
	if best == nil {
		return -1
	}
	return best.ID
}

// compareBool orders true after false.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// minus returns the members of a not in b, in order.
func minus(a, b []int32) []int32 {
	return keep(a, func(id int32) bool { return !slices.Contains(b, id) })
}

func nilIfEmpty(ids []int32) []int32 {
	if len(ids) == 0 {
		return nil
	}
	return ids
}
