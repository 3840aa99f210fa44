package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// target is a broker under test: its Kafka address and how to stop it.
type target struct {
	name   string
	addr   string
	unique bool // shared broker: give topics a per-run suffix
	topics []string
	close  func() error
}

func startTarget(ctx context.Context, name string, cfg config) (*target, error) {
	switch {
	case name == "kfake":
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			return nil, err
		}
		return &target{name: name, addr: c.ListenAddrs()[0], close: func() error { c.Close(); return nil }}, nil
	case cfg.brokers != "":
		return &target{name: name, addr: cfg.brokers, unique: true, close: func() error { return nil }}, nil
	default:
		return startJocko(ctx)
	}
}

var (
	readyRE   = regexp.MustCompile(`broker ready\b.*?\bkafka=(\S+)`)
	troubleRE = regexp.MustCompile(`level=(WARN|ERROR)|panic|fatal`)
)

// startJocko builds cmd/jocko, runs it on a free loopback port with a fresh
// data directory and waits for its "broker ready" log line.
func startJocko(ctx context.Context) (*target, error) {
	dir, err := os.MkdirTemp("", "jocko-bench")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "jocko")
	logf("building cmd/jocko")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/jocko/jocko/cmd/jocko").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "broker", "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logs := &brokerLog{}
	ready := make(chan string, 1)
	exited := make(chan struct{})
	go logs.read(stderr, ready)
	go func() { cmd.Wait(); close(exited) }()
	stop := func() error {
		defer os.RemoveAll(dir)
		return stopJocko(cmd, exited, logs)
	}
	select {
	case addr := <-ready:
		logf("jocko ready at %s", addr)
		return &target{name: "jocko", addr: addr, close: stop}, nil
	case <-exited:
		err = errors.New("jocko exited before it was ready")
	case <-time.After(60 * time.Second):
		err = errors.New("jocko not ready after 60s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	stop()
	return nil, err
}

// stopJocko sends SIGTERM and reports a bad exit and any warnings logged.
func stopJocko(cmd *exec.Cmd, exited chan struct{}, logs *brokerLog) error {
	var err error
	select {
	case <-exited:
		err = fmt.Errorf("jocko exited early: %v", cmd.ProcessState)
	default:
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				err = fmt.Errorf("jocko exited with %d after SIGTERM", code)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			err = errors.New("jocko did not stop within 30s of SIGTERM")
		}
	}
	if t := logs.troubles(); len(t) > 0 || err != nil {
		logf("jocko logged %d warning/error lines; the first ones:\n%s\nlast log lines:\n%s",
			len(t), strings.Join(t[:min(len(t), 20)], "\n"), logs.tail(20))
	}
	return err
}

// brokerLog keeps the broker's warnings once ready (a single node's first
// Raft election warns by design) and the tail of its stderr.
type brokerLog struct {
	mu    sync.Mutex
	ready bool
	lines []string
	bad   []string
}

func (l *brokerLog) read(r io.Reader, ready chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		l.mu.Lock()
		if l.lines = append(l.lines, line); len(l.lines) > 200 {
			l.lines = l.lines[100:]
		}
		if l.ready && troubleRE.MatchString(line) {
			l.bad = append(l.bad, line)
		}
		m := readyRE.FindStringSubmatch(line)
		l.ready = l.ready || m != nil
		l.mu.Unlock()
		if m != nil {
			select {
			case ready <- m[1]:
			default:
			}
		}
	}
}

func (l *brokerLog) troubles() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.bad...)
}

func (l *brokerLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
}

// createTopics creates one topic per partition count with kadm, the same way
// on every target, and returns their names.
func createTopics(ctx context.Context, tg *target, parts []int) ([]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(tg.addr))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var names []string
	for _, p := range parts {
		name := fmt.Sprintf("bench-%d", p)
		if tg.unique {
			name = fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
		}
		resp, err := adm.CreateTopic(ctx, int32(p), 1, nil, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("creating %s: %w", name, err)
		}
		names = append(names, name)
	}
	return names, nil
}
