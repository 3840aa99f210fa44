package quota

import "testing"

// TestRateWorkedNumbers checks Kafka's Rate and throttle time against
// numbers worked by hand: quota 1000 B/s, 11 windows of 1 s.
func TestRateWorkedNumbers(t *testing.T) {
	t.Parallel()
	var r Rate
	const t0 = 1_000_000
	r.Record(5000, t0)
	// One window so far: measured over the minimum of 10 windows.
	if got := r.Measure(t0); got != 500 {
		t.Fatalf("rate after 5000 B = %v, want 500", got)
	}
	if got := r.ThrottleMs(1000, t0); got != 0 {
		t.Fatalf("throttle under the quota = %d", got)
	}
	r.Record(7000, t0)
	// 12000 B over 10 s = 1200 B/s: (1200-1000)/1000 * 10000 ms.
	if got := r.ThrottleMs(1000, t0); got != 2000 {
		t.Fatalf("throttle at 1200 B/s = %d, want 2000", got)
	}
	// 10.5 s later the span is 10.5 s: 12000/10.5 = 1142.857 B/s,
	// (142.857/1000) * 10500 = 1500 ms.
	if got := r.ThrottleMs(1000, t0+10_500); got != 1500 {
		t.Fatalf("throttle 10.5 s later = %d, want 1500", got)
	}
	// 11 s after the first window began, it has expired.
	if got := r.Measure(t0 + 11_000); got != 0 {
		t.Fatalf("rate after the samples expired = %v", got)
	}
	if !r.Idle(t0 + 11_000) {
		t.Fatal("not idle 11 s after the last record")
	}
}

// TestRateWindows: records in successive windows add up over the span
// from the oldest window's start, and the oldest drops out after 11.
func TestRateWindows(t *testing.T) {
	t.Parallel()
	var r Rate
	for i := range int64(15) {
		r.Record(1000, i*WindowMs)
	}
	// At 14 s windows 4..14 (11 of them) remain: 11000 B over
	// 14000-4000 = 10 s.
	if got := r.Measure(14 * WindowMs); got != 1100 {
		t.Fatalf("rate = %v, want 1100", got)
	}
	// (1100-1000)/1000 * 10000 = 1000 ms.
	if got := r.ThrottleMs(1000, 14*WindowMs); got != 1000 {
		t.Fatalf("throttle = %d, want 1000", got)
	}
	// A negative record (a throttled fetch's bytes given back) lowers it.
	r.Record(-1000, 14*WindowMs)
	if got := r.ThrottleMs(1000, 14*WindowMs); got != 0 {
		t.Fatalf("throttle after giving back = %d", got)
	}
}

// TestThrottleCapped: one huge record waits at most ThrottleMsMax.
func TestThrottleCapped(t *testing.T) {
	t.Parallel()
	var r Rate
	r.Record(1e9, 5)
	if got := r.ThrottleMs(1000, 5); got != ThrottleMsMax {
		t.Fatalf("throttle = %d, want %d", got, ThrottleMsMax)
	}
}
