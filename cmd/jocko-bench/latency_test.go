package main

import (
	"bytes"
	"context"
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
