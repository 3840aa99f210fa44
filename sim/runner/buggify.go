package runner

import (
	"math/rand/v2"
	"sync"

	"github.com/jocko/jocko/io/buggify"
	"github.com/jocko/jocko/sim/trace"
)

// buggifier is the simulator's buggify.Hook. As in FoundationDB, each site
// is switched on for the whole run with probability 1/2 when first reached,
// and a switched-on site fires with its own probability each time it is
// reached; every draw comes from the run's seed, in program order, so a
// firing replays. Each firing is a trace event (counted by the host).
type buggifier struct {
	tr       *trace.Trace
	variants map[string]bool // broken variants switched on (read-only after newBuggifier)

	mu      sync.Mutex // guards rng and enabled
	rng     *rand.Rand
	enabled map[string]bool // site -> switched on for this run
}

// fireOdds is how often a switched-on site fires (1 in n). Sites reached on
// every append or response fire rarely; the rest more often.
var fireOdds = map[string]int{
	buggify.StorageRoll:       50,
	buggify.StorageShortRead:  10,
	buggify.CoreDelayResponse: 50,
	buggify.CoreEarlyTimeout:  20,
	buggify.ClusterStepDown:   4,
}

func newBuggifier(seed uint64, tr *trace.Trace, variants []string) *buggifier {
	b := &buggifier{tr: tr, variants: map[string]bool{}, enabled: map[string]bool{},
		rng: rand.New(rand.NewPCG(seed, 0xb0661f7))}
	for _, v := range variants {
		b.variants[v] = true
	}
	return b
}

func (b *buggifier) Fire(site string) bool {
	b.mu.Lock()
	on, seen := b.enabled[site]
	if !seen {
		on = b.rng.IntN(2) == 0
		b.enabled[site] = on
	}
	fire := false
	if on {
		odds := fireOdds[site]
		if odds == 0 {
			odds = 20
		}
		fire = b.rng.IntN(odds) == 0
	}
	b.mu.Unlock()
	if fire {
		b.tr.Record(trace.Buggify, trace.Str(site), 0, 0)
	}
	return fire
}

func (b *buggifier) Broken(v string) bool { return b.variants[v] }

func (b *buggifier) Intn(n int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rng.IntN(n)
}

// isVariant reports whether name is one of buggify's broken variants.
func isVariant(name string) bool {
	for _, v := range buggify.Variants {
		if v == name {
			return true
		}
	}
	return false
}
