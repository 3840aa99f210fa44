package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The -latency benchmark (issue 9, item 6): acks=all ack latency of one
// partition at -rate records/s of -value-len bytes, with segments small
// enough to roll about every second and retention deleting one about every
// second, next to the disk's own fsync latency measured in the same run on
// the same file system (just before and just after each phase). The goal:
// ack p99 within 2x the disk's fsync p99, p99.9 within 4x, i.e. rolls,
// retention and big reads do not show in the tail.
//
// First the floor (latency_floor.go): the same rate with no broker, a
// minimal server on loopback that fsyncs and answers; then three phases on
// one broker: "steady" (default segments: no roll, the control), "rolls"
// (rolls and retention), then "rolls-reads", where a reader in another
// process also fetches the partition from its log start (whole segments)
// every latencyReadEvery.

// latency benchmark constants.
const (
	latencyProbe      = 3 * time.Second       // fsync probe before and after each phase
	latencyProbeEvery = 10 * time.Millisecond // and a paced one during it
	latencyWarmup     = 200                   // records acknowledged before timing: client start-up is not latency
	latencyReadEvery  = 250 * time.Millisecond
	latencySegments   = 4 // retention.bytes, in segments
)

// latencyPhase is one measured phase.
type latencyPhase struct {
	name    string
	floor   bool // no broker: the machine's floor (latency_floor.go)
	rolls   bool // small segments and retention
	readers bool
}

// latencyPhases are the phases, in the order they run: the floor first, so
// that the broker's phases can be set against it.
var latencyPhases = []latencyPhase{
	{name: "floor", floor: true},
	{name: "steady"},
	{name: "rolls", rolls: true},
	{name: "rolls-reads", rolls: true, readers: true},
}

// latencyRecordOverhead is what a one-record batch adds to its value on
// the wire and on disk: a batch header and a record header.
const latencyRecordOverhead = 80

// latencyResult is the -latency JSON line of a phase: the produce side as
// result, with the disk's fsync figures and the goals next to it.
type latencyResult struct {
	result
	P999ms         float64 `json:"p999_ms"`
	SegmentBytes   int64   `json:"segment_bytes,omitempty"` // 0: the broker's default
	SegmentsRolled int64   `json:"segments_rolled"`
	BigReads       int64   `json:"big_reads,omitempty"`
	BigReadMB      float64 `json:"big_read_mb,omitempty"`
	FsyncSamples   int     `json:"fsync_samples"`
	FsyncP50ms     float64 `json:"fsync_p50_ms"`
	FsyncP99ms     float64 `json:"fsync_p99_ms"`
	FsyncP999ms    float64 `json:"fsync_p999_ms"`
	P99OverFsync   float64 `json:"p99_over_fsync_p99"`
	P999OverFsync  float64 `json:"p999_over_fsync_p99"`
	// An fsync every latencyProbeEvery during the phase: the disk (and
	// the CPUs) as the broker had them, for telling a noisy machine from
	// a slow broker.
	FsyncDuringP99ms  float64 `json:"fsync_during_p99_ms"`
	FsyncDuringP999ms float64 `json:"fsync_during_p999_ms"`
	Met               bool    `json:"met"` // p99 <= 2x and p99.9 <= 4x the fsync p99
	// The broker's phases next to the floor measured in the same run:
	// what the broker adds to the least an fsynced answer costs here.
	P99OverFloor  float64 `json:"p99_over_floor_p99,omitempty"`
	P999OverFloor float64 `json:"p999_over_floor_p999,omitempty"`
	// The broker's own Produce request durations in the phase
	// (latency_broker.go): its share of the client's figures.
	BrokerP99ms  float64 `json:"broker_p99_ms,omitempty"`
	BrokerP999ms float64 `json:"broker_p999_ms,omitempty"`
}

