// Command jocko-bench measures Jocko against franz-go's in-memory kfake with
// the same franz-go client and options on both, over loopback.
//
// For each target and for topics of 1 and 8 partitions it:
//
//   - produce: writes -records records of 1 KiB (acks=all, idempotent, as
//     fast as the client can) and times it until every record is acknowledged;
//   - consume: reads them all back from the start with a fresh client;
//   - fetch: reads them back with raw Fetch requests (franz-go's kmsg through
//     a kgo client) without decoding records: what the broker serves, apart
//     from the consumer library's per-record work, which caps "consume" near
//     1 GB/s on a 2-core machine whatever the broker;
//   - produce-latency: produces at a fixed -rate for -duration with no linger
//     and reports the p50/p99/max time from Produce to acknowledgement.
//
// With -latency it runs the ack-latency benchmark instead (latency.go):
// acks=all at -rate records/s on one partition whose segments roll and are
// deleted about every second, with and without big reads, next to the
// disk's own fsync latency.
//
// With -cluster it runs the replication benchmark instead (cluster.go):
// acks=all produce of a fixed amount of data at replication factor 1 on one
// broker, then at 3 on three broker processes, with the bytes the brokers
// wrote to disk per second and the RF=3/RF=1 ratios.
//
// Every result is one JSON line on stdout (MB is 10^6 bytes of record
// values); when both targets ran, ratio lines follow with jocko_over_kfake
// and whether the goal is met (Jocko, fsyncing every acks=all batch, at
// least as fast as kfake on produce and at least twice as fast on consume).
// Progress and broker trouble go to stderr.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type config struct {
	records  int
	rate     int
	duration time.Duration
	brokers  string // an already running Jocko; empty means start one
	target   string // jocko, kfake or both
	parts    []int
	valueLen int
	jockoBin string // a prebuilt jocko; empty means build one

	cluster      bool // the replication benchmark instead (cluster.go)
	clusterMB    int  // payload per replication run, 10^6 bytes
	clusterParts int  // partitions of the replicated topics
	brokerArgs   []string

	latency         bool          // the ack-latency benchmark instead (latency.go)
	latencyDuration time.Duration // length of each of its phases
	latencyPhases   []string      // which of its phases run
	brokerMetrics   string        // -brokers' /metrics HOST:PORT, if known
}

// result is one JSON line; latency fields are set only for produce-latency.
type result struct {
	Target      string  `json:"target"`
	Test        string  `json:"test"`
	Partitions  int     `json:"partitions"`
	Records     int64   `json:"records"`
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
	MBPerS      float64 `json:"mb_per_s"`
	RecordsPerS float64 `json:"records_per_s"`
	Rate        int     `json:"rate,omitempty"`
	P50ms       float64 `json:"p50_ms,omitempty"`
	P99ms       float64 `json:"p99_ms,omitempty"`
	MaxMs       float64 `json:"max_ms,omitempty"`
	Errors      int64   `json:"errors,omitempty"`

	// Set by the replication benchmark only.
	Brokers            int     `json:"brokers,omitempty"`
	ReplicationFactor  int     `json:"replication_factor,omitempty"`
	DiskBytes          int64   `json:"disk_write_bytes,omitempty"`
	DiskBytesPerS      float64 `json:"disk_bytes_per_s,omitempty"`
	DiskMBPerS         float64 `json:"disk_mb_per_s,omitempty"`
	DiskBytesPerBroker []int64 `json:"disk_write_bytes_per_broker,omitempty"`
	DirGrowthBytes     int64   `json:"dir_growth_bytes,omitempty"`
	BrokerCPUSeconds   float64 `json:"broker_cpu_seconds,omitempty"`
	ClientCPUSeconds   float64 `json:"client_cpu_seconds,omitempty"`
}

type ratio struct {
	Test           string  `json:"test"`
	Partitions     int     `json:"partitions"`
	Metric         string  `json:"metric"`
	JockoOverKfake float64 `json:"jocko_over_kfake"`
	Goal           float64 `json:"goal,omitempty"`
	Met            *bool   `json:"met,omitempty"`
}

