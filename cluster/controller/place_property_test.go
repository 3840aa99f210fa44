package controller

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"pgregory.net/rapid"
)

// drawBrokers draws up to 12 brokers with distinct IDs, racks from a few
// names (or none), some fenced or shutting down.
func drawBrokers(t *rapid.T) []BrokerInfo {
	ids := rapid.SliceOfNDistinct(rapid.Int32Range(0, 40), 1, 12, rapid.ID[int32]).Draw(t, "ids")
	racks := rapid.IntRange(0, 4).Draw(t, "racks")
	out := make([]BrokerInfo, len(ids))
	for i, id := range ids {
		b := BrokerInfo{ID: id}
		if racks > 0 {
			b.Rack = fmt.Sprint("r", rapid.IntRange(0, racks-1).Draw(t, "rack"))
		}
		switch rapid.IntRange(0, 9).Draw(t, "health") {
		case 0:
			b.Fenced = true
		case 1:
			b.ShuttingDown = true
		}
		out[i] = b
	}
	return out
}

// Placement: distinct replicas of length rf on usable brokers, the rack
// rule, balance, independence from input order, and the error exactly when
// rf cannot be met.
func TestPlaceProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		brokers := drawBrokers(t)
		usable := map[int32]BrokerInfo{}
		for _, b := range brokers {
			if b.eligible() {
				usable[b.ID] = b
			}
		}
		rf := rapid.IntRange(0, len(brokers)+1).Draw(t, "rf")
		n := rapid.IntRange(1, 60).Draw(t, "partitions")
		start := rapid.IntRange(-100, 100).Draw(t, "start")
		var existing [][]int32
		if rapid.Bool().Draw(t, "existing") && rf >= 1 && rf <= len(usable) {
			existing, _ = Place(brokers, rapid.IntRange(1, 30).Draw(t, "existingN"), rf, start, nil)
		}
		assign, err := Place(brokers, n, rf, start, existing)
		if rf < 1 || rf > len(usable) {
			if !errors.Is(err, kerr.InvalidReplicationFactor) {
				t.Fatalf("rf %d with %d usable brokers: %v, %v", rf, len(usable), assign, err)
			}
			return
		}
		if err != nil || len(assign) != n {
			t.Fatalf("got %d partitions, %v", len(assign), err)
		}
		for _, reps := range assign {
			checkPartitionPlacement(t, reps, rf, usable)
		}
		// Input order does not matter.
		shuffled := rapid.Permutation(brokers).Draw(t, "shuffled")
		again, _ := Place(shuffled, n, rf, start, existing)
		if fmt.Sprint(again) != fmt.Sprint(assign) {
			t.Fatalf("brokers %v gave %v, in order %v gave %v", brokers, assign, shuffled, again)
		}
		// In steps or at once: the same.
		if existing != nil {
			at, _ := Place(brokers, len(existing)+n, rf, start, nil)
			if fmt.Sprint(append(slices.Clone(existing), assign...)) != fmt.Sprint(at) {
				t.Fatalf("in steps %v + %v, at once %v", existing, assign, at)
			}
		}
		all := append(slices.Clone(existing), assign...)
		l, r := counts(brokers, all)
		if spread(l) > 1 {
			t.Fatalf("preferred leaders per broker %v differ by more than 1: %v", l, all)
		}
		if evenRacks(usable) && spread(r) > 2 {
			t.Fatalf("replicas per broker %v differ by more than 2: %v", r, all)
		}
	})
}

func checkPartitionPlacement(t *rapid.T, reps []int32, rf int, usable map[int32]BrokerInfo) {
	if len(reps) != rf {
		t.Fatalf("replicas %v, want %d", reps, rf)
	}
	per := map[string]int{}
	for i, id := range reps {
		b, ok := usable[id]
		if !ok {
			t.Fatalf("replicas %v: %d is not a usable broker", reps, id)
		}
		if slices.Contains(reps[:i], id) {
			t.Fatalf("replicas %v: %d twice", reps, id)
		}
		per[b.Rack]++
	}
	most := 0
	for _, c := range per {
		most = max(most, c)
	}
	// Each rack gets a replica before any rack gets a second: a rack with
	// a broker left over holds at least most-1 of the replicas.
	for id, b := range usable {
		if !slices.Contains(reps, id) && per[b.Rack] < most-1 {
			t.Fatalf("replicas %v: rack %q has %d while another has %d, and broker %d is free", reps, b.Rack, per[b.Rack], most, id)
		}
	}
}

func evenRacks(usable map[int32]BrokerInfo) bool {
	per := map[string]int{}
	for _, b := range usable {
		per[b.Rack]++
	}
	size := -1
	for _, c := range per {
		if size >= 0 && c != size {
			return false
		}
		size = c
	}
	return true
}
