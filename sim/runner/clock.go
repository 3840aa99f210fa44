package runner

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/jocko/jocko/sim/gate"
)

// skewClock is one simulated machine's wall clock: the virtual time, off
// by a constant skew, drifting (running fast or slow by driftPPM parts per
// million) and stepped by clock-jump faults, as an unsynchronised or
// NTP-stepped machine clock is. What the broker reads with Now (record and
// append timestamps, retention, group, transaction and producer expiry,
// and the deadlines it computes from Now) sees it; timers and sleeps run
// on durations, as the kernel's do.
type skewClock struct {
	clock.Clock
	start    time.Time
	skew     time.Duration
	driftPPM int64
	jump     atomic.Int64 // ns a clock-jump fault added
	// paused, closed while a pause fault lasts, holds every call of the
	// broker into its clock where it starts.
	paused gate.Gate
}

// newSkewClock draws broker id's clock from the run's seed: skew within
// ±maxSkew, drift within ±maxPPM.
func newSkewClock(seed uint64, id int32, maxSkew time.Duration, maxPPM int64) *skewClock {
	rng := rand.New(rand.NewPCG(splitmix(seed^0xc10c), uint64(uint32(id))))
	c := &skewClock{Clock: clock.New(), start: time.Now()}
	if maxSkew > 0 {
		c.skew = time.Duration(rng.Int64N(2*int64(maxSkew)+1)) - maxSkew
	}
	if maxPPM > 0 {
		c.driftPPM = rng.Int64N(2*maxPPM+1) - maxPPM
	}
	return c
}

func (c *skewClock) offset(real time.Time) time.Duration {
	return c.skew + time.Duration(int64(real.Sub(c.start))*c.driftPPM/1_000_000) + time.Duration(c.jump.Load())
}

func (c *skewClock) Now() time.Time {
	c.gate()
	real := c.Clock.Now()
	return real.Add(c.offset(real))
}

func (c *skewClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c *skewClock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }

// WithDeadline takes a deadline read off this clock.
func (c *skewClock) WithDeadline(parent context.Context, d time.Time) (context.Context, context.CancelFunc) {
	c.gate()
	return c.Clock.WithDeadline(parent, d.Add(-c.offset(c.Clock.Now())))
}

// A pause fault stops the machine as SIGSTOP stops a process: the broker's
// goroutines stop at their next call into its clock, disk or network (the
// disk and the network hold them; this gate does the clock), and resume
// when the pause ends, seeing the time jump. A timer that falls due during
// the pause wakes its goroutine, which stops at its next such call (most
// read the clock first thing); SIGCONT fires such timers at once, so the
// difference is only in what a goroutine does before it touches the
// machine. Pure computation (hashicorp/raft reads the time package
// directly) runs on, as it would on another core.

// pause closes the gate; resume opens it again.
func (c *skewClock) pause()  { c.paused.Close() }
func (c *skewClock) resume() { c.paused.Open() }

// gate waits while the machine is paused.
func (c *skewClock) gate() { c.paused.Wait() }

func (c *skewClock) After(d time.Duration) <-chan time.Time { c.gate(); return c.Clock.After(d) }
func (c *skewClock) AfterFunc(d time.Duration, f func()) *clock.Timer {
	c.gate()
	return c.Clock.AfterFunc(d, f)
}
func (c *skewClock) Sleep(d time.Duration)                 { c.gate(); c.Clock.Sleep(d); c.gate() }
func (c *skewClock) Tick(d time.Duration) <-chan time.Time { c.gate(); return c.Clock.Tick(d) }
func (c *skewClock) Ticker(d time.Duration) *clock.Ticker  { c.gate(); return c.Clock.Ticker(d) }
func (c *skewClock) Timer(d time.Duration) *clock.Timer    { c.gate(); return c.Clock.Timer(d) }
func (c *skewClock) WithTimeout(parent context.Context, t time.Duration) (context.Context, context.CancelFunc) {
	c.gate()
	return c.Clock.WithTimeout(parent, t)
}
