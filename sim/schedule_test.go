//go:build !wasip1

package sim

import (
	"slices"
	"testing"

	"github.com/jocko/jocko/sim/runner"
)

// TestScheduleReplay: a run's exported fault schedule, replayed unchanged
// with the same seed, is the same execution (the same hash and the same
// schedule); with its first fault dropped, the others run as written and
// the execution differs.
func TestScheduleReplay(t *testing.T) {
	const scenario, seed = "single-crash", 3
	first := runSched(t, scenario, seed, "", true, "", watch{})
	if first.err != nil || len(first.res.Schedule) < 2 {
		t.Fatalf("the run: err %v, schedule %v", first.err, first.res.Schedule)
	}
	exported := runner.FormatSchedule(first.res.Schedule)
	steps, err := runner.ParseSchedule(exported)
	if err != nil || !slices.EqualFunc(steps, first.res.Schedule, stepEqual) {
		t.Fatalf("the exported schedule does not read back: %v\n%s", err, exported)
	}
	arg := func(steps []runner.Step) string { return runner.ScheduleArg(steps, false) }
	again := runSched(t, scenario, seed, "", true, arg(steps), watch{})
	t.Logf("drawn:    hash=%s faults=%d", first.res.Hash, first.res.Stats.Faults)
	t.Logf("replayed: hash=%s faults=%d", again.res.Hash, again.res.Stats.Faults)
	// The replay runs exactly the exported faults at their times. It is
	// not always the same execution: the hash may differ (SIMULATION.md,
	// "Ergonomics"); the seed alone is the exact replay.
	if again.err != nil || !slices.EqualFunc(again.res.Schedule, steps, stepEqual) {
		t.Fatalf("replaying the run's own schedule: err %v\n  schedule %v\n  want %v",
			again.err, again.res.Schedule, steps)
	}
	dropped := runSched(t, scenario, seed, "", true, arg(steps[1:]), watch{})
	t.Logf("first fault dropped: hash=%s faults=%d", dropped.res.Hash, dropped.res.Stats.Faults)
	if dropped.err != nil {
		t.Fatalf("dropping a fault: err %v", dropped.err)
	}
	got := dropped.res.Schedule
	if len(got) != len(steps)-1 {
		t.Fatalf("dropping a fault: executed %v, want %v", got, steps[1:])
	}
	for i, s := range got {
		if w := steps[i+1]; s.Kind != w.Kind || s.Broker != w.Broker || s.For != w.For || s.At < w.At {
			t.Errorf("step %d: executed %v, want %v", i, s, w)
		}
	}
}

func stepEqual(a, b runner.Step) bool {
	return a.At == b.At && a.Kind == b.Kind && a.Broker == b.Broker && a.For == b.For && slices.Equal(a.Choices, b.Choices)
}
