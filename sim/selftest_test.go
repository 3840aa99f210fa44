//go:build !wasip1

package sim

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// variants are the deliberately broken brokers (and disk) the simulator
// must catch, each with the scenario whose faults expose it. A variant
// marked asWritten runs its scenario as written (its whole fault menu and
// settings) instead of each seed's swarm variant: one that needs a
// particular fault at particular timing (a follower left out of the ISR
// long enough, and still unfenced, when its leader crashes) is caught on
// too few swarm variants for the default seed set.
var variants = []struct {
	bug, scenario, why string
	asWritten          bool
}{
	{"ack-before-fsync", "single-machine-crash", "acks=all answered before the batch is durable", false},
	{"skip-torn-tail", "single-machine-crash", "recovery keeps a torn tail instead of truncating it", false},
	{"reuse-offset", "single-crash", "recovery sets the log end to the last batch's base offset", false},
	{"lying-fsync", "single-machine-crash", "the disk reports fsync success without making data durable", false},
	{"forget-commits", "group-crash", "a restarted coordinator does not load the committed offsets", false},
	{"ack-before-isr", "cluster-partition", "acks=all answered once the leader alone has the records", false},
	{"elect-outside-isr", "cluster-partition", "the controller elects a replica outside the ISR", true},
	{"skip-truncation", "cluster-partition", "a follower does not truncate to its new leader's log", false},
	{"stuck-isr", "cluster-partition", "a leader never proposes adding a caught-up follower back to the ISR", false},
	{"ignore-lso", "txn-cluster", "read_committed fetches read past the last stable offset, with no aborted transactions", false},
	{"skip-read-crc", "cluster-bitflip", "reads and the scrub skip the batch CRC check, so a flipped bit is served", false},
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
			selfTest(t, v.bug, v.scenario, v.why, *flagSwarm && !v.asWritten)
		}()
	}
	wg.Wait()
}

func selfTest(t *testing.T, bug, scenario, why string, swarm bool) {
	seeds := seedList()
	correct := make([]outcome, len(seeds))
	var cwg sync.WaitGroup
	// The correct broker's runs are TestSim's (shared through runMemo):
	// all of them, meanwhile. A variant run as written needs its own,
	// and only for the seeds it tries (below).
	shared := swarm == *flagSwarm
	for i, seed := range seeds {
		if !shared {
			break
		}
		cwg.Add(1)
		go func() { defer cwg.Done(); correct[i] = runMemo(t, scenario, seed, "", swarm) }()
	}
	// The broken variant runs a batch of seeds at a time, in order, until
	// one flags it: that is the answer the self-test needs (the first seed
	// that catches it), and the seeds after it would cost minutes.
	first, tried := uint64(0), 0
	var o outcome
	for i := 0; i < len(seeds) && first == 0; i += *flagParallel {
		batch := seeds[i:min(i+*flagParallel, len(seeds))]
		outs := make([]outcome, len(batch))
		var wg sync.WaitGroup
		for j, seed := range batch {
			wg.Add(1)
			go func() { defer wg.Done(); outs[j] = runMemo(t, scenario, seed, bug, swarm) }()
		}
		wg.Wait()
		tried += len(batch)
		for j, seed := range batch {
			if outs[j].failed() && first == 0 {
				first, o = seed, outs[j]
			}
		}
	}
	cwg.Wait()
	if !shared {
		seeds = seeds[:tried]
		for i, seed := range seeds {
			cwg.Add(1)
			go func() { defer cwg.Done(); correct[i] = runMemo(t, scenario, seed, "", swarm) }()
		}
		cwg.Wait()
	}
	for i, seed := range seeds {
		if correct[i].failed() {
			t.Errorf("self-test %s: the correct broker fails seed %d:\n%s", bug, seed,
				report(t, scenario, seed, "", swarm, correct[i]))
		}
	}
	if first == 0 {
		t.Errorf("self-test %s (%s): no seed of %d in %s flagged it", bug, why, len(seeds), scenario)
		return
	}
	again := runOne(t, scenario, first, bug, swarm, watch{})
	if again.res.Hash != o.res.Hash || !again.failed() {
		t.Errorf("self-test %s: seed %d did not replay (hash %s then %s, failed %v then %v)",
			bug, first, o.res.Hash, again.res.Hash, o.failed(), again.failed())
	}
	fmt.Printf("self-test %s: flagged first on seed %d of %s (%d seeds run): %s\n  replay: %s\n",
		bug, first, scenario, tried, firstViolation(o), replayCmd(scenario, first, bug, swarm))
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
