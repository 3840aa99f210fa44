package runner

import "testing"

// TestIncarnationSeedsDistinct: every incarnation of every broker of a run,
// and of neighbouring runs, draws from its own seed (the old derivation,
// seed*1000+id*10+gen, collided once gen reached 10 or id 100).
func TestIncarnationSeedsDistinct(t *testing.T) {
	seen := map[uint64]string{}
	for seed := uint64(1); seed <= 4; seed++ {
		for id := int32(1); id <= 120; id++ {
			for gen := 1; gen <= 300; gen++ {
				s := incarnationSeed(seed, id, gen)
				if other, ok := seen[s]; ok {
					t.Fatalf("seed %d broker %d incarnation %d collides with %s", seed, id, gen, other)
				}
				seen[s] = "" // the key is enough; keep memory low
			}
		}
	}
}
