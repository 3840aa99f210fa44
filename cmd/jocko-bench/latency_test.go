package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFloorRun checks the floor answers every frame it was sent, once, in a
// time that is a latency and not a clock artefact, and that the frames
// reached the file (the server fsyncs what it writes, so a server that
// answered without writing would leave the file short).
func TestFloorRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	const rate, frame = 1000, 100
	lat, err := floorRun(ctx, dir, rate, frame, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(lat) != 300 {
		t.Fatalf("got %d answers, want 300", len(lat))
	}
	if lat[0] <= 0 || lat[len(lat)-1] > 10*time.Second {
		t.Fatalf("latencies from %v to %v", lat[0], lat[len(lat)-1])
	}
	for i := 1; i < len(lat); i++ {
		if lat[i] < lat[i-1] {
			t.Fatal("latencies not sorted")
		}
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("floor left %v behind (%v)", entries, err)
	}
}

// TestFloorServerWritesBeforeAnswering runs the server on a pipe and reads
// the file after the first answer: it must hold the frame by then.
func TestFloorServerWritesBeforeAnswering(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "floor")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	srv, cl := net.Pipe()
	s := &floorServer{f: f, c: srv, frameLen: 4}
	s.cond = sync.NewCond(&s.mu)
	done := make(chan error, 1)
	go func() { done <- s.serve() }()
	if _, err := cl.Write([]byte("abcd")); err != nil {
		t.Fatal(err)
	}
	ans := make([]byte, 8)
	if _, err := io.ReadFull(cl, ans); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ans, []byte{0, 0, 0, 0, 0, 0, 0, 1}) {
		t.Fatalf("answer %x, want sequence 1", ans)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || string(got) != "abcd" {
		t.Fatalf("file holds %q (%v), want abcd", got, err)
	}
	cl.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLatencyReaderSpec(t *testing.T) {
	for _, spec := range []string{"", "127.0.0.1:9092", ",topic", "127.0.0.1:9092,"} {
		err := runLatencyReader(spec, strings.NewReader(""), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "want ADDR,TOPIC") {
			t.Errorf("spec %q: err %v, want a usage error", spec, err)
		}
	}
}

// TestProduceHistogramQuantile parses two scrapes and interpolates inside
// the bucket that holds the quantile, as histogram_quantile does.
func TestProduceHistogramQuantile(t *testing.T) {
	scrape := func(counts ...int) produceHistogram {
		var b strings.Builder
		b.WriteString("# HELP jocko_request_duration_seconds x\n")
		b.WriteString(`jocko_request_duration_seconds_bucket{api="Fetch",le="0.001"} 99` + "\n")
		for i, le := range []string{"0.001", "0.002", "0.004", "+Inf"} {
			fmt.Fprintf(&b, "jocko_request_duration_seconds_bucket{api=\"Produce\",le=%q} %d\n", le, counts[i])
		}
		h, err := parseProduceHistogram(bufio.NewScanner(strings.NewReader(b.String())))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := scrape(10, 10, 10, 10)
	after := scrape(910, 1010, 1010, 1010) // 900 at <=1 ms, 100 in (1, 2] ms
	if got := after.quantileMs(before, 0.5); got != 0.556 {
		t.Errorf("p50 %v ms, want 0.556 (500 of 900 into the first bucket)", got)
	}
	if got := after.quantileMs(before, 0.99); got != 1.9 {
		t.Errorf("p99 %v ms, want 1.9 (90 of 100 into the (1, 2] ms bucket)", got)
	}
	if got := before.quantileMs(before, 0.99); got != 0 {
		t.Errorf("no requests between the scrapes: %v, want 0", got)
	}
	over := scrape(910, 1010, 1010, 2010) // half past the last bound
	if got := over.quantileMs(before, 0.99); got != 4 {
		t.Errorf("a quantile in +Inf: %v, want the last bound, 4", got)
	}
	none, err := parseProduceHistogram(bufio.NewScanner(strings.NewReader("go_goroutines 4\n")))
	if err != nil || len(none) != 0 {
		t.Fatalf("before any Produce: %v, %v; want an empty histogram", none, err)
	}
	if got := after.quantileMs(none, 0.99); got != 1.899 {
		t.Errorf("p99 over an empty first scrape %v ms, want 1.899 (1010 requests, 910 at <=1 ms)", got)
	}
	if _, err := parseProduceHistogram(bufio.NewScanner(strings.NewReader(`jocko_request_duration_seconds_bucket{api="Produce",le="x"} 1` + "\n"))); err == nil {
		t.Error("a bad bound parsed")
	}
}
