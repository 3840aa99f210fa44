package controller

import (
	"fmt"
	"slices"
	"testing"

	"github.com/jocko/jocko/cluster"
	"pgregory.net/rapid"
)

// world is a drawn cluster: a metadata state the FSM reached, the brokers'
// health, and the unclean policy.
type world struct {
	st      *cluster.State
	brokers []BrokerInfo
	policy  Policy
}

// drawWorld draws up to 6 registered brokers, up to 3 topics of up to 4
// partitions with any replicas, ISR (possibly empty) and leader, reached
// through the FSM; each broker alive, fenced, shutting down or unknown to
// the controller.
func drawWorld(t *rapid.T) world {
	n := rapid.IntRange(1, 6).Draw(t, "brokers")
	topics := map[string][]part{}
	for ti := range rapid.IntRange(1, 3).Draw(t, "topics") {
		var parts []part
		for range rapid.IntRange(1, 4).Draw(t, "partitions") {
			all := make([]int32, n)
			for i := range all {
				all[i] = int32(i + 1)
			}
			perm := rapid.Permutation(all).Draw(t, "order")
			reps := perm[:rapid.IntRange(1, n).Draw(t, "rf")]
			var isr []int32
			for _, id := range reps {
				if rapid.IntRange(0, 3).Draw(t, "inISR") > 0 {
					isr = append(isr, id)
				}
			}
			isr = rapid.Permutation(isr).Draw(t, "isrOrder")
			leader := int32(-1)
			if len(isr) > 0 && rapid.IntRange(0, 4).Draw(t, "led") > 0 {
				leader = rapid.SampledFrom(isr).Draw(t, "leader")
			}
			if isr == nil {
				isr = []int32{} // newState: nil means untouched
			}
			parts = append(parts, part{reps, isr, leader})
		}
		topics[fmt.Sprint("t", ti)] = parts
	}
	st := newState(t, n, topics)
	for name := range topics {
		if v := rapid.SampledFrom([]string{"", "true", "false", "True"}).Draw(t, "unclean"); v != "" {
			next, err := cluster.ApplyCommand(st, st.AppliedIndex+1, cluster.AlterTopicConfigs{Topic: name, Set: map[string]string{uncleanConfig: v}})
			if err != nil {
				t.Fatal(err)
			}
			st = next
		}
	}
	var brokers []BrokerInfo
	for id := int32(1); id <= int32(n); id++ {
		switch rapid.IntRange(0, 5).Draw(t, "health") {
		case 0: // unknown to the controller
		case 1:
			brokers = append(brokers, BrokerInfo{ID: id, Fenced: true})
		case 2:
			brokers = append(brokers, BrokerInfo{ID: id, ShuttingDown: true})
		default:
			brokers = append(brokers, BrokerInfo{ID: id})
		}
	}
	return world{st, brokers, Policy{UncleanLeaderElection: rapid.Bool().Draw(t, "uncleanDefault")}}
}

// Failover never elects a dead broker, never leaves the ISR unless unclean
// election is allowed, bumps the leader epoch exactly on a leader change,
// keeps a healthy leader, gives a leader whenever an ISR member can lead,
// and its commands apply to the FSM and reach a fixed point.
func TestFailoverProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		idx := indexBrokers(w.brokers)
		cmds := Failover(w.st, w.brokers, w.policy)
		after := applyAll(t, w.st, cmds)
		seen := map[string]bool{}
		for _, c := range cmds {
			key := fmt.Sprint(c.Topic, "-", c.Partition)
			if seen[key] {
				t.Fatalf("two commands for %s", key)
			}
			seen[key] = true
		}
		for _, name := range w.st.SortedTopicNames() {
			unclean := UncleanAllowed(w.st, w.st.Topics[name], w.policy.UncleanLeaderElection)
			for i, p := range w.st.Topics[name].Partitions {
				q := after.Topics[name].Partitions[i]
				checkFailover(t, p, q, idx, unclean)
				if changed := q.PartitionEpoch != p.PartitionEpoch; changed != seen[fmt.Sprint(name, "-", i)] {
					t.Fatalf("%s-%d: partition epoch %d -> %d without a command", name, i, p.PartitionEpoch, q.PartitionEpoch)
				}
			}
		}
		if again := Failover(after, w.brokers, w.policy); len(again) != 0 {
			t.Fatalf("not a fixed point: %+v", again)
		}
		shuffled := rapid.Permutation(w.brokers).Draw(t, "shuffled")
		if fmt.Sprint(Failover(w.st, shuffled, w.policy)) != fmt.Sprint(cmds) {
			t.Fatal("the order of the brokers changed the commands")
		}
	})
}

