package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
