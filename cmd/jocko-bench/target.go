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
		return startJocko(ctx, cfg.jockoBin)
	}
}

var (
	readyRE   = regexp.MustCompile(`broker ready\b.*?\bkafka=(\S+)`)
	gossipRE  = regexp.MustCompile(`broker ready\b.*?\bgossip=(\S*)`)
	troubleRE = regexp.MustCompile(`level=(WARN|ERROR)|panic|fatal`)
)

// startJocko builds cmd/jocko, runs it on a free loopback port with a fresh
// data directory and waits for its "broker ready" log line.
func startJocko(ctx context.Context, prebuilt string) (*target, error) {
	dir, err := os.MkdirTemp("", "jocko-bench")
	if err != nil {
		return nil, err
	}
	bin, err := buildJocko(ctx, dir, prebuilt)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p, err := launchJocko(ctx, bin, filepath.Join(dir, "data"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &target{name: "jocko", addr: p.addr, close: func() error {
		defer os.RemoveAll(dir)
		return p.stop(0)
	}}, nil
}

// buildJocko builds cmd/jocko into dir, or returns prebuilt (-jocko-bin)
// if set.
// benchDir makes a scratch directory for one benchmark and the jocko
// binary it runs (prebuilt, or built there); the caller removes dir.
func benchDir(ctx context.Context, name, prebuilt string) (dir, bin string, err error) {
	if dir, err = os.MkdirTemp("", name); err != nil {
		return "", "", err
	}
	if bin, err = buildJocko(ctx, dir, prebuilt); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, bin, nil
}

func buildJocko(ctx context.Context, dir, prebuilt string) (string, error) {
	if prebuilt != "" {
		return prebuilt, nil
	}
	bin := filepath.Join(dir, "jocko")
	logf("building cmd/jocko")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/jocko/jocko/cmd/jocko").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// jockoProc is one running broker process.
type jockoProc struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	logs    *brokerLog
	addr    string // Kafka listener
	gossip  string // Serf listener, empty if none
	dataDir string

	once    sync.Once
	stopErr error
}

// launchJocko runs bin as a broker on a free loopback port with dataDir and
// extra flags, and waits for its "broker ready" log line.
func launchJocko(ctx context.Context, bin, dataDir string, extra ...string) (*jockoProc, error) {
	args := append([]string{"broker", "--data-dir", dataDir, "--listen", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		return nil, err
	}
	p := &jockoProc{cmd: cmd, exited: make(chan struct{}), logs: &brokerLog{}, dataDir: dataDir}
	ready := make(chan string, 1)
	go p.logs.read(stderr, ready)
	go func() { cmd.Wait(); close(p.exited) }()
	select {
	case line := <-ready:
		p.addr = readyRE.FindStringSubmatch(line)[1]
		if m := gossipRE.FindStringSubmatch(line); m != nil {
			p.gossip = m[1]
		}
		logf("jocko (pid %d) ready at %s", cmd.Process.Pid, p.addr)
		return p, nil
	case <-p.exited:
		err = fmt.Errorf("jocko exited before it was ready; last log lines:\n%s", p.logs.tail(20))
	case <-time.After(60 * time.Second):
		err = errors.New("jocko not ready after 60s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.stop(0)
	return nil, err
}

// stop sends SIGTERM (a controlled shutdown) and reports a bad exit and any
// warnings logged before it. With a grace, a broker still running after it
// gets a second SIGTERM, which stops jocko at once: the last brokers of a
// cluster have no quorum left to hand their leaderships over. Without one
// it has 30 s, then is killed and that is an error. Only the first call
// does anything; later ones return its result.
func (p *jockoProc) stop(grace time.Duration) error {
	p.once.Do(func() { p.stopErr = p.stopOnce(grace) })
	return p.stopErr
}

func (p *jockoProc) stopOnce(grace time.Duration) error {
	cmd, exited, logs := p.cmd, p.exited, p.logs
	var err error
	select {
	case <-exited:
		err = fmt.Errorf("jocko exited early: %v", cmd.ProcessState)
	default:
		logs.stopping()
		cmd.Process.Signal(syscall.SIGTERM)
		limit, again := 30*time.Second, false
		if grace > 0 {
			limit = grace
		}
		select {
		case <-exited:
		case <-time.After(limit):
			if grace > 0 {
				cmd.Process.Signal(syscall.SIGTERM)
				again = true
				limit = 10 * time.Second
				select {
				case <-exited:
				case <-time.After(limit):
				}
			}
		}
		select {
		case <-exited:
			if code := cmd.ProcessState.ExitCode(); code != 0 && !again {
				err = fmt.Errorf("jocko exited with %d after SIGTERM", code)
			}
		default:
			cmd.Process.Kill()
			<-exited
			err = fmt.Errorf("jocko did not stop within %v of SIGTERM", limit)
		}
	}
	if t := logs.troubles(); len(t) > 0 || err != nil {
		logf("jocko (pid %d) logged %d warning/error lines; the first ones:\n%s\nlast log lines:\n%s",
			cmd.Process.Pid, len(t), strings.Join(t[:min(len(t), 20)], "\n"), logs.tail(20))
	}
	return err
}

// brokerLog keeps the broker's warnings once ready (a single node's first
// Raft election warns by design) until it is stopped (a broker whose peers
// leave warns by design too), and the tail of its stderr.
type brokerLog struct {
	mu    sync.Mutex
	ready bool
	stop  bool // SIGTERM sent: warnings no longer count
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
		if l.ready && !l.stop && troubleRE.MatchString(line) {
			l.bad = append(l.bad, line)
		}
		m := readyRE.FindStringSubmatch(line)
		l.ready = l.ready || m != nil
		l.mu.Unlock()
		if m != nil {
			select {
			case ready <- line:
			default:
			}
		}
	}
}

func (l *brokerLog) stopping() {
	l.mu.Lock()
	l.stop = true
	l.mu.Unlock()
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
