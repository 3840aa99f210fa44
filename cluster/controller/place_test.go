package controller

import (
	"fmt"
	"slices"
	"testing"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
)

func racked(spec ...string) []BrokerInfo {
	out := make([]BrokerInfo, len(spec))
	for i, r := range spec {
		out[i] = BrokerInfo{ID: int32(i + 1), Rack: r}
	}
	return out
}

// counts returns how many partitions each broker is first replica of, and
// how many replicas it holds.
func counts(brokers []BrokerInfo, assign [][]int32) (leaders, replicas map[int32]int) {
	leaders, replicas = map[int32]int{}, map[int32]int{}
	for _, b := range brokers {
		if b.eligible() {
			leaders[b.ID], replicas[b.ID] = 0, 0
		}
	}
	for _, reps := range assign {
		leaders[reps[0]]++
		for _, id := range reps {
			replicas[id]++
		}
	}
	return leaders, replicas
}

func spread(m map[int32]int) int {
	lo, hi := int(^uint(0)>>1), 0
	for _, v := range m {
		lo, hi = min(lo, v), max(hi, v)
	}
	return hi - lo
}

// Six brokers in three racks, RF=3 (the example): every partition
// spans the three racks, and leaders and replicas are even.
func TestPlaceSixBrokersThreeRacks(t *testing.T) {
	brokers := racked("a", "b", "c", "a", "b", "c")
	rack := func(id int32) string { return brokers[id-1].Rack }
	for start := range 6 {
		for _, n := range []int{1, 5, 6, 12, 13} {
			assign, err := Place(brokers, n, 3, start, nil)
			if err != nil {
				t.Fatal(err)
			}
			for p, reps := range assign {
				racks := map[string]bool{}
				for _, id := range reps {
					racks[rack(id)] = true
				}
				if len(reps) != 3 || len(racks) != 3 {
					t.Fatalf("start %d: partition %d on %v spans racks %v", start, p, reps, racks)
				}
			}
			l, r := counts(brokers, assign)
			if spread(l) > 1 || spread(r) > 2 {
				t.Fatalf("start %d, %d partitions: leaders %v replicas %v", start, n, l, r)
			}
			if n%6 == 0 && (spread(l) != 0 || spread(r) != 0) {
				t.Fatalf("start %d, %d partitions: leaders %v replicas %v, want all equal", start, n, l, r)
			}
		}
	}
}

// Without racks the leaders follow the rotation from startIndex, as
// Kafka's assignReplicasToBrokers does.
func TestPlaceRotatesLeadersFromStartIndex(t *testing.T) {
	got, err := Place(live(3, 1, 2), 4, 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int32{{2}, {3}, {1}, {2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Negative and large start indexes wrap.
	a, _ := Place(live(1, 2, 3), 3, 2, -2, nil)
	b, _ := Place(live(1, 2, 3), 3, 2, 1, nil)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("start -2 gave %v, start 1 gave %v", a, b)
	}
}

// Fenced and shutting-down brokers get no replica, not even a follower.
func TestPlaceSkipsFencedAndShuttingDown(t *testing.T) {
	brokers := []BrokerInfo{{ID: 1}, {ID: 2, Fenced: true}, {ID: 3}, {ID: 4, ShuttingDown: true}, {ID: 5}}
	assign, err := Place(brokers, 30, 3, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, reps := range assign {
		if slices.Contains(reps, 2) || slices.Contains(reps, 4) {
			t.Fatalf("replicas %v on a fenced or shutting-down broker", reps)
		}
	}
}

// Each rack gets a replica before any rack gets a second; with a rack of one
// broker, that broker is in every partition (rack rule first, as Kafka).
func TestPlaceRackRule(t *testing.T) {
	brokers := racked("a", "a", "a", "b")
	assign, err := Place(brokers, 8, 2, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, reps := range assign {
		if !slices.Contains(reps, 4) {
			t.Fatalf("partition %v misses rack b", reps)
		}
	}
	brokers = racked("a", "b", "c", "a", "b", "c")
	assign, _ = Place(brokers, 6, 4, 0, nil)
	for _, reps := range assign {
		per := map[string]int{}
		for _, id := range reps {
			per[brokers[id-1].Rack]++
		}
		if len(per) != 3 {
			t.Fatalf("RF=4 partition %v uses racks %v, want all 3", reps, per)
		}
	}
}

// CreatePartitions: new partitions go to the brokers that have least, and
// placing in two steps is the same as placing at once.
func TestPlaceCreatePartitionsKeepsBalance(t *testing.T) {
	brokers := live(1, 2, 3)
	more, err := Place(brokers, 2, 1, 0, [][]int32{{1}, {1}, {1}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(more) != "[[2] [3]]" {
		t.Fatalf("new partitions %v, want [[2] [3]] (broker 1 leads 3 already)", more)
	}
	brokers = racked("x", "y", "x", "y", "z")
	first, _ := Place(brokers, 7, 3, 4, nil)
	second, _ := Place(brokers, 9, 3, 4, first)
	all, _ := Place(brokers, 16, 3, 4, nil)
	if fmt.Sprint(append(first, second...)) != fmt.Sprint(all) {
		t.Fatalf("7 then 9 partitions %v, 16 at once %v", append(first, second...), all)
	}
}

func TestPlaceErrors(t *testing.T) {
	tests := []struct {
		name       string
		brokers    []BrokerInfo
		partitions int
		rf         int
		code       *kerr.Error
		msg        string
	}{
		{"too few brokers", live(1, 2), 1, 3, kerr.InvalidReplicationFactor,
			"Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 2 broker(s) are registered."},
		{"rf zero", live(1, 2), 1, 0, kerr.InvalidReplicationFactor,
			"Unable to replicate the partition 0 time(s): Invalid replication factor 0: the replication factor must be positive."},
		{"all fenced", []BrokerInfo{{ID: 1, Fenced: true}, {ID: 2, ShuttingDown: true}}, 1, 1, kerr.InvalidReplicationFactor,
			"Unable to replicate the partition 1 time(s): All brokers are currently fenced."},
		{"too few unfenced", []BrokerInfo{{ID: 1}, {ID: 2, Fenced: true}, {ID: 3}}, 1, 3, kerr.InvalidReplicationFactor,
			"Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 2 of the 3 registered broker(s) are unfenced and not shutting down."},
		{"no partitions", live(1), 0, 1, kerr.InvalidPartitions, ""},
		{"no brokers", nil, 1, 1, kerr.InvalidReplicationFactor, ""},
		{"repeated broker", live(1, 1), 1, 1, kerr.InvalidRequest, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Place(tc.brokers, tc.partitions, tc.rf, 0, nil)
			if code := codeOf(t, err); code != tc.code {
				t.Fatalf("got %v, %v; want code %v", got, err, tc.code)
			}
			if tc.msg != "" && err.(*Error).Message != tc.msg {
				t.Fatalf("message %q, want %q", err.(*Error).Message, tc.msg)
			}
		})
	}
}

// The assignments are ones CreateTopic and CreatePartitions accept.
func TestPlaceAppliesToTheFSM(t *testing.T) {
	st := newState(t, 4, nil)
	brokers := racked("a", "b", "a", "b")
	assign, err := Place(brokers, 5, 3, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err = cluster.ApplyCommand(st, 100, cluster.CreateTopic{Name: "t", ID: [16]byte{9}, Assignments: assign})
	if err != nil {
		t.Fatal(err)
	}
	more, err := Place(brokers, 3, 3, 2, assign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.ApplyCommand(st, 101, cluster.CreatePartitions{Topic: "t", Assignments: more}); err != nil {
		t.Fatal(err)
	}
}
