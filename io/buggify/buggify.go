// Package buggify is Jocko's one fault-injection mechanism inside production
// code, after FoundationDB's BUGGIFY. A site is a rare path the code can
// take at any time and must survive (a segment rolled early, a response
// delayed, a wait cut short, a Raft leader stepping down); a broken variant
// is a deliberately wrong behaviour that the simulator's self-test must
// catch. Both are decided by a Hook that only the simulator installs, from
// the run's seed, so a firing replays with its seed.
//
// In production no hook is installed: On and Broken are one atomic load and
// a nil check, and every site's rare path is dead code. Nothing here is a
// setting; production structs carry no fault switches.
package buggify

import "sync/atomic"

// Sites. Each is a rare path that is correct to take; the simulator fires
// them at random and its default seed set must reach every one.
const (
	// StorageRoll rolls the active segment before an append although it has room.
	StorageRoll = "storage.roll"
	// StorageShortRead makes a log read return fewer batches than fit (at
	// least one): callers must treat a read as a prefix.
	StorageShortRead = "storage.short-read"
	// CoreDelayResponse delays a response on its connection by a few ms.
	CoreDelayResponse = "core.delay-response"
	// CoreEarlyTimeout ends an acks=all or long-poll wait at once with what
	// a timeout would give (REQUEST_TIMED_OUT, or the data so far).
	CoreEarlyTimeout = "core.early-timeout"
	// ClusterStepDown makes the Raft leader hand leadership away (where
	// another voter exists) when it notices it leads.
	ClusterStepDown = "cluster.step-down"
)

// Sites lists every site, for the simulator's coverage report.
var Sites = []string{StorageRoll, StorageShortRead, CoreDelayResponse, CoreEarlyTimeout, ClusterStepDown}

// Broken variants, each caught by the simulator's self-test.
const (
	// AckBeforeFsync answers acks=all produces before the batch is durable.
	AckBeforeFsync = "ack-before-fsync"
	// ForgetCommits makes a loading group coordinator skip offset-commit
	// records: acknowledged commits vanish on restart.
	ForgetCommits = "forget-commits"
	// SkipTornTail makes log recovery keep a torn tail instead of truncating it.
	SkipTornTail = "skip-torn-tail"
	// ReuseOffset makes recovery set the log end to the last batch's base
	// offset, so the next append reuses acknowledged offsets.
	ReuseOffset = "reuse-offset"
	// SkipTruncation makes a follower skip truncating its log to the new
	// leader's before fetching: a divergent tail survives.
	SkipTruncation = "skip-truncation"
	// AckBeforeISR answers acks=all produces once the leader alone has the
	// records durable, without waiting for the ISR.
	AckBeforeISR = "ack-before-isr"
	// ElectOutsideISR makes the controller's failover elect any live
	// replica, in or out of the ISR.
	ElectOutsideISR = "elect-outside-isr"
	// StuckISR makes a leader drop every ISR expansion it would propose: a
	// follower that left the ISR never returns, so the cluster never
	// converges (and no reassignment completes).
	StuckISR = "stuck-isr"
	// IgnoreLSO makes read_committed fetches read up to the high
	// watermark with no aborted transactions, as read_uncommitted ones.
	IgnoreLSO = "ignore-lso"
	// SkipReadCRC makes log reads and the scrub skip the batch CRC check:
	// a bit flipped on disk reaches consumers and followers unnoticed.
	SkipReadCRC = "skip-read-crc"
)

// Variants lists every broken variant.
var Variants = []string{AckBeforeFsync, ForgetCommits, SkipTornTail, ReuseOffset, SkipTruncation, AckBeforeISR, ElectOutsideISR, StuckISR, IgnoreLSO, SkipReadCRC}

// Hook decides. The simulator's implementation draws from the run's seed.
type Hook interface {
	// Fire reports whether site's rare path is taken now.
	Fire(site string) bool
	// Broken reports whether the broken variant is switched on.
	Broken(variant string) bool
	// Intn returns a value in [0, n) for a site that needs an amount (a
	// delay); n > 0.
	Intn(n int) int
}

type box struct{ h Hook }

var hook atomic.Pointer[box]

// Install makes h decide every site until the returned function is called.
// Only the simulator and tests call it.
func Install(h Hook) (uninstall func()) {
	hook.Store(&box{h})
	return func() { hook.Store(nil) }
}

// Active reports whether a hook is installed (only ever under the
// simulator): sites that need a goroutine of their own start it only then.
func Active() bool { return hook.Load() != nil }

// On reports whether the rare path at site is to be taken now. Without a
// hook (production) it is always false.
func On(site string) bool {
	b := hook.Load()
	return b != nil && b.h.Fire(site)
}

// Broken reports whether a broken variant is switched on (never in production).
func Broken(variant string) bool {
	b := hook.Load()
	return b != nil && b.h.Broken(variant)
}

// Intn returns the hook's draw in [0, n), or 0 without a hook.
func Intn(n int) int {
	b := hook.Load()
	if b == nil || n <= 0 {
		return 0
	}
	return b.h.Intn(n)
}

// Only is a hook for tests: the named broken variants are on and no site fires.
func Only(variants ...string) Hook { return only(variants) }

type only []string

func (only) Fire(string) bool { return false }
func (only) Intn(int) int     { return 0 }
func (o only) Broken(v string) bool {
	for _, x := range o {
		if x == v {
			return true
		}
	}
	return false
}
