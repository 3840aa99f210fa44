package runner

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
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
	real := c.Clock.Now()
	return real.Add(c.offset(real))
}

func (c *skewClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c *skewClock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }

// WithDeadline takes a deadline read off this clock.
func (c *skewClock) WithDeadline(parent context.Context, d time.Time) (context.Context, context.CancelFunc) {
	return c.Clock.WithDeadline(parent, d.Add(-c.offset(c.Clock.Now())))
}
