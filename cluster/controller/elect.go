package controller

import (
	"slices"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Failover returns the UpdatePartition commands that keep every partition
// led by an eligible broker (registered, not fenced, not shutting down),
// in topic name and partition order. For each partition, as KRaft's
// PartitionChangeBuilder does with an ONLINE election:
//
//   - ineligible brokers leave the ISR, unless none would remain: then the
//     ISR stays as it is (there is no ELR, KIP-966);
//   - an eligible leader that is still in the ISR keeps leading;
//   - otherwise the first replica, in replica order, that is in the ISR and
//     eligible leads;
//   - if there is none and unclean election is allowed for the topic
//     (UncleanAllowed with policy's default), the first eligible replica
//     leads and the ISR becomes just it; this may lose acknowledged data;
//   - otherwise the leader is -1 until an ISR member is eligible again.
//
// A leader change bumps the leader epoch; each command expects the
// partition epoch it was computed from. Applying the commands gives a
// state on which Failover returns nothing.
func Failover(st *cluster.State, brokers []BrokerInfo, policy Policy) []cluster.UpdatePartition {
	idx := indexBrokers(brokers)
	var out []cluster.UpdatePartition
	for _, name := range st.SortedTopicNames() {
		t := st.Topics[name]
		unclean := UncleanAllowed(st, t, policy.UncleanLeaderElection)
		for _, p := range t.Partitions {
			if cmd, ok := failover(t.Name, p, idx, unclean); ok {
				out = append(out, cmd)
			}
		}
	}
	return out
}

func failover(topic string, p cluster.Partition, idx brokerIndex, unclean bool) (cluster.UpdatePartition, bool) {
	isr := keep(p.ISR, idx.eligible)
	if len(isr) == 0 {
		isr = p.ISR
	}
	leader := p.Leader
	if leader < 0 || !idx.eligible(leader) || !slices.Contains(isr, leader) {
		leader = firstEligible(p.Replicas, isr, idx)
	}
	if leader < 0 && unclean {
		if leader = firstEligible(p.Replicas, p.Replicas, idx); leader >= 0 {
			isr = []int32{leader}
		}
	}
	return update(topic, p, leader, isr)
}

// firstEligible returns the first of replicas that is eligible and in in,
// or -1.
func firstEligible(replicas, in []int32, idx brokerIndex) int32 {
	for _, id := range replicas {
		if idx.eligible(id) && slices.Contains(in, id) {
			return id
		}
	}
	return -1
}

// keep returns the members of ids for which ok holds, in order.
func keep(ids []int32, ok func(int32) bool) []int32 {
	var out []int32
	for _, id := range ids {
		if ok(id) {
			out = append(out, id)
		}
	}
	return out
}

// ElectionType is the kind of election ElectLeaders asks for; the values are
// Kafka's.
type ElectionType int8

const (
	// Preferred moves leadership to the first replica.
	Preferred ElectionType = 0
	// Unclean gives a leaderless partition a leader, from outside the ISR
	// if it must, whatever unclean.leader.election.enable says.
	Unclean ElectionType = 1
)

// ElectLeader answers one partition of an ElectLeaders request as KRaft's
// ReplicationControlManager.electLeader does. Preferred: the first replica
// leads if it is eligible and in the ISR (ELECTION_NOT_NEEDED if it leads
// already, PREFERRED_LEADER_NOT_AVAILABLE if it cannot). Unclean:
// ELECTION_NOT_NEEDED if the partition has a leader; else the first eligible
// ISR member in replica order leads, else the first eligible replica with an
// ISR of just itself, else ELIGIBLE_LEADERS_NOT_AVAILABLE. The ISR is not
// otherwise changed. UNKNOWN_TOPIC_OR_PARTITION for a partition that does
// not exist; errors are *Error.
func ElectLeader(st *cluster.State, brokers []BrokerInfo, typ ElectionType, topic string, index int32) (cluster.UpdatePartition, error) {
	_, p, err := partition(st, topic, index)
	if err != nil {
		return cluster.UpdatePartition{}, err
	}
	idx := indexBrokers(brokers)
	switch typ {
	case Preferred:
		preferred := p.Replicas[0]
		if p.Leader == preferred {
			return cluster.UpdatePartition{}, errorf(kerr.ElectionNotNeeded, "%s-%d is led by its preferred replica %d", topic, index, preferred)
		}
		if !idx.eligible(preferred) || !slices.Contains(p.ISR, preferred) {
			return cluster.UpdatePartition{}, errorf(kerr.PreferredLeaderNotAvailable, "preferred replica %d of %s-%d is not an eligible ISR member", preferred, topic, index)
		}
		cmd, _ := update(topic, p, preferred, p.ISR)
		return cmd, nil
	case Unclean:
		if p.Leader >= 0 {
			return cluster.UpdatePartition{}, errorf(kerr.ElectionNotNeeded, "%s-%d is led by %d", topic, index, p.Leader)
		}
		isr := p.ISR
		leader := firstEligible(p.Replicas, isr, idx)
		if leader < 0 {
			leader = firstEligible(p.Replicas, p.Replicas, idx)
			if leader < 0 {
				return cluster.UpdatePartition{}, errorf(kerr.EligibleLeadersNotAvailable, "no replica of %s-%d is eligible to lead", topic, index)
			}
			isr = []int32{leader}
		}
		cmd, _ := update(topic, p, leader, isr)
		return cmd, nil
	}
	return cluster.UpdatePartition{}, errorf(kerr.InvalidRequest, "unknown election type %d", typ)
}

// ShutdownComplete reports whether broker id, in controlled shutdown, may
// exit: it leads no partition (Failover has moved its leadership away and
// the commands are committed).
func ShutdownComplete(st *cluster.State, id int32) bool {
	for _, t := range st.Topics { // the answer does not depend on the order
		for _, p := range t.Partitions {
			if p.Leader == id {
				return false
			}
		}
	}
	return true
}

// DropFromISRs returns the commands that take broker id out of every ISR
// it is in, except where it is the last member (its data is gone there
// anyway, and an empty ISR is not allowed): what a broker whose data
// directory was lost must go through before it is unfenced. Leadership
// must already have moved (Failover with the broker fenced); a partition it
// still leads is left alone.
func DropFromISRs(st *cluster.State, id int32) []cluster.UpdatePartition {
	var out []cluster.UpdatePartition
	for _, name := range st.SortedTopicNames() {
		for _, p := range st.Topics[name].Partitions {
			if p.Leader == id || len(p.ISR) < 2 || !slices.Contains(p.ISR, id) {
				continue
			}
			isr := slices.DeleteFunc(slices.Clone(p.ISR), func(x int32) bool { return x == id })
			if cmd, ok := update(name, p, p.Leader, isr); ok {
				out = append(out, cmd)
			}
		}
	}
	return out
}