// runLatency runs the -latency benchmark against a Jocko it starts (or
// -brokers), writing one JSON line per phase to out.
func runLatency(ctx context.Context, cfg config, out io.Writer) error {
	warnIfBusy()
	dir, err := os.MkdirTemp("", "jocko-bench-latency")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addr, metrics := cfg.brokers, cfg.brokerMetrics
	if addr == "" {
		bin, err := buildJocko(ctx, dir, cfg.jockoBin)
		if err != nil {
			return err
		}
		if metrics, err = freeLoopbackAddr(); err != nil {
			return err
		}
		p, err := launchJocko(ctx, bin, filepath.Join(dir, "data"), "--log.retention.check.interval.ms", "1000", "--metrics-listen", metrics)
		if err != nil {
			return err
		}
		defer p.stop(0)
		addr = p.addr
	}
	// One record a batch (no linger): about a second of records a segment.
	segBytes := int64(cfg.rate) * int64(cfg.valueLen+latencyRecordOverhead)
	enc := json.NewEncoder(out)
	var floor *latencyResult
	for _, ph := range latencyPhases {
		if !slices.Contains(cfg.latencyPhases, ph.name) {
			continue
		}
		topic := fmt.Sprintf("latency-%s-%d", ph.name, time.Now().UnixNano())
		seg := int64(0) // the broker's default
		if ph.rolls {
			seg = segBytes
		}
		if !ph.floor {
			if err := createLatencyTopic(ctx, addr, topic, seg); err != nil {
				return err
			}
		}
		before, err := probeFsync(dir, latencyProbe)
		if err != nil {
			return err
		}
		pctx, stopProbe := context.WithCancel(ctx)
		during := make(chan []time.Duration, 1)
		go func() { during <- probePaced(pctx, dir, latencyProbeEvery) }()
		var r latencyResult
		if ph.floor {
			r, err = latencyFloor(ctx, cfg, dir)
		} else {
			r, err = latencyRun(ctx, cfg, addr, metrics, topic, seg, ph)
		}
		stopProbe()
		ds := <-during
		if err != nil {
			return fmt.Errorf("%s: %w", ph.name, err)
		}
		slices.Sort(ds)
		r.FsyncDuringP99ms, r.FsyncDuringP999ms = quantileMs(ds, 0.99), quantileMs(ds, 0.999)
		after, err := probeFsync(dir, latencyProbe)
		if err != nil {
			return err
		}
		fs := append(before, after...)
		slices.Sort(fs)
		r.FsyncSamples = len(fs)
		r.FsyncP50ms, r.FsyncP99ms, r.FsyncP999ms = quantileMs(fs, 0.5), quantileMs(fs, 0.99), quantileMs(fs, 0.999)
		r.P99OverFsync, r.P999OverFsync = div(r.P99ms, r.FsyncP99ms), div(r.P999ms, r.FsyncP99ms)
		r.Met = r.FsyncP99ms > 0 && r.P99ms <= 2*r.FsyncP99ms && r.P999ms <= 4*r.FsyncP99ms
		if ph.floor {
			floor = &r
		} else if floor != nil {
			r.P99OverFloor, r.P999OverFloor = div(r.P99ms, floor.P99ms), div(r.P999ms, floor.P999ms)
		}
		enc.Encode(r)
	}
	return nil
}

// latencyFloor measures the floor (latency_floor.go) at cfg.rate with
// frames of a record's size on the wire.
func latencyFloor(ctx context.Context, cfg config, dir string) (latencyResult, error) {
	r := latencyResult{result: result{Target: "floor", Test: "produce-latency-floor", Partitions: 1, Rate: cfg.rate}}
	start := time.Now()
	lat, err := floorRun(ctx, dir, cfg.rate, cfg.valueLen+latencyRecordOverhead, cfg.latencyDuration)
	if err != nil {
		return r, fmt.Errorf("floor: %w", err)
	}
	fill(&r.result, int64(len(lat)), int64(len(lat)*cfg.valueLen), time.Since(start))
	r.P50ms, r.P99ms, r.P999ms, r.MaxMs = quantileMs(lat, 0.5), quantileMs(lat, 0.99), quantileMs(lat, 0.999), quantileMs(lat, 1)
	return r, nil
}

