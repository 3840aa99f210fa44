//go:build !wasip1

package sim

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jocko/jocko/scenarios"
	"github.com/jocko/jocko/sim/runner"
)

var flagShrink = flag.Bool("shrink", false, "TestShrink: shrink the failing run of -scenario and -seed (with -bug, -swarm)")

// TestShrink reduces a failing run while the same violation persists:
// first its fault schedule (chunks of faults dropped, halving down to
// single ones; then each fault's duration halved), then the workload
// (fewer producers, consumers, transactional producers, group members)
// and the fault phase (cut to just after the last fault). It writes the
// smallest schedule beside the run's and prints the command that replays
// it. Run it on demand:
//
//	go test ./sim -run TestShrink -shrink -scenario=single-crash -seed=7 -bug=reuse-offset -v
func TestShrink(t *testing.T) {
	if !*flagShrink {
		t.Skip("on demand: -shrink -scenario=NAME -seed=N [-bug=B]")
	}
	scenario, seed, bugs, swarm := *flagScenario, *flagSeed, *flagBug, *flagSwarm
	sc, ok := scenarios.Get(scenario)
	if scenario == "" || seed == 0 || !ok {
		t.Fatalf("-shrink needs -scenario (one of %s) and -seed", strings.Join(scenarios.Names(), ", "))
	}
	base := runTrimmed(t, scenario, seed, bugs, swarm, "", "", watch{})
	if !base.failed() {
		t.Fatalf("seed %d of %s passes: nothing to shrink", seed, scenario)
	}
	kind := violationKind(base)
	t.Logf("shrinking seed %d of %s while %q persists; %d faults", seed, scenario, kind, len(base.res.Schedule))
	runs := 0
	fails := func(steps []runner.Step, trim string) bool {
		runs++
		o := runTrimmed(t, scenario, seed, bugs, swarm, runner.ScheduleArg(steps, false), trim, watch{})
		return o.failed() && slices.Contains(violationKinds(o), kind)
	}
	steps := slices.Clone(base.res.Schedule)
	if !fails(steps, "") {
		t.Fatalf("replaying the run's own schedule does not fail with %q: the failure depends on more than the faults", kind)
	}
	// Faults: drop chunks, from halves down to single faults.
	for n := max(len(steps)/2, 1); n >= 1; n /= 2 {
		for i := 0; i < len(steps); {
			cand := slices.Concat(steps[:i], steps[min(i+n, len(steps)):])
			if fails(cand, "") {
				steps = cand
				continue
			}
			i += n
		}
		if n == 1 {
			break
		}
	}
	// Each fault shorter, down to 10 ms.
	for i := range steps {
		for steps[i].For > runner.Dur(20*time.Millisecond) {
			cand := slices.Clone(steps)
			cand[i].For /= 2
			if !fails(cand, "") {
				break
			}
			steps = cand
		}
	}
	// The workload, one knob at a time, each as low as it still fails.
	var knobs []string
	try := func(knob string, from int) {
		for v := 0; v < from; v++ {
			cand := append(slices.Clone(knobs), fmt.Sprintf("%s=%d", knob, v))
			if fails(steps, strings.Join(cand, ",")) {
				knobs = cand
				return
			}
		}
	}
	try("producers", sc.Producers)
	try("consumers", sc.Consumers)
	try("txn-producers", sc.TxnProducers)
	try("group-members", sc.GroupMembers)
	var end time.Duration
	for _, s := range steps {
		end = max(end, time.Duration(s.At)+time.Duration(s.For))
	}
	if d := (end + time.Second).Round(time.Second); d < sc.Duration {
		cand := append(slices.Clone(knobs), "duration="+d.String())
		if fails(steps, strings.Join(cand, ",")) {
			knobs = cand
		}
	}
	trim := strings.Join(knobs, ",")
	path := tmpPath("schedule", scenario, seed, bugs, "-shrunk.json")
	if err := os.WriteFile(path, runner.FormatSchedule(steps), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := fmt.Sprintf("go test ./sim -run TestSim -seed=%d -scenario=%s -schedule=%s -v", seed, scenario, path)
	if bugs != "" {
		cmd += " -bug=" + bugs
	}
	if !swarm {
		cmd += " -swarm=false"
	}
	if trim != "" {
		cmd += " -trim=" + trim
	}
	fmt.Printf("shrunk in %d runs: %d of %d faults, trim %q; %q still fails\n", runs, len(steps), len(base.res.Schedule), trim, kind)
	for _, s := range steps {
		fmt.Printf("    %s\n", s)
	}
	fmt.Printf("  smallest: %s\n", cmd)
}

// violationKind is what a failed run is shrunk to keep: its first
// violation's kind, or "error" for a run that ended in an error.
func violationKind(o outcome) string {
	if ks := violationKinds(o); len(ks) > 0 {
		return ks[0]
	}
	return "error"
}

func violationKinds(o outcome) []string {
	var ks []string
	if o.err != nil || o.exit != 0 {
		ks = append(ks, "error")
	}
	for _, v := range o.res.Violations {
		ks = append(ks, v.Kind)
	}
	return ks
}
