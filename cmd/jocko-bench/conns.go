package main

// The connections benchmark (-conns): what idle, slow and non-reading
// clients cost a broker, and whether the clients that do work notice them.
//
//  1. baseline: -conn-producers franz-go clients produce 1 KiB records
//     (acks=all, as fast as each can with -conn-inflight records
//     outstanding) to an 8-partition topic for -duration;
//  2. idle: -conn-idle connections are opened (each asks ApiVersions once,
//     then stays silent) and the producers run again;
//  3. hostile: the idle connections close; -conn-slow connections announce
//     a 1 MiB request and send one byte a second, and -conn-deaf
//     connections send Fetch requests for 1 MiB and never read a reply;
//     the producers run again.
//
// The three phases run -conn-rounds times in turn. Each phase prints one
// JSON line with the producers' records/s and ack p50/p99, and the broker's
// resident memory (VmRSS, and its peak VmHWM) in MiB; a summary line gives
// each phase's median throughput and p99 over the baseline's medians (one
// round on a shared 2-core machine varied by 40% between runs), and the
// highest RSS seen with the idle connections open. The goals (issue 9):
// with 10,000 idle connections the RSS stays under 1 GiB and throughput
// and p99 within 20% of the baseline; the hostile clients change neither,
// and memory stays within the budgets. Client start-up is left out of
// every measurement.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// connsConfig is the -conns benchmark's flags.
type connsConfig struct {
	on        bool
	producers int
	inflight  int
	idle      int
	slow      int
	deaf      int
	rounds    int
}

func connsFlags() *connsConfig {
	c := &connsConfig{}
	flag.BoolVar(&c.on, "conns", false, "run the connections benchmark instead: producers alone, next to idle connections, then next to slow and non-reading ones, with the broker's RSS")
	flag.IntVar(&c.producers, "conn-producers", 100, "producing clients of the -conns benchmark")
	flag.IntVar(&c.inflight, "conn-inflight", 32, "records each producer keeps outstanding")
	flag.IntVar(&c.idle, "conn-idle", 10000, "idle connections of the -conns benchmark")
	flag.IntVar(&c.slow, "conn-slow", 1000, "connections sending one byte a second")
	flag.IntVar(&c.deaf, "conn-deaf", 100, "connections that never read their replies")
	flag.IntVar(&c.rounds, "conn-rounds", 3, "rounds of the three -conns phases; the summary compares each phase's medians")
	return c
}

