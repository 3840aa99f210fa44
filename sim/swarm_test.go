//go:build !wasip1

package sim

import (
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jocko/jocko/scenarios"
)

var flagSwarmFor = flag.Duration("swarm-for", 0, "TestSwarmMode: draw scenarios and seeds at random for this long (make sim-swarm)")

// TestSwarmMode runs for -swarm-for (skipped without it): each run draws
// a scenario of the default set and a seed (from -first-seed on), and the
// seed draws its fault menu and settings (runner.Swarm), until the time is
// up. It fails on any violation, printing each failing run's replay
// command. The scenario is a function of the seed, so a run is named by
// its seed alone.
func TestSwarmMode(t *testing.T) {
	if *flagSwarmFor <= 0 {
		t.Skip("swarm mode runs with -swarm-for=DURATION (make sim-swarm)")
	}
	names := scenarios.Default
	deadline := time.Now().Add(*flagSwarmFor)
	var mu sync.Mutex
	runs, failed := 0, 0
	var wg sync.WaitGroup
	next := *flagFirst
	for w := 0; w < max(1, *flagParallel); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				mu.Lock()
				seed := next
				next++
				mu.Unlock()
				scenario := names[splitmix64(seed)%uint64(len(names))]
				o := runOne(t, scenario, seed, "", true, watch{})
				msg := report(t, scenario, seed, "", true, o)
				mu.Lock()
				runs++
				if msg != "" {
					failed++
					t.Error(msg)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("swarm mode: %d runs in %v, %d failed (seeds %d-%d)\n", runs, *flagSwarmFor, failed, *flagFirst, next-1)
}

// splitmix64 scatters a seed (SplitMix64's finalizer).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
