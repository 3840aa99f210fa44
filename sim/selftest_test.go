//go:build !wasip1

package sim

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// variants are the deliberately broken brokers (and disk) the simulator
// must catch, each with the scenario whose faults expose it.
var variants = []struct {
	bug, scenario, why string
}{
	{"ack-before-fsync", "single-machine-crash", "acks=all answered before the batch is durable"},
	{"skip-torn-tail", "single-machine-crash", "recovery keeps a torn tail instead of truncating it"},
	{"reuse-offset", "single-crash", "recovery sets the log end to the last batch's base offset"},
	{"lying-fsync", "single-machine-crash", "the disk reports fsync success without making data durable"},
	{"forget-commits", "group-crash", "a restarted coordinator does not load the committed offsets"},
	{"ack-before-isr", "cluster-partition", "acks=all answered once the leader alone has the records"},
	{"elect-outside-isr", "cluster-partition", "the controller elects a replica outside the ISR"},
	{"skip-truncation", "cluster-partition", "a follower does not truncate to its new leader's log"},
}

// TestSelfTest proves the simulator can fail: each broken variant must be
// flagged on at least one seed of the default set, that seed must replay to
// the same hash and the same verdict, and the correct broker must pass the
// same seeds. -scenario and -bug are ignored here; -seeds and -first-seed apply.
func TestSelfTest(t *testing.T) {
	if *flagSeed != 0 {
		t.Skip("single-seed replay mode")
	}
	var wg sync.WaitGroup
	for _, v := range variants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			selfTest(t, v.bug, v.scenario, v.why)
		}()
	}
	wg.Wait()
}

func selfTest(t *testing.T, bug, scenario, why string) {
	seeds := seedList()
	broken := make([]outcome, len(seeds))
	correct := make([]outcome, len(seeds))
	var wg sync.WaitGroup
	for i, seed := range seeds {
		wg.Add(2)
		go func() { defer wg.Done(); broken[i] = runMemo(t, scenario, seed, bug) }()
		go func() { defer wg.Done(); correct[i] = runMemo(t, scenario, seed, "") }()
	}
	wg.Wait()
	var flagged []uint64
	for i, seed := range seeds {
		if broken[i].failed() {
			flagged = append(flagged, seed)
		}
		if correct[i].failed() {
			t.Errorf("self-test %s: the correct broker fails seed %d:\n%s", bug, seed,
				report(t, scenario, seed, "", correct[i]))
		}
	}
	if len(flagged) == 0 {
		t.Errorf("self-test %s (%s): no seed of %d in %s flagged it", bug, why, len(seeds), scenario)
		return
	}
	first := flagged[0]
	o := broken[indexOf(seeds, first)]
	again := runOne(t, scenario, first, bug, watch{})
	if again.res.Hash != o.res.Hash || !again.failed() {
		t.Errorf("self-test %s: seed %d did not replay (hash %s then %s, failed %v then %v)",
			bug, first, o.res.Hash, again.res.Hash, o.failed(), again.failed())
	}
	fmt.Printf("self-test %s: flagged on %d/%d seeds of %s; first seed %d: %s\n  replay: %s\n",
		bug, len(flagged), len(seeds), scenario, first, firstViolation(o), replayCmd(scenario, first, bug))
}

func indexOf(xs []uint64, x uint64) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func firstViolation(o outcome) string {
	if o.err != nil {
		return o.err.Error()
	}
	if len(o.res.Violations) == 0 {
		return "?"
	}
	kinds := map[string]bool{}
	var names []string
	for _, v := range o.res.Violations {
		if !kinds[v.Kind] {
			kinds[v.Kind] = true
			names = append(names, v.Kind)
		}
	}
	return fmt.Sprintf("%s (%s)", o.res.Violations[0], strings.Join(names, ", "))
}
