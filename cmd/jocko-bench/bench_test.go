package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPipelineKfake runs every scenario against kfake with a small volume
// and checks each JSON line parses and its counts match what was asked.
func TestPipelineKfake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := config{records: 2000, rate: 500, duration: 400 * time.Millisecond,
		target: "kfake", parts: []int{1, 8}, valueLen: 1024}
	var out bytes.Buffer
	if err := run(ctx, cfg, &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"produce": 2000, "consume": 2000, "fetch": 2000, "produce-latency": 200}
	seen := 0
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		seen++
		if r.Target != "kfake" || r.Records != want[r.Test] || r.Bytes != r.Records*1024 {
			t.Errorf("unexpected counts: %s", sc.Text())
		}
		if r.RecordsPerS <= 0 || r.MBPerS <= 0 || r.Errors != 0 {
			t.Errorf("unexpected rates: %s", sc.Text())
		}
		if r.Test == "produce-latency" && (r.P50ms <= 0 || r.P99ms < r.P50ms || r.MaxMs < r.P99ms) {
			t.Errorf("unexpected latencies: %s", sc.Text())
		}
	}
	if seen != 8 {
		t.Errorf("got %d lines, want 8:\n%s", seen, out.String())
	}
}

func TestRatios(t *testing.T) {
	j := []result{{Test: "produce", Partitions: 1, RecordsPerS: 300}, {Test: "consume", Partitions: 1, RecordsPerS: 300},
		{Test: "produce-latency", Partitions: 1, P99ms: 2}}
	k := []result{{Test: "produce", Partitions: 1, RecordsPerS: 200}, {Test: "consume", Partitions: 1, RecordsPerS: 200},
		{Test: "produce-latency", Partitions: 1, P99ms: 0}}
	rs := ratios(j, k)
	if len(rs) != 3 || rs[0].JockoOverKfake != 1.5 || !*rs[0].Met || *rs[1].Met || rs[2].JockoOverKfake != 0 {
		t.Fatalf("ratios: %+v", rs)
	}
}

// TestProcCounters reads this process's own /proc counters the way the
// replication benchmark reads the brokers'.
func TestProcCounters(t *testing.T) {
	pid := os.Getpid()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/io", pid)); err != nil {
		t.Skip("no /proc/<pid>/io here:", err)
	}
	dir := t.TempDir()
	before, err := procWriteBytes(pid)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20)
	f, err := os.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	f.Write(data)
	f.Sync()
	f.Close()
	after, err := procWriteBytes(pid)
	if err != nil {
		t.Fatal(err)
	}
	// tmpfs and some container file systems count nothing; never less.
	if after < before {
		t.Fatalf("write_bytes went from %d to %d", before, after)
	}
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	if cpu := procCPUSeconds(pid); cpu <= 0 {
		t.Fatalf("CPU seconds %v", cpu)
	}
	if n := dirSize(dir); n != int64(len(data)) {
		t.Fatalf("dirSize %d, want %d", n, len(data))
	}
}

// TestFsyncProbeAndQuantiles: the -latency benchmark's disk probe takes
// samples, and its quantiles pick the sorted sample at q of the way.
func TestFsyncProbeAndQuantiles(t *testing.T) {
	s, err := probeFsync(t.TempDir(), 50*time.Millisecond)
	if err != nil || len(s) == 0 {
		t.Fatalf("probe: %d samples, %v", len(s), err)
	}
	lat := make([]time.Duration, 1001)
	for i := range lat {
		lat[i] = time.Duration(i) * time.Millisecond
	}
	if p50, p99, p999, top := quantileMs(lat, 0.5), quantileMs(lat, 0.99), quantileMs(lat, 0.999), quantileMs(lat, 1); p50 != 500 || p99 != 990 || p999 != 999 || top != 1000 {
		t.Fatalf("quantiles %v %v %v %v", p50, p99, p999, top)
	}
}

// TestSummarizeConns checks the summary compares medians over the rounds:
// one outlying round does not decide the goal either way.
func TestSummarizeConns(t *testing.T) {
	ph := func(tput, p99 float64) connsPhase { return connsPhase{RecordsPerS: tput, P99ms: p99} }
	phases := map[string][]connsPhase{
		"baseline": {ph(100, 10), ph(40, 30), ph(110, 11)},
		"idle":     {ph(95, 11), ph(100, 10), ph(30, 50)},
		"hostile":  {ph(50, 10), ph(60, 10), ph(120, 9)},
	}
	s := summarizeConns(phases, 200)
	if s.Rounds != 3 || s.Throughput["idle"] != 0.95 || s.P99["idle"] != 1 || !s.GoalIdleRSS {
		t.Fatalf("summary %+v", s)
	}
	if s.Throughput["hostile"] != 0.6 || s.GoalWithin {
		t.Fatalf("hostile's median throughput is 60%% of the baseline's, so the goal is missed: %+v", s)
	}
	phases["hostile"] = []connsPhase{ph(90, 10), ph(95, 12), ph(20, 90)}
	if s := summarizeConns(phases, 1500); !s.GoalWithin || s.GoalIdleRSS {
		t.Fatalf("every median within 20%%, RSS over 1 GiB: %+v", s)
	}
}
