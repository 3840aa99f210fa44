package runner

import (
	"testing"
	"time"
)

// TestPausedClockStopsItsCallers: while a pause lasts, a call into the
// machine's clock does not return; it returns once the pause ends, with
// the time that passed meanwhile.
func TestPausedClockStopsItsCallers(t *testing.T) {
	c := newSkewClock(1, 1, 0, 0)
	c.pause()
	before := time.Now()
	got := make(chan time.Time, 1)
	go func() { got <- c.Now() }()
	select {
	case <-got:
		t.Fatal("Now returned during a pause")
	case <-time.After(50 * time.Millisecond):
	}
	c.resume()
	select {
	case now := <-got:
		if now.Sub(before) < 50*time.Millisecond {
			t.Fatalf("Now after the pause reads %v, %v after it began: the pause's time is missing", now, now.Sub(before))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Now did not return after the pause ended")
	}
	c.resume() // a second resume is a no-op
	if _, ok := <-c.After(time.Millisecond); !ok {
		t.Fatal("After after the pause")
	}
}
