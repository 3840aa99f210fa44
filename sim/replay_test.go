//go:build !wasip1

package sim

import (
	"bytes"
	"os"
	"reflect"
	"runtime/debug"
	"sync"
	"testing"
)

// TestReplayFidelity holds the simulator to its promise: a run is a function
// of (binary, scenario, seed, settings) alone. The same runs are made plainly
// and with everything observed (the text trace written, the event list
// kept) while the host's own garbage collector runs at a very different
// pace; hashes and violations must match, and the observation must really
// have happened (every hashed event reached the host and the trace file).
func TestReplayFidelity(t *testing.T) {
	if *flagSeed != 0 {
		t.Skip("single-seed replay mode")
	}
	cases := []struct {
		scenario string
		seed     uint64
		bugs     string
	}{
		{"single-crash", 2, ""},
		{"single-machine-crash", 3, ""},
		{"group-crash", 1, ""},
		{"single-machine-crash", 2, "ack-before-fsync"},
	}
	old := debug.SetGCPercent(5)
	defer debug.SetGCPercent(old)
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			plain := runMemo(t, c.scenario, c.seed, c.bugs, *flagSwarm)
			seen := runOne(t, c.scenario, c.seed, c.bugs, *flagSwarm, watch{trace: true, events: true})
			if plain.err != nil || seen.err != nil {
				t.Errorf("%s seed %d: run failed: %v / %v", c.scenario, c.seed, plain.err, seen.err)
				return
			}
			if plain.res.Hash != seen.res.Hash {
				t.Errorf("%s seed %d bugs=%q: hash %s plainly, %s when traced: observation changed the run",
					c.scenario, c.seed, c.bugs, plain.res.Hash, seen.res.Hash)
			}
			if !reflect.DeepEqual(plain.res.Violations, seen.res.Violations) {
				t.Errorf("%s seed %d bugs=%q: violations differ:\n  plain: %v\n  traced: %v",
					c.scenario, c.seed, c.bugs, plain.res.Violations, seen.res.Violations)
			}
			if uint64(len(seen.events)) != seen.res.Events {
				t.Errorf("%s seed %d: the host kept %d events, the program hashed %d", c.scenario, c.seed, len(seen.events), seen.res.Events)
			}
			text, err := os.ReadFile(tracePath(c.scenario, c.seed, c.bugs))
			if err != nil {
				t.Error(err)
				return
			}
			if n := bytes.Count(text, []byte("\nT ")); uint64(n+1) < seen.res.Events {
				t.Errorf("%s seed %d: the trace has %d event lines for %d events", c.scenario, c.seed, n+1, seen.res.Events)
			}
			if c.bugs != "" && !seen.failed() {
				t.Errorf("%s seed %d bugs=%s: expected the broken variant to be flagged", c.scenario, c.seed, c.bugs)
			}
		}()
	}
	wg.Wait()
}