// checkFailover compares one partition before (p) and after (q).
func checkFailover(t *rapid.T, p, q cluster.Partition, idx brokerIndex, unclean bool) {
	liveISR := keep(p.ISR, idx.eligible)
	if q.Leader != -1 && !idx.eligible(q.Leader) {
		t.Fatalf("%+v -> %+v: leader %d is not eligible", p, q, q.Leader)
	}
	if (q.Leader != p.Leader) != (q.LeaderEpoch == p.LeaderEpoch+1) || q.LeaderEpoch < p.LeaderEpoch || q.LeaderEpoch > p.LeaderEpoch+1 {
		t.Fatalf("%+v -> %+v: leader epoch", p, q)
	}
	if p.Leader != -1 && slices.Contains(liveISR, p.Leader) && q.Leader != p.Leader {
		t.Fatalf("%+v -> %+v: a healthy leader was replaced", p, q)
	}
	switch {
	case len(liveISR) > 0:
		if q.Leader == -1 || !slices.Equal(q.ISR, liveISR) {
			t.Fatalf("%+v -> %+v: want a leader from ISR %v", p, q, liveISR)
		}
		if p.Leader == -1 || !slices.Contains(liveISR, p.Leader) {
			for _, id := range p.Replicas { // the first in replica order
				if slices.Contains(liveISR, id) {
					if q.Leader != id {
						t.Fatalf("%+v -> %+v: want leader %d, first in replica order", p, q, id)
					}
					break
				}
			}
		}
	case q.Leader != -1:
		if !unclean || slices.Contains(p.ISR, q.Leader) || !slices.Equal(q.ISR, []int32{q.Leader}) {
			t.Fatalf("%+v -> %+v: leader outside the ISR (unclean allowed: %v)", p, q, unclean)
		}
	default:
		if !slices.Equal(q.ISR, p.ISR) {
			t.Fatalf("%+v -> %+v: offline partition's ISR changed", p, q)
		}
		if unclean && slices.ContainsFunc(p.Replicas, idx.eligible) {
			t.Fatalf("%+v -> %+v: unclean allowed and a replica is eligible, but no leader", p, q)
		}
	}
}

// Preferred elections (auto rebalance and ElectLeaders PREFERRED) move
// leadership to an eligible ISR member, the first replica, in the next
// epoch, and the commands apply.
func TestPreferredElectionProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		idx := indexBrokers(w.brokers)
		percent := rapid.IntRange(0, 100).Draw(t, "percent")
		cmds := AutoRebalance(w.st, w.brokers, percent)
		after := applyAll(t, w.st, cmds)
		over := map[int32]bool{}
		for _, b := range LeaderImbalance(w.st) {
			over[b.Broker] = b.Exceeds(percent)
		}
		for _, name := range w.st.SortedTopicNames() {
			for i, p := range w.st.Topics[name].Partitions {
				q := after.Topics[name].Partitions[i]
				pref := p.Replicas[0]
				movable := p.Leader != pref && idx.eligible(pref) && slices.Contains(p.ISR, pref)
				moved := q.Leader != p.Leader
				if moved != (movable && over[pref]) {
					t.Fatalf("%s-%d %+v -> %+v: moved %v, movable %v, broker over %d%%: %v", name, i, p, q, moved, movable, percent, over[pref])
				}
				if moved && (q.Leader != pref || q.LeaderEpoch != p.LeaderEpoch+1 || !slices.Equal(q.ISR, p.ISR)) {
					t.Fatalf("%s-%d %+v -> %+v", name, i, p, q)
				}
				cmd, err := ElectLeader(w.st, w.brokers, Preferred, name, int32(i))
				if (err == nil) != movable {
					t.Fatalf("%s-%d %+v: ElectLeader %+v, %v; movable %v", name, i, p, cmd, err, movable)
				}
				if err == nil {
					applyAll(t, w.st, []cluster.UpdatePartition{cmd})
				}
			}
		}
	})
}
