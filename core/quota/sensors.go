package quota

// sensorsMax bounds the sensors kept; past it, idle ones (whose rate is 0)
// are dropped, which changes no measurement.
const sensorsMax = 10_000

// Sensors is the rate per sensor key (Resolved.Sensor). Not safe for
// concurrent use: the broker holds a lock around it.
type Sensors struct {
	rates map[string]*Rate
}

// Record counts v bytes against q at nowMs and returns how long the client
// is throttled (0: not). A zero Resolved records nothing.
func (s *Sensors) Record(q Resolved, v float64, nowMs int64) int64 {
	if q.Sensor == "" {
		return 0
	}
	if s.rates == nil {
		s.rates = map[string]*Rate{}
	}
	r := s.rates[q.Sensor]
	if r == nil {
		if len(s.rates) >= sensorsMax {
			s.expire(nowMs)
		}
		r = &Rate{}
		s.rates[q.Sensor] = r
	}
	r.Record(v, nowMs)
	return r.ThrottleMs(q.Bound, nowMs)
}

// Unrecord takes v back (a throttled fetch answers no records, so its
// bytes do not count, as Kafka's unrecordQuotaSensor does).
func (s *Sensors) Unrecord(q Resolved, v float64, nowMs int64) {
	if r := s.rates[q.Sensor]; r != nil {
		r.Record(-v, nowMs)
	}
}

// BytesMax is the most a response may carry without being throttled on
// its own (Kafka's getMaxValueInQuotaWindow): the bound over WindowNum-1
// windows.
func (q Resolved) BytesMax() float64 {
	return q.Bound * (WindowNum - 1) * WindowMs / 1000
}

func (s *Sensors) expire(nowMs int64) {
	for k, r := range s.rates {
		if r.Idle(nowMs) {
			delete(s.rates, k)
		}
	}
}

// Len is the number of sensors kept.
func (s *Sensors) Len() int { return len(s.rates) }
