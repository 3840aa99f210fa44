package controller

import (
	"cmp"
	"slices"

	"github.com/jocko/jocko/cluster"
)

// ImbalancePercentDefault is Kafka's leader.imbalance.per.broker.percentage.
const ImbalancePercentDefault = 10

// BrokerImbalance is how far one broker is from leading the partitions it
// is the preferred leader (first replica) of.
type BrokerImbalance struct {
	Broker     int32
	Preferred  int // partitions whose first replica is Broker
	NotLeading int // of those, the ones Broker does not lead
}

// Exceeds reports whether NotLeading/Preferred is above percent/100, Kafka's
// leader.imbalance.per.broker.percentage test.
func (b BrokerImbalance) Exceeds(percent int) bool {
	return b.NotLeading*100 > percent*b.Preferred
}

// LeaderImbalance returns the imbalance of every broker that is the
// preferred leader of some partition, by broker ID.
func LeaderImbalance(st *cluster.State) []BrokerImbalance {
	counts := map[int32]*BrokerImbalance{}
	for _, t := range st.Topics { // only sums; the output is sorted below
		for _, p := range t.Partitions {
			id := p.Replicas[0]
			b := counts[id]
			if b == nil {
				b = &BrokerImbalance{Broker: id}
				counts[id] = b
			}
			b.Preferred++
			if p.Leader != id {
				b.NotLeading++
			}
		}
	}
	out := make([]BrokerImbalance, 0, len(counts))
	for _, b := range counts {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b BrokerImbalance) int { return cmp.Compare(a.Broker, b.Broker) })
	return out
}

// AutoRebalance is Kafka's auto.leader.rebalance.enable check (the
// ZooKeeper controller's checkAndTriggerAutoLeaderRebalance): for each
// broker whose imbalance exceeds percent, every partition it prefers but
// does not lead goes back to it, if it is eligible and in the ISR. Commands
// come in topic name and partition order, each bumping the leader epoch.
func AutoRebalance(st *cluster.State, brokers []BrokerInfo, percent int) []cluster.UpdatePartition {
	over := map[int32]bool{}
	for _, b := range LeaderImbalance(st) {
		if b.Exceeds(percent) {
			over[b.Broker] = true
		}
	}
	if len(over) == 0 {
		return nil
	}
	idx := indexBrokers(brokers)
	var out []cluster.UpdatePartition
	for _, name := range st.SortedTopicNames() {
		for _, p := range st.Topics[name].Partitions {
			preferred := p.Replicas[0]
			if !over[preferred] || p.Leader == preferred || !idx.eligible(preferred) || !slices.Contains(p.ISR, preferred) {
				continue
			}
			cmd, _ := update(name, p, preferred, p.ISR)
			out = append(out, cmd)
		}
	}
	return out
}