func main() {
	var cfg config
	flag.IntVar(&cfg.records, "records", 500_000, "records per throughput test")
	flag.IntVar(&cfg.rate, "rate", 2000, "records/s in the produce-latency test")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of the produce-latency test")
	flag.StringVar(&cfg.brokers, "brokers", "", "HOST:PORT of a running Jocko (default: build and start one)")
	flag.StringVar(&cfg.target, "target", "both", "jocko, kfake or both")
	flag.StringVar(&cfg.jockoBin, "jocko-bin", "", "a jocko binary to run (default: build cmd/jocko)")
	flag.BoolVar(&cfg.cluster, "cluster", false, "run the replication benchmark instead: acks=all produce at RF=1 on one broker, then RF=3 on three")
	flag.IntVar(&cfg.clusterMB, "cluster-mb", 2000, "payload MB (10^6 bytes) produced per replication run")
	flag.IntVar(&cfg.clusterParts, "cluster-partitions", 6, "partitions of the replication benchmark's topics")
	flag.BoolVar(&cfg.latency, "latency", false, "run the ack-latency benchmark instead: a no-broker floor (loopback, write, group-commit fsync), then -rate records/s, acks=all, one partition, a segment rolled and one deleted about every second, with and without big reads, next to the disk's fsync latency and the broker's own figures")
	flag.DurationVar(&cfg.latencyDuration, "latency-duration", 20*time.Second, "length of each phase of the -latency benchmark")
	flag.StringVar(&cfg.brokerMetrics, "broker-metrics", "", "HOST:PORT of the -brokers Jocko's /metrics, for the -latency benchmark's broker-side figures (default: none)")
	phases := flag.String("latency-phases", "floor,steady,rolls,rolls-reads", "phases of the -latency benchmark to run, comma-separated")
	reader := flag.String("latency-reader", "", "internal: be the -latency benchmark's big reader of ADDR,TOPIC until standard input closes")
	conns := connsFlags()
	brokerArgs := flag.String("broker-args", "", "extra flags for every broker of the replication benchmark, space-separated (e.g. \"--replica.fetch.max.bytes 4194304\")")
	flag.Parse()
	cfg.brokerArgs = strings.Fields(*brokerArgs)
	cfg.latencyPhases = strings.Split(*phases, ",")
	for _, name := range cfg.latencyPhases {
		if !slices.ContainsFunc(latencyPhases, func(ph latencyPhase) bool { return ph.name == name }) {
			fmt.Fprintf(os.Stderr, "jocko-bench: -latency-phases: no phase %q (the phases: floor, steady, rolls, rolls-reads)\n", name)
			os.Exit(2)
		}
	}
	if *reader != "" {
		if err := runLatencyReader(*reader, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "jocko-bench: reader:", err)
			os.Exit(1)
		}
		return
	}
	cfg.parts = []int{1, 8}
	cfg.valueLen = 1024
	if cfg.target != "jocko" && cfg.target != "kfake" && cfg.target != "both" {
		fmt.Fprintln(os.Stderr, "jocko-bench: -target must be jocko, kfake or both")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := run
	if cfg.cluster {
		run = runCluster
	}
	if cfg.latency {
		run = runLatency
	}
	if conns.on {
		run = func(ctx context.Context, cfg config, out io.Writer) error { return runConns(ctx, cfg, conns, out) }
	}
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "jocko-bench:", err)
		os.Exit(1)
	}
}

// run benchmarks the selected targets, writing JSON lines to out. Both
// targets stay up and take turns at each scenario, so that whatever else
// loads the machine weighs on both alike.
func run(ctx context.Context, cfg config, out io.Writer) (err error) {
	warnIfBusy()
	var targets []*target
	defer func() {
		for _, tg := range targets {
			if cerr := tg.close(); err == nil && cerr != nil {
				err = fmt.Errorf("%s: %w", tg.name, cerr)
			}
		}
	}()
	for _, name := range []string{"jocko", "kfake"} {
		if cfg.target != "both" && cfg.target != name {
			continue
		}
		tg, err := startTarget(ctx, name, cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		targets = append(targets, tg)
		if tg.topics, err = createTopics(ctx, tg, cfg.parts); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	enc := json.NewEncoder(out)
	results := map[string][]result{}
	tests := []func(context.Context, config, string, string, int) (result, error){produce, consume, fetchRaw, produceLatency}
	for i, p := range cfg.parts {
		for _, test := range tests {
			for _, tg := range targets {
				r, err := test(ctx, cfg, tg.addr, tg.topics[i], p)
				if err != nil {
					return fmt.Errorf("%s: %s %d partitions: %w", tg.name, r.Test, p, err)
				}
				r.Target = tg.name
				results[tg.name] = append(results[tg.name], r)
				enc.Encode(r)
			}
		}
	}
	if len(targets) == 2 {
		for _, r := range ratios(results["jocko"], results["kfake"]) {
			enc.Encode(r)
		}
	}
	return nil
}

// ratios pairs Jocko's results with kfake's: throughput as records/s
// (higher is better), latency as p99 (lower is better).
func ratios(jocko, kfake []result) []ratio {
	goals := map[string]float64{"produce": 1, "consume": 2, "fetch": 2}
	var out []ratio
	for _, j := range jocko {
		for _, k := range kfake {
			if j.Test != k.Test || j.Partitions != k.Partitions {
				continue
			}
			r := ratio{Test: j.Test, Partitions: j.Partitions, Metric: "records_per_s"}
			if j.Test == "produce-latency" {
				r.Metric = "p99_ms"
				r.JockoOverKfake = div(j.P99ms, k.P99ms)
			} else {
				r.JockoOverKfake = div(j.RecordsPerS, k.RecordsPerS)
				r.Goal = goals[j.Test]
				met := r.JockoOverKfake >= r.Goal
				r.Met = &met
			}
			out = append(out, r)
		}
	}
	return out
}

// div is a/b to three decimals, 0 when b is 0 (JSON has no Inf).
func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round(a / b)
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// warnIfBusy notes on stderr when other work is loading the machine, which
// makes every number here, latency most of all, noisy.
func warnIfBusy() {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return
	}
	var load float64
	if _, err := fmt.Sscan(string(b), &load); err == nil && load > float64(runtime.NumCPU()) {
		logf("warning: load average %.1f on %d CPUs; results will be noisy", load, runtime.NumCPU())
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "jocko-bench: "+format+"\n", args...)
}
