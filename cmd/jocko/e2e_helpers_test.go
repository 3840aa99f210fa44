package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// jockoBin is the broker binary the end-to-end tests run, built once.
var jockoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jocko-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	jockoBin = filepath.Join(dir, "jocko")
	args := []string{"build", "-o", jockoBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building jocko: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running jocko broker process.
type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string
	dataDir string
	args    []string
	wrap    []string // a command that runs jocko (e.g. ip netns exec NS); none: jocko itself
	env     []string // NAME=VALUE added to the process's environment
	mu      sync.Mutex
	logs    strings.Builder
	exited  chan struct{}
}

var (
	readyRE     = regexp.MustCompile(`broker ready.* kafka=(\S+)`)
	raftReadyRE = regexp.MustCompile(`broker ready.* raft=(\S+)`)
	// gossipReadyRE finds the gossip address; "gossip= " when the broker
	// has none.
	gossipReadyRE = regexp.MustCompile(`broker ready.* gossip=(\S*)`)
	// openedRE: the partitions the broker hosted at its start are open
	// (it serves before that, and answers NOT_LEADER_OR_FOLLOWER for a
	// partition still opening).
	openedRE = regexp.MustCompile(`msg="partitions open"`)
)

// startBroker runs the jocko binary on a free loopback port with a fresh data
// directory (or the given one) and waits until it serves.
func startBroker(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	args := append([]string{"broker", "--data-dir", dataDir, "--listen", "127.0.0.1:0"}, extra...)
	p := &proc{t: t, dataDir: dataDir, args: args}
	p.start("")
	t.Cleanup(p.stop)
	return p
}

// start launches the process; listen, if set, replaces the listen address
// (a restart reuses the port its clients know).
func (p *proc) start(listen string) {
	p.t.Helper()
	args := append([]string(nil), p.args...)
	if listen != "" {
		for i := range args {
			if args[i] == "--listen" {
				args[i+1] = listen
			}
		}
	}
	if len(p.wrap) > 0 {
		p.cmd = exec.Command(p.wrap[0], append(append(p.wrap[1:len(p.wrap):len(p.wrap)], jockoBin), args...)...)
	} else {
		p.cmd = exec.Command(jockoBin, args...)
	}
	if len(p.env) > 0 {
		p.cmd.Env = append(os.Environ(), p.env...)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	ready, opened := make(chan string, 1), make(chan struct{}, 1)
	go p.readLogs(stderr, ready, opened)
	go func() { p.cmd.Wait(); close(p.exited) }()
	deadline := time.After(60 * time.Second)
	select {
	case p.addr = <-ready:
	case <-p.exited:
		p.t.Fatalf("jocko exited before it was ready:\n%s", p.logText())
	case <-deadline:
		p.t.Fatalf("jocko not ready after 60s:\n%s", p.logText())
	}
	select {
	case <-opened:
	case <-p.exited:
		p.t.Fatalf("jocko exited before its partitions were open:\n%s", p.logText())
	case <-deadline:
		p.t.Fatalf("jocko's partitions not open after 60s:\n%s", p.logText())
	}
}

func (p *proc) readLogs(r io.Reader, ready chan<- string, opened chan<- struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.logs.WriteString(line + "\n")
		p.mu.Unlock()
		if m := readyRE.FindStringSubmatch(line); m != nil {
			select {
			case ready <- m[1]:
			default:
			}
		}
		if openedRE.MatchString(line) {
			select {
			case opened <- struct{}{}:
			default:
			}
		}
	}
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// kill9 kills the broker with SIGKILL, as a crash would.
func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// restart starts the broker again on the same data directory and on the
// same Kafka and Raft addresses (left to default, the Raft port would be
// the Kafka port plus one, which another socket may hold).
func (p *proc) restart() {
	p.t.Helper()
	m := raftReadyRE.FindAllStringSubmatch(p.logText(), -1)
	if len(m) == 0 {
		p.t.Fatal("no raft address in the broker logs")
	}
	p.pinArg("--raft-listen", m[len(m)-1][1])
	// Gossip too, when the broker has it: its default, the Kafka port plus
	// two, may be taken by another socket.
	if g := gossipReadyRE.FindAllStringSubmatch(p.logText(), -1); len(g) > 0 && g[len(g)-1][1] != "" {
		p.pinArg("--gossip-listen", g[len(g)-1][1])
	}
	p.start(p.addr)
}

// pinArg sets flag to v in the broker's arguments, adding it if missing.
func (p *proc) pinArg(flag, v string) {
	for i := range p.args {
		if p.args[i] == flag {
			p.args[i+1] = v
			return
		}
	}
	p.args = append(p.args, flag, v)
}

// stop shuts the broker down with SIGTERM and checks it exits cleanly.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 && !p.t.Failed() || strings.Contains(p.logText(), "DATA RACE") {
			p.t.Errorf("jocko exited with %d after SIGTERM:\n%s", code, p.logText())
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		p.t.Errorf("jocko did not stop within 30s of SIGTERM:\n%s", p.logText())
	}
}

// client returns a franz-go client with default options (idempotent,
// snappy, acks=all) plus opts.
func (p *proc) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (p *proc) admin(t *testing.T) *kadm.Client {
	return kadm.NewClient(p.client(t))
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// consumeAll reads topic from the start until it has n records or ctx ends.
func consumeAll(t *testing.T, p *proc, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	ctx := testCtx(t)
	cl := p.client(t, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records from %s before timeout", len(out), n, topic)
		}
		fs.EachError(func(t2 string, p int32, err error) { t.Logf("fetch %s/%d: %v", t2, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}
