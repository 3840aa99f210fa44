package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jocko/jocko/core"
)

// metricsListen is the --metrics-listen flag: unset, the Kafka port plus
// three; set empty or to "off", no metrics listener.
type metricsListen struct {
	addr string
	set  bool
}

func (m *metricsListen) String() string { return m.addr }
func (m *metricsListen) Set(s string) error {
	m.addr, m.set = s, true
	return nil
}

// metricsFlag adds --metrics-listen to the broker's flags.
func metricsFlag(fs *flag.FlagSet) *metricsListen {
	m := &metricsListen{}
	fs.Var(m, "metrics-listen", "Prometheus /metrics, /healthz and /readyz listener HOST:PORT, or 'off' (default: the Kafka port plus three)")
	return m
}

// brokerMetrics is the broker's metrics endpoint: a registry with the
// Prometheus core.Metrics, the scrape-time collector and the Go runtime's,
// served over HTTP beside /healthz and /readyz.
type brokerMetrics struct {
	addr     string // where to listen
	explicit bool   // given by flag or variable: failing to listen is fatal
	reg      *prometheus.Registry
	prom     *promMetrics
}

// newBrokerMetrics resolves the listener for the Kafka listener listen;
// nil when metrics are off.
func newBrokerMetrics(flagVal *metricsListen, listen string) *brokerMetrics {
	addr := core.MetricsAddr(listen)
	if flagVal.set {
		addr = flagVal.addr
	}
	if addr == "" || addr == "off" {
		return nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &brokerMetrics{addr: addr, explicit: flagVal.set, reg: reg, prom: newPromMetrics(reg)}
}

// hooks is what the broker measures with: nil (not a nil *promMetrics)
// when metrics are off, so the broker times nothing.
func (m *brokerMetrics) hooks() core.Metrics {
	if m == nil {
		return nil
	}
	return m.prom
}

// serve listens and serves b's metrics until the returned stop is called
// (which waits for the server to end). A listener that cannot be bound
// is an error if it was asked for; the default one only gives a warning
// (another process, or another broker's Raft or gossip port, may have
// it), and the broker runs without metrics.
func (m *brokerMetrics) serve(b *core.Broker, log *slog.Logger) (stop func(), err error) {
	if m == nil {
		log.Info("metrics off")
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", m.addr)
	if err != nil {
		if m.explicit {
			return nil, fmt.Errorf("--metrics-listen %s: %w", m.addr, err)
		}
		log.Warn("metrics off: cannot listen on the default address; set --metrics-listen", "addr", m.addr, "err", err)
		return func() {}, nil
	}
	m.reg.MustRegister(&statsCollector{stats: b.Stats, lagMax: groupLagSeriesMax})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if why := notReady(b); why != "" {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener failed", "err", err)
		}
	}()
	log.Info("metrics listening", "metrics", ln.Addr().String(), "paths", "/metrics /healthz /readyz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}, nil
}

// notReady says why b does not serve yet ("" once it does): ready means
// it serves requests with caught-up metadata (registered and unfenced)
// and the partitions it hosted at start are open.
func notReady(b *core.Broker) string {
	select {
	case <-b.Ready():
	default:
		return "not serving yet: waiting for the metadata log and to be unfenced"
	}
	select {
	case <-b.PartitionsOpen():
	default:
		return "serving, but still opening the partitions it hosted at start"
	}
	return ""
}
