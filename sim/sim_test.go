//go:build !wasip1

package sim

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jocko/jocko/io/buggify"
	"github.com/jocko/jocko/scenarios"
	"github.com/jocko/jocko/sim/trace"
)

func scenarioList() []string {
	if *flagScenario != "" {
		return []string{*flagScenario}
	}
	return scenarios.Default
}

func seedList() []uint64 {
	if *flagSeed != 0 {
		return []uint64{*flagSeed}
	}
	seeds := make([]uint64, *flagSeeds)
	for i := range seeds {
		seeds[i] = *flagFirst + uint64(i)
	}
	return seeds
}

// TestSim runs every default scenario over the seed set, in parallel. It
// fails on any violation (printing the replay command), on a run whose hash
// differs when it is repeated, and on two seeds giving the same hash.
func TestSim(t *testing.T) {
	for _, name := range scenarioList() {
		if _, ok := scenarios.Get(name); !ok {
			t.Fatalf("unknown scenario %q (have %s)", name, strings.Join(scenarios.Names(), ", "))
		}
	}
	// A single-seed replay writes the full trace; the run is the same one
	// either way (TestReplayFidelity holds the host to that).
	w := watch{trace: *flagSeed != 0}
	type job struct {
		scenario string
		seed     uint64
		double   bool
	}
	var jobs []job
	for _, name := range scenarioList() {
		for i, seed := range seedList() {
			double := *flagDouble > 0 && i%*flagDouble == 0
			jobs = append(jobs, job{name, seed, double})
		}
	}
	results := make([]outcome, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var o outcome
			if w == (watch{}) {
				o = runMemo(t, j.scenario, j.seed, *flagBug, *flagSwarm)
			} else {
				o = runOne(t, j.scenario, j.seed, *flagBug, *flagSwarm, w)
			}
			results[i] = o
			if msg := report(t, j.scenario, j.seed, *flagBug, *flagSwarm, o); msg != "" {
				t.Error(msg)
			}
			if *flagSeed != 0 {
				fmt.Printf("trace: %s\n", tracePath(j.scenario, j.seed, *flagBug))
				if !o.failed() { // a failure's report has it
					fmt.Println(writeSchedule(j.scenario, j.seed, *flagBug, o.res))
				}
			}
			if j.double && o.err == nil {
				checkReplay(t, j.scenario, j.seed, *flagBug, o)
			}
		}()
	}
	wg.Wait()
	checkBuggify(t, results)
	checkDistinct(t, jobs2keys(len(jobs), func(i int) (string, uint64) { return jobs[i].scenario, jobs[i].seed }), results)
}

func jobs2keys(n int, f func(int) (string, uint64)) []string {
	out := make([]string, n)
	for i := range out {
		s, seed := f(i)
		out[i] = fmt.Sprintf("%s/%d", s, seed)
	}
	return out
}

// checkReplay runs a seed again and fails if the hash differs, naming the
// first event where two -events runs diverge.
func checkReplay(t *testing.T, scenario string, seed uint64, bugs string, first outcome) {
	again := runOne(t, scenario, seed, bugs, *flagSwarm, watch{})
	if again.res.Hash == first.res.Hash {
		return
	}
	a := runOne(t, scenario, seed, bugs, *flagSwarm, watch{events: true})
	b := runOne(t, scenario, seed, bugs, *flagSwarm, watch{events: true})
	t.Errorf("NONDETERMINISM seed=%d scenario=%s: hash %s then %s\n  %s\n  replay: %s",
		seed, scenario, first.res.Hash, again.res.Hash, firstDivergence(a.events, b.events), replayCmd(scenario, seed, bugs, *flagSwarm))
}

func firstDivergence(a, b []trace.Event) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf("first diverging event #%d: %v vs %v (previous: %v)", i, a[i], b[i], prev(a, i))
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("event lists agree for %d events, then one ends (%d vs %d)", min(len(a), len(b)), len(a), len(b))
	}
	return "the -events reruns agreed with each other (the divergence did not reproduce)"
}

func prev(xs []trace.Event, i int) trace.Event {
	if i == 0 {
		return trace.Event{}
	}
	return xs[i-1]
}

// checkDistinct fails if two different seeds of one scenario hash alike.
func checkDistinct(t *testing.T, keys []string, results []outcome) {
	seen := map[string]string{}
	for i, o := range results {
		if o.res.Hash == "" {
			continue
		}
		k := o.res.Scenario + "/" + o.res.Hash
		if other, ok := seen[k]; ok {
			t.Errorf("runs %s and %s have the same hash %s: the seed does not vary the run", other, keys[i], o.res.Hash)
		}
		seen[k] = keys[i]
	}
}

// checkBuggify prints how often each BUGGIFY site fired and, on the default
// seed set, fails if one never did: a site no run reaches tests nothing.
func checkBuggify(t *testing.T, results []outcome) {
	counts := map[string]int{}
	for _, o := range results {
		for site, n := range o.buggify {
			counts[site] += n
		}
	}
	var parts []string
	for _, site := range buggify.Sites {
		parts = append(parts, fmt.Sprintf("%s=%d", site, counts[site]))
	}
	fmt.Printf("buggify: %s\n", strings.Join(parts, " "))
	if *flagScenario != "" || *flagSeed != 0 || *flagSeeds < 8 || *flagBug != "" {
		return
	}
	for _, site := range buggify.Sites {
		if counts[site] == 0 {
			t.Errorf("BUGGIFY site %s never fired on the default seed set", site)
		}
	}
}
