package main

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/core"
)

// promMetrics is core.Metrics on Prometheus: request counts and latency
// histograms per API, error counts per API and code, and the partition
// fsync latency and group-commit batch histograms. An API's series are
// made at its first request (so the APIs nobody calls export nothing) and
// kept by key: a request then costs an atomic load, two atomic adds and a
// bucket search, no map or lock; an error's series is made once per (API,
// code).
type promMetrics struct {
	perAPI [kmsg.MaxKey + 1]atomic.Pointer[apiMetrics]
	reqVec *prometheus.CounterVec
	latVec *prometheus.HistogramVec
	errVec *prometheus.CounterVec
	errs   sync.Map // errKey -> prometheus.Counter, a cache of errVec's children
	fsync  prometheus.Histogram
	batch  prometheus.Histogram
}

type errKey struct{ key, code int16 }

// apiMetrics are one API's series.
type apiMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

var _ core.Metrics = (*promMetrics)(nil)

// newPromMetrics makes the metrics and registers them with reg.
func newPromMetrics(reg prometheus.Registerer) *promMetrics {
	reqVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jocko_requests_total",
		Help: "Kafka requests served, by API.",
	}, []string{"api"})
	latVec := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "jocko_request_duration_seconds",
		Help: "Time from reading a Kafka request to writing its response (acks=all waits and fetch long polls included), by API.",
		// 100 us to about 13 s.
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
	}, []string{"api"})
	m := &promMetrics{
		reqVec: reqVec,
		latVec: latVec,
		errVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jocko_request_errors_total",
			Help: "Error codes in Kafka responses (one per partition, topic or group that carries one), by API and code.",
		}, []string{"api", "code", "error"}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "jocko_log_fsync_duration_seconds",
			Help: "Time of each partition log fsync (a group commit).",
			// 50 us to about 1.6 s.
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jocko_log_fsync_batch_records",
			Help:    "Records made durable by one partition log fsync: the group commit's batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 16),
		}),
	}
	reg.MustRegister(reqVec, latVec, m.errVec, m.fsync, m.batch)
	return m
}

// apiName is the label of API key k: Kafka's name for it.
func apiName(k int16) string {
	if name := kmsg.NameForKey(k); name != "" {
		return name
	}
	return strconv.Itoa(int(k))
}

func (m *promMetrics) RequestDone(key int16, d time.Duration) {
	if key < 0 || key > kmsg.MaxKey {
		return
	}
	a := m.perAPI[key].Load()
	if a == nil {
		// Two first requests may both get here: WithLabelValues gives
		// both the same series.
		name := apiName(key)
		a = &apiMetrics{requests: m.reqVec.WithLabelValues(name), latency: m.latVec.WithLabelValues(name)}
		m.perAPI[key].Store(a)
	}
	a.requests.Inc()
	a.latency.Observe(d.Seconds())
}

func (m *promMetrics) ResponseError(key, code int16, n int) {
	k := errKey{key, code}
	c, ok := m.errs.Load(k)
	if !ok {
		name := strconv.Itoa(int(code))
		if e := kerr.ErrorForCode(code); e != nil {
			if ke, ok := e.(*kerr.Error); ok {
				name = ke.Message
			}
		}
		c, _ = m.errs.LoadOrStore(k, m.errVec.WithLabelValues(apiName(key), strconv.Itoa(int(code)), name))
	}
	c.(prometheus.Counter).Add(float64(n))
}

func (m *promMetrics) LogSynced(d time.Duration, records int64) {
	m.fsync.Observe(d.Seconds())
	m.batch.Observe(float64(records))
}
