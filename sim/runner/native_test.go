package runner_test

import (
	"testing"
	"time"

	"github.com/jocko/jocko/scenarios"
	"github.com/jocko/jocko/sim/runner"
)

// TestNative runs shortened scenarios natively, outside wasm: not
// deterministic, but `go test -race` sees data races that the single-threaded
// wasm runs cannot. It takes real time (a few seconds per scenario).
func TestNative(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time run")
	}
	for _, name := range []string{"single-crash", "single-machine-crash", "group-crash", "txn-crash"} {
		t.Run(name, func(t *testing.T) {
			sc, ok := scenarios.Get(name)
			if !ok {
				t.Fatalf("no scenario %s", name)
			}
			sc.Duration, sc.Quiet, sc.FaultGap = 3*time.Second, time.Second, [2]time.Duration{200 * time.Millisecond, time.Second}
			res := runner.Run(sc, runner.Options{Seed: uint64(time.Now().UnixNano())})
			t.Logf("seed=%d acked=%d faults=%d virt=%dms", res.Seed, res.Stats.Acked, res.Stats.Faults, res.VirtualMs)
			if !res.OK {
				t.Errorf("violations (native runs do not replay; seed %d): %v", res.Seed, res.Violations)
			}
			if res.Stats.Acked == 0 {
				t.Errorf("no send was acknowledged")
			}
		})
	}
}
