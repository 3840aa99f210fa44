package controller

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Place chooses the replicas of partitions new partitions, rf each,
// preferred leader first, for CreateTopics (existing nil) or
// CreatePartitions (existing: the replicas of the topic's partitions so
// far, in partition order).
//
// Only brokers that are neither fenced nor shutting down get replicas.
// They are put in Kafka's rack-alternated order (racks by name, IDs
// ascending within a rack, taking one broker from each rack in turn), and
// each partition is placed greedily:
//
//   - the leader is the broker that is preferred leader of the fewest
//     partitions, then holds the fewest replicas, then comes first in the
//     rotation that starts at position startIndex+p (p counts existing
//     partitions too);
//   - each follower comes from a rack that holds the fewest of this
//     partition's replicas (so every rack gets one before any gets a
//     second), then is the broker with the fewest replicas, then the next
//     after the leader in the rotation.
//
// Counts include existing, so CreatePartitions evens out what was there,
// and placing n partitions and then m more gives what placing n+m at once
// gives. From a balanced start (no existing partitions, or ones Place laid
// out on the same brokers) preferred leaders per broker differ by at most
// one whatever the racks, and, without racks or with racks of equal size,
// replicas per broker by at most two. Racks of unequal size keep the rack
// rule first: a small rack's brokers carry more replicas, as in Kafka.
// startIndex varies the layout between topics (draw it from the seeded
// source, as Kafka draws a random one); the result depends only on the
// arguments, not on the order of brokers.
//
// Errors are *Error: INVALID_PARTITIONS when partitions < 1,
// INVALID_REPLICATION_FACTOR (with Kafka's message) when rf < 1 or rf is
// above the number of usable brokers, INVALID_REQUEST when an ID repeats.
func Place(brokers []BrokerInfo, partitions, rf, startIndex int, existing [][]int32) ([][]int32, error) {
	if partitions < 1 {
		return nil, errorf(kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value %d.", partitions)
	}
	order, err := placementOrder(brokers)
	if err != nil {
		return nil, err
	}
	if err := checkReplicationFactor(rf, len(brokers), len(order)); err != nil {
		return nil, err
	}
	pl := newPlacer(order, existing)
	out := make([][]int32, partitions)
	for i := range out {
		out[i] = pl.place(startIndex+len(existing)+i, rf)
	}
	return out, nil
}

// checkReplicationFactor applies Kafka's checks and messages
// (StripedReplicaPlacer, prefixed as ReplicationControlManager does).
func checkReplicationFactor(rf, registered, usable int) error {
	why := ""
	switch {
	case rf < 1:
		why = fmt.Sprintf("Invalid replication factor %d: the replication factor must be positive.", rf)
	case rf > registered:
		why = fmt.Sprintf("The target replication factor of %d cannot be reached because only %d broker(s) are registered.", rf, registered)
	case usable == 0:
		why = "All brokers are currently fenced."
	case rf > usable:
		why = fmt.Sprintf("The target replication factor of %d cannot be reached because only %d of the %d registered broker(s) are unfenced and not shutting down.", rf, usable, registered)
	default:
		return nil
	}
	return errorf(kerr.InvalidReplicationFactor, "Unable to replicate the partition %d time(s): %s", rf, why)
}

// placementOrder returns the usable brokers in rack-alternated order.
func placementOrder(brokers []BrokerInfo) ([]BrokerInfo, error) {
	usable := make([]BrokerInfo, 0, len(brokers))
	seen := make(map[int32]bool, len(brokers))
	for _, b := range brokers {
		if seen[b.ID] {
			return nil, errorf(kerr.InvalidRequest, "broker %d is listed twice", b.ID)
		}
		seen[b.ID] = true
		if b.eligible() {
			usable = append(usable, b)
		}
	}
	sort.Slice(usable, func(i, j int) bool {
		if usable[i].Rack != usable[j].Rack {
			return usable[i].Rack < usable[j].Rack
		}
		return usable[i].ID < usable[j].ID
	})
	var racks [][]BrokerInfo
	for i, b := range usable {
		if i == 0 || b.Rack != usable[i-1].Rack {
			racks = append(racks, nil)
		}
		racks[len(racks)-1] = append(racks[len(racks)-1], b)
	}
	order := make([]BrokerInfo, 0, len(usable))
	for i := 0; len(order) < len(usable); i++ {
		for _, r := range racks {
			if i < len(r) {
				order = append(order, r[i])
			}
		}
	}
	return order, nil
}

// placer holds the load of each broker of the rotation while partitions are
// placed one by one.
type placer struct {
	ids      []int32
	rack     []int // rack number of each position
	racks    int
	leaders  []int // partitions each position is preferred leader of
	replicas []int // replicas each position holds
	used     []bool
	perRack  []int
}

func newPlacer(order []BrokerInfo, existing [][]int32) *placer {
	n := len(order)
	pl := &placer{ids: make([]int32, n), rack: make([]int, n), leaders: make([]int, n), replicas: make([]int, n), used: make([]bool, n)}
	pos := make(map[int32]int, n)
	rackNum := map[string]int{}
	for i, b := range order {
		pl.ids[i] = b.ID
		pos[b.ID] = i
		if _, ok := rackNum[b.Rack]; !ok {
			rackNum[b.Rack] = len(rackNum)
		}
		pl.rack[i] = rackNum[b.Rack]
	}
	pl.racks = len(rackNum)
	pl.perRack = make([]int, pl.racks)
	for _, reps := range existing {
		for j, id := range reps {
			i, ok := pos[id]
			if !ok {
				continue // a broker that cannot take replicas now
			}
			pl.replicas[i]++
			if j == 0 {
				pl.leaders[i]++
			}
		}
	}
	return pl
}

// place chooses the replicas of partition number p.
func (pl *placer) place(p, rf int) []int32 {
	n := len(pl.ids)
	start := ((p % n) + n) % n
	leader := -1
	for k := range n {
		i := (start + k) % n
		if leader < 0 || pl.leaders[i] < pl.leaders[leader] ||
			pl.leaders[i] == pl.leaders[leader] && pl.replicas[i] < pl.replicas[leader] {
			leader = i
		}
	}
	clear(pl.used)
	clear(pl.perRack)
	chosen := []int{leader}
	pl.take(leader)
	pl.leaders[leader]++
	for len(chosen) < rf {
		best := -1
		for k := 1; k < n; k++ {
			i := (leader + k) % n
			if pl.used[i] {
				continue
			}
			if best < 0 || pl.perRack[pl.rack[i]] < pl.perRack[pl.rack[best]] ||
				pl.perRack[pl.rack[i]] == pl.perRack[pl.rack[best]] && pl.replicas[i] < pl.replicas[best] {
				best = i
			}
		}
		chosen = append(chosen, best)
		pl.take(best)
	}
	out := make([]int32, len(chosen))
	for j, i := range chosen {
		out[j] = pl.ids[i]
	}
	return out
}

func (pl *placer) take(i int) {
	pl.used[i] = true
	pl.perRack[pl.rack[i]]++
	pl.replicas[i]++
}