// createLatencyTopic creates a one-partition topic that rolls a segment
// every segBytes and keeps latencySegments of them (0: the defaults).
func createLatencyTopic(ctx context.Context, addr, topic string, segBytes int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	configs := map[string]*string{}
	if segBytes > 0 {
		seg := strconv.FormatInt(segBytes, 10)
		ret := strconv.FormatInt(latencySegments*segBytes, 10)
		configs["segment.bytes"], configs["retention.bytes"] = &seg, &ret
	}
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	return err
}

// latencyRun produces at cfg.rate for cfg.latencyDuration after a warm-up
// and measures each record from its Produce call to its acknowledgement;
// with ph.readers, a reader fetches the partition from its start meanwhile.
// With metrics (the broker's /metrics HOST:PORT), it also takes the
// broker's own Produce figures over the same span.
func latencyRun(ctx context.Context, cfg config, addr, metrics, topic string, segBytes int64, ph latencyPhase) (latencyResult, error) {
	r := latencyResult{result: result{Target: "jocko", Test: "produce-latency-" + ph.name, Partitions: 1, Rate: cfg.rate}, SegmentBytes: segBytes}
	cl, err := newClient(addr, kgo.ProducerLinger(0))
	if err != nil {
		return r, err
	}
	defer cl.Close()
	pl := newPayloads(cfg.valueLen)
	for i := range latencyWarmup {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: pl.value(i, cfg.valueLen)}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		return r, err
	}
	startOffset, err := endOffset(ctx, cl, topic)
	if err != nil {
		return r, err
	}
	var hist produceHistogram // the broker's, once the warm-up is over
	if metrics != "" {
		if hist, err = scrapeProduce(ctx, metrics); err != nil {
			return r, err
		}
	}
	var reader *latencyReader
	if ph.readers {
		if reader, err = startLatencyReader(ctx, addr, topic); err != nil {
			return r, err
		}
		defer reader.stop()
	}
	total := max(1, int(float64(cfg.rate)*cfg.latencyDuration.Seconds()))
	lat := make([]time.Duration, total)
	var failed produceFailures
	interval := time.Second / time.Duration(max(1, cfg.rate))
	start := time.Now()
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		sent := time.Now()
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: pl.value(i, cfg.valueLen)}, func(rec *kgo.Record, err error) {
			lat[i] = time.Since(sent)
			failed.record(rec, err)
		})
	}
	err = cl.Flush(ctx)
	if err == nil && hist != nil {
		var after produceHistogram
		if after, err = scrapeProduce(ctx, metrics); err == nil && after[math.Inf(1)] <= hist[math.Inf(1)] {
			err = fmt.Errorf("metrics at %s: no Produce requests counted in the phase", metrics)
		}
		r.BrokerP99ms, r.BrokerP999ms = after.quantileMs(hist, 0.99), after.quantileMs(hist, 0.999)
	}
	if reader != nil {
		var rerr error
		r.BigReads, r.BigReadMB, rerr = reader.stop()
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return r, err
	}
	fill(&r.result, int64(total), int64(total*cfg.valueLen), time.Since(start))
	if n := failed.n.Load(); n > 0 {
		return r, fmt.Errorf("%d of %d records failed, first: %w", n, total, failed.first)
	}
	end, err := endOffset(ctx, cl, topic)
	if err != nil {
		return r, err
	}
	slices.Sort(lat)
	r.P50ms, r.P99ms, r.P999ms, r.MaxMs = quantileMs(lat, 0.5), quantileMs(lat, 0.99), quantileMs(lat, 0.999), quantileMs(lat, 1)
	if segBytes > 0 {
		r.SegmentsRolled = (end - startOffset) * int64(cfg.valueLen+latencyRecordOverhead) / segBytes
	}
	return r, nil
}

// latencyReader is the big reader of a rolls-reads phase, in a process of
// its own (this program with -latency-reader), so that its allocations and
// its goroutines weigh on the broker as a consumer's would and not on the
// producer whose acks are being timed.
type latencyReader struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   bytes.Buffer
	done  bool
}