type connsPhase struct {
	Test        string  `json:"test"`
	Phase       string  `json:"phase"`
	Producers   int     `json:"producers"`
	Extra       int     `json:"extra_connections"`
	Records     int64   `json:"records"`
	RecordsPerS float64 `json:"records_per_s"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	RSSMiB      float64 `json:"rss_mib"`
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	Errors      int64   `json:"errors"`
}

type connsSummary struct {
	Test        string             `json:"test"`
	Rounds      int                `json:"rounds"`
	Throughput  map[string]float64 `json:"throughput_over_baseline"`
	P99         map[string]float64 `json:"p99_over_baseline"`
	IdleRSSMiB  float64            `json:"idle_rss_mib"`
	GoalIdleRSS bool               `json:"idle_rss_under_1gib"`
	GoalWithin  bool               `json:"within_20_percent"`
}

func runConns(ctx context.Context, cfg config, cc *connsConfig, out io.Writer) error {
	warnIfBusy()
	dir, bin, err := benchDir(ctx, "jocko-bench-conns-", cfg.jockoBin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := launchJocko(ctx, bin, dir+"/data", "--max.connections.per.ip", strconv.Itoa(cc.idle+cc.slow+cc.deaf+10*cc.producers+100))
	if err != nil {
		return err
	}
	defer p.stop(5 * time.Second)
	pid := p.cmd.Process.Pid
	const topic = "conns"
	if err := createReplicated(ctx, []string{p.addr}, topic, 8, 1); err != nil {
		return err
	}
	prods, err := startProducers(ctx, p.addr, topic, cc.producers)
	if err != nil {
		return err
	}
	defer func() {
		for _, cl := range prods {
			cl.Close()
		}
	}()
	enc := json.NewEncoder(out)
	phases := map[string][]connsPhase{}
	measure := func(name string, extra int) error {
		r, err := producePhase(ctx, prods, topic, cc.inflight, cfg.duration, pid)
		r.Test, r.Phase, r.Extra = "conns", name, extra
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		phases[name] = append(phases[name], r)
		enc.Encode(r)
		return nil
	}
	var idleRSS float64
	for range max(1, cc.rounds) {
		rss, err := connsRound(ctx, cc, p.addr, topic, pid, measure)
		if err != nil {
			return err
		}
		idleRSS = max(idleRSS, rss)
	}
	enc.Encode(summarizeConns(phases, idleRSS))
	if msgs := p.logs.troubles(); len(msgs) > 0 {
		logf("broker warnings during the run (first %d):\n%s", min(len(msgs), 5), strings.Join(msgs[:min(len(msgs), 5)], "\n"))
	}
	return nil
}

// connsRound runs the three phases once: the producers alone, beside the
// idle connections, then beside the slow and non-reading ones. It returns
// the broker's RSS once the idle connections were open.
func connsRound(ctx context.Context, cc *connsConfig, addr, topic string, pid int, measure func(string, int) error) (float64, error) {
	if err := measure("baseline", 0); err != nil {
		return 0, err
	}
	logf("opening %d idle connections", cc.idle)
	idle, err := openIdle(ctx, addr, cc.idle)
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	if err != nil {
		return 0, err
	}
	time.Sleep(2 * time.Second)
	idleRSS, _ := procMemMiB(pid, "VmRSS")
	if err := measure("idle", len(idle)); err != nil {
		return 0, err
	}
	for _, c := range idle {
		c.Close()
	}
	idle = nil

	logf("opening %d slow and %d non-reading connections", cc.slow, cc.deaf)
	hctx, stop := context.WithCancel(ctx)
	var hwg sync.WaitGroup
	hostile, err := openHostile(hctx, &hwg, addr, topic, cc.slow, cc.deaf)
	if err == nil {
		time.Sleep(2 * time.Second)
		err = measure("hostile", hostile)
	}
	stop()
	hwg.Wait()
	return idleRSS, err
}

// summarizeConns sets each phase's median throughput and p99 over the
// rounds against the baseline's medians: rounds that alternate the phases
// let a noisy machine weigh on all of them alike.
func summarizeConns(phases map[string][]connsPhase, idleRSS float64) connsSummary {
	median := func(name string, f func(connsPhase) float64) float64 {
		var xs []float64
		for _, ph := range phases[name] {
			xs = append(xs, f(ph))
		}
		if len(xs) == 0 {
			return 0
		}
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	tput := func(ph connsPhase) float64 { return ph.RecordsPerS }
	p99 := func(ph connsPhase) float64 { return ph.P99ms }
	s := connsSummary{Test: "conns-summary", Rounds: len(phases["baseline"]), Throughput: map[string]float64{}, P99: map[string]float64{},
		IdleRSSMiB: idleRSS, GoalIdleRSS: idleRSS < 1024, GoalWithin: true}
	for _, name := range []string{"idle", "hostile"} {
		s.Throughput[name] = round(div(median(name, tput), median("baseline", tput)))
		s.P99[name] = round(div(median(name, p99), median("baseline", p99)))
		if s.Throughput[name] < 0.8 || s.P99[name] > 1.2 {
			s.GoalWithin = false
		}
	}
	return s
}

// startProducers starts n producing clients and sends one record through
// each, so their start-up is over before anything is measured.
func startProducers(ctx context.Context, addr, topic string, n int) ([]*kgo.Client, error) {
	var out []*kgo.Client
	for range n {
		cl, err := newClient(addr, kgo.ProducerLinger(0), kgo.DefaultProduceTopic(topic))
		if err != nil {
			return out, err
		}
		out = append(out, cl)
	}
	var wg sync.WaitGroup
	var failed atomic.Value
	for _, cl := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("warm")}).FirstErr(); err != nil {
				failed.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return out, fmt.Errorf("warm-up produce: %w", err)
	}
	return out, nil
}

// producePhase has every client produce 1 KiB records with inflight
// outstanding for d, and returns the rate, the ack latencies and the
// broker's memory.
func producePhase(ctx context.Context, prods []*kgo.Client, topic string, inflight int, d time.Duration, pid int) (connsPhase, error) {
	r := connsPhase{Producers: len(prods)}
	pl := newPayloads(1024)
	var mu sync.Mutex
	var lat []time.Duration
	var acked, failed atomic.Int64
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i, cl := range prods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem := make(chan struct{}, inflight)
			var mine []time.Duration
			var mmu sync.Mutex
			for n := 0; pctx.Err() == nil; n++ {
				select {
				case sem <- struct{}{}:
				case <-pctx.Done():
					continue
				}
				sent := time.Now()
				cl.Produce(ctx, &kgo.Record{Value: pl.value(i*1_000_000+n, 1024)}, func(_ *kgo.Record, err error) {
					took := time.Since(sent)
					<-sem
					if err != nil {
						failed.Add(1)
						return
					}
					acked.Add(1)
					mmu.Lock()
					mine = append(mine, took)
					mmu.Unlock()
				})
			}
			cl.Flush(ctx)
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	r.Records, r.Errors = acked.Load(), failed.Load()
	r.RecordsPerS = round(float64(r.Records) / elapsed.Seconds())
	if len(lat) > 0 {
		ms := func(q float64) float64 { return round(lat[int(q*float64(len(lat)-1))].Seconds() * 1000) }
		r.P50ms, r.P99ms = ms(0.50), ms(0.99)
	}
	r.RSSMiB, _ = procMemMiB(pid, "VmRSS")
	r.PeakRSSMiB, _ = procMemMiB(pid, "VmHWM")
	if r.Errors > 0 {
		return r, fmt.Errorf("%d records failed", r.Errors)
	}
	return r, nil
}

// openIdle opens n connections that each ask ApiVersions once.
func openIdle(ctx context.Context, addr string, n int) ([]net.Conn, error) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(0)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("idle")).AppendRequest(nil, req, 1)
	var out []net.Conn
	var d net.Dialer
	for i := range n {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return out, fmt.Errorf("idle connection %d: %w", i, err)
		}
		out = append(out, c)
		if _, err := c.Write(frame); err != nil {
			return out, err
		}
		var size [4]byte
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return out, fmt.Errorf("idle connection %d: ApiVersions: %w", i, err)
		}
		if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(size[:]))); err != nil {
			return out, err
		}
	}
	return out, nil
}

// openHostile opens slow connections (a 1 MiB request announced, then one
// byte a second) and deaf ones (Fetch requests sent, replies never read)
// that live until ctx ends; it returns how many it opened.
func openHostile(ctx context.Context, wg *sync.WaitGroup, addr, topic string, slow, deaf int) (int, error) {
	var d net.Dialer
	opened := 0
	for i := range slow {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return opened, fmt.Errorf("slow connection %d: %w", i, err)
		}
		opened++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			var size [4]byte
			binary.BigEndian.PutUint32(size[:], 1<<20)
			if _, err := c.Write(size[:]); err != nil {
				return
			}
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if _, err := c.Write([]byte{0}); err != nil {
						return
					}
				}
			}
		}()
	}
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.ReplicaID, req.MaxBytes = -1, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < 8; p++ {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes = p, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("deaf"))
	for i := range deaf {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return opened, fmt.Errorf("deaf connection %d: %w", i, err)
		}
		opened++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			w := bufio.NewWriter(c)
			for corr := int32(1); ctx.Err() == nil; corr++ {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := w.Write(f.AppendRequest(nil, req, corr)); err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						w.Reset(c) // the broker stopped reading: we are at the in-flight limit
						<-ctx.Done()
						return
					}
					return
				}
				w.Flush()
			}
		}()
	}
	return opened, nil
}

// procMemMiB reads one of /proc/PID/status's memory fields in MiB.
func procMemMiB(pid int, field string) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return round(kb / 1024), err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
