// Package quota is the pure part of client quotas (KIP-13, KIP-219,
// KIP-546): the entity keys quotas are stored under, Kafka's precedence
// between them, and the byte-rate accounting and throttle time of Kafka's
// ClientQuotaManager. Inputs carry the time (ms); nothing here starts a
// goroutine or reads a clock.
package quota

import "math"

// Kafka's quota.window.num and quota.window.size.seconds defaults.
const (
	WindowNum = 11
	WindowMs  = 1000
)

// ThrottleMsMax caps a throttle time: the whole sampled span, after which
// every sample that caused it has expired.
const ThrottleMsMax = WindowNum * WindowMs

// sample is one window of a Rate: the value recorded in it and the time
// the window began (Kafka's Sample.lastWindowMs).
type sample struct {
	startMs int64
	value   float64
}

// Rate is Kafka's Rate over a SampledStat: a sum over at most WindowNum
// windows of WindowMs, divided by the time they span, counted as at least
// WindowNum-1 whole windows (so a first burst is measured over ten
// seconds, not over the instant it took). Not safe for concurrent use.
type Rate struct {
	samples []sample
	current int
	lastMs  int64 // the time of the last Record
}

// Record adds v at nowMs, starting a new window when the current one is
// WindowMs old (Kafka's SampledStat.record).
func (r *Rate) Record(v float64, nowMs int64) {
	r.lastMs = nowMs
	if len(r.samples) == 0 {
		r.samples = append(r.samples, sample{startMs: nowMs})
	}
	if nowMs-r.samples[r.current].startMs >= WindowMs {
		r.current = (r.current + 1) % WindowNum
		if r.current >= len(r.samples) {
			r.samples = append(r.samples, sample{startMs: nowMs})
		} else {
			r.samples[r.current] = sample{startMs: nowMs}
		}
	}
	r.samples[r.current].value += v
}

// purge resets the windows that began WindowNum windows or more before
// nowMs (Kafka's purgeObsoleteSamples).
func (r *Rate) purge(nowMs int64) {
	for i := range r.samples {
		if nowMs-r.samples[i].startMs >= WindowNum*WindowMs {
			r.samples[i] = sample{startMs: nowMs}
		}
	}
}

// windowMs is the span the rate is measured over (Kafka's Rate.windowSize):
// from the oldest window's start to nowMs, at least WindowNum-1 windows,
// at least 1 ms.
func (r *Rate) windowMs(nowMs int64) int64 {
	r.purge(nowMs)
	oldest := nowMs
	for _, s := range r.samples {
		oldest = min(oldest, s.startMs)
	}
	elapsed := nowMs - oldest
	if full := elapsed / WindowMs; full < WindowNum-1 {
		elapsed += (WindowNum - 1 - full) * WindowMs
	}
	return max(elapsed, 1)
}

// Measure is the rate per second at nowMs.
func (r *Rate) Measure(nowMs int64) float64 {
	r.purge(nowMs)
	var sum float64
	for _, s := range r.samples {
		sum += s.value
	}
	return sum / (float64(r.windowMs(nowMs)) / 1000)
}

// ThrottleMs is how long a client over bound (per second) waits at nowMs
// (Kafka's ClientQuotaManager.throttleTime): the excess over the bound, as
// a share of the bound, times the measured span; 0 at or under the bound,
// at most ThrottleMsMax.
func (r *Rate) ThrottleMs(bound float64, nowMs int64) int64 {
	rate := r.Measure(nowMs)
	if rate <= bound || bound <= 0 {
		return 0
	}
	t := math.Round((rate - bound) / bound * float64(r.windowMs(nowMs)))
	return int64(min(t, ThrottleMsMax))
}

// Idle reports whether nothing recorded is still counted at nowMs.
func (r *Rate) Idle(nowMs int64) bool {
	return nowMs-r.lastMs >= WindowNum*WindowMs
}