// startLatencyReader starts the reader of addr's topic.
func startLatencyReader(ctx context.Context, addr, topic string) (*latencyReader, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r := &latencyReader{cmd: exec.CommandContext(ctx, self, "-latency-reader", addr+","+topic)}
	r.cmd.Stdout, r.cmd.Stderr = &r.out, os.Stderr
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("reader: %w", err)
	}
	return r, nil
}

// stop closes the reader's standard input, waits for it, and returns how
// many reads it made and the MB (10^6 bytes) they returned. A second call
// does nothing.
func (r *latencyReader) stop() (reads int64, mb float64, err error) {
	if r.done {
		return 0, 0, nil
	}
	r.done = true
	r.stdin.Close()
	if err := r.cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("reader: %w", err)
	}
	var got struct{ Reads, Bytes int64 }
	if err := json.Unmarshal(r.out.Bytes(), &got); err != nil {
		return 0, 0, fmt.Errorf("reader: %q: %w", r.out.String(), err)
	}
	return got.Reads, round(float64(got.Bytes) / 1e6), nil
}

// runLatencyReader is the reader process: spec is ADDR,TOPIC; it reads
// until stdin closes, then writes {"Reads":N,"Bytes":M} to out.
func runLatencyReader(spec string, stdin io.Reader, out io.Writer) error {
	addr, topic, ok := strings.Cut(spec, ",")
	if !ok || addr == "" || topic == "" {
		return fmt.Errorf("-latency-reader %q: want ADDR,TOPIC", spec)
	}
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, stdin)
		stop()
	}()
	var reads, n atomic.Int64
	if err := bigReads(ctx, addr, topic, &reads, &n); err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(struct{ Reads, Bytes int64 }{reads.Load(), n.Load()})
}

// bigReads fetches topic's partition 0 from its log start every
// latencyReadEvery, 64 MiB at most a request (a read stops at a segment's
// end), until ctx ends.
func bigReads(ctx context.Context, addr, topic string, reads, bytes *atomic.Int64) error {
	cl, err := newClient(addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return err
	}
	id := topics[topic].ID
	t := time.NewTicker(latencyReadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			continue
		}
		o, _ := starts.Lookup(topic, 0)
		req := fetchRequest(topic, id, []int64{o.Offset}, []int64{o.Offset + 1})
		req.Topics[0].Partitions[0].PartitionMaxBytes = 64 << 20
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			continue
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				bytes.Add(int64(len(rp.RecordBatches)))
			}
		}
		reads.Add(1)
	}
}

// endOffset is partition 0's log end.
func endOffset(ctx context.Context, cl *kgo.Client, topic string) (int64, error) {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	o, ok := ends.Lookup(topic, 0)
	if !ok {
		return 0, errors.New("no end offset for partition 0")
	}
	return o.Offset, o.Err
}

// probeFsync appends 1 KiB to a file in dir and fsyncs it, again and
// again for d, and returns each fsync's latency: the disk's own figure for
// what an acks=all record needs at least once.
func probeFsync(dir string, d time.Duration) ([]time.Duration, error) {
	f, err := os.CreateTemp(dir, "fsync-probe")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1024)
	var out []time.Duration
	for start := time.Now(); time.Since(start) < d; {
		if _, err := f.Write(buf); err != nil {
			return nil, err
		}
		t := time.Now()
		if err := f.Sync(); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t))
	}
	return out, nil
}

// probePaced appends 1 KiB to a file in dir and fsyncs it every every
// until ctx ends, and returns each fsync's latency; it gives up quietly on
// an error (the figure is context, not the goal).
func probePaced(ctx context.Context, dir string, every time.Duration) []time.Duration {
	f, err := os.CreateTemp(dir, "fsync-paced")
	if err != nil {
		return nil
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1024)
	var out []time.Duration
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
		if _, err := f.Write(buf); err != nil {
			return out
		}
		start := time.Now()
		if err := f.Sync(); err != nil {
			return out
		}
		out = append(out, time.Since(start))
	}
}

// quantileMs is the q quantile of sorted latencies, in ms.
func quantileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return round(sorted[int(q*float64(len(sorted)-1))].Seconds() * 1000)
}
