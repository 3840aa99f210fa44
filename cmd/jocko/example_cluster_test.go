package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestExampleCluster runs examples/cluster/run.sh (what `make cluster`
// runs) on free ports: three brokers come up as one cluster, kcat lists
// them (when kcat is installed), and an interrupt stops them all.
func TestExampleCluster(t *testing.T) {
	base := freePortBlock(t)
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "../../examples/cluster/run.sh")
	cmd.Env = append(os.Environ(), fmt.Sprintf("BASE_PORT=%d", base), "DATA="+data, "JOCKO="+jockoBin)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if t.Failed() {
			for i := 1; i <= 3; i++ {
				b, _ := os.ReadFile(filepath.Join(data, fmt.Sprintf("broker%d.log", i)))
				t.Logf("broker%d.log:\n%s", i, b)
			}
		}
	}()
	seeds := []string{fmt.Sprintf("127.0.0.1:%d", base), fmt.Sprintf("127.0.0.1:%d", base+100), fmt.Sprintf("127.0.0.1:%d", base+200)}
	for !strings.Contains(out.String(), "cluster of three brokers is up") {
		select {
		case err := <-exited:
			t.Fatalf("run.sh exited (%v):\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds[2]))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitUntil(t, ctx, func() bool {
		md, err := adm.BrokerMetadata(ctx)
		return err == nil && len(md.Brokers) == 3
	})
	if kcat, err := exec.LookPath("kcat"); err == nil {
		l, err := exec.CommandContext(ctx, kcat, "-b", seeds[0], "-L").CombinedOutput()
		if err != nil || !strings.Contains(string(l), " 3 brokers:") {
			t.Fatalf("kcat -L (%v):\n%s", err, l)
		}
	} else {
		t.Log("kcat not installed: listing checked with franz-go only")
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("run.sh did not stop within 60s of an interrupt:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "stopping brokers") {
		t.Fatalf("run.sh did not stop its brokers:\n%s", out.String())
	}
	for _, s := range seeds {
		if c, err := net.DialTimeout("tcp", s, time.Second); err == nil {
			c.Close()
			t.Errorf("a broker still listens on %s after the interrupt", s)
		}
	}
}

// freePortBlock finds a base port such that base..base+2, base+100..+102
// and base+200..+202 are free (the example's Kafka, Raft and gossip ports).
func freePortBlock(t *testing.T) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if base+202 > 65535 {
			continue
		}
		ok := true
		for _, off := range []int{0, 1, 2, 100, 101, 102, 200, 201, 202} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+off))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free block of ports")
	return 0
}

// lockedBuffer collects a process's output while a test reads it.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
