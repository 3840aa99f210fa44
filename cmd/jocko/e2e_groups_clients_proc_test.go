package main

// Group members that are outside processes (kcat, python, node).

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// cgLine is a running client process whose stdout lines are parsed into a
// cgLog and whose stderr is kept for failure messages.
type cgLine struct {
	name string
	// ownerLines: the client prints "# assigned <p> ..." after each
	// rebalance (owns is the last such line)
	ownerLines bool
	owns       []int32
	cmd        *exec.Cmd
	log        cgLog
	mu         sync.Mutex
	stderr     strings.Builder
	exited     chan struct{}
}

// Owned is what the process last said it owns, if it says.
func (p *cgLine) Owned() ([]int32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int32(nil), p.owns...), p.ownerLines
}

// cgStart runs a client process. Its stdout must carry lines
// "<partition> <offset> <value>"; others are ignored.
func cgStart(t *testing.T, name string, path string, args ...string) *cgLine {
	t.Helper()
	p := &cgLine{name: name, cmd: exec.Command(path, args...), exited: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "# assigned"); ok {
				var owns []int32
				for _, f := range strings.Fields(rest) {
					n, _ := strconv.Atoi(f)
					owns = append(owns, int32(n))
				}
				p.mu.Lock()
				p.owns = owns
				p.mu.Unlock()
				continue
			}
			var r cgRecord
			if n, _ := fmt.Sscanf(sc.Text(), "%d %d %d", &r.partition, &r.offset, &r.value); n == 3 {
				p.log.add(r)
			}
		}
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() {
		readers.Wait()
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	})
	return p
}

func (p *cgLine) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stderr.String()
	if len(s) > 8000 {
		s = "...\n" + s[len(s)-8000:]
	}
	return s
}

func (p *cgLine) stderrAll() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *cgLine) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// term stops the process with SIGTERM (a client's clean shutdown: it leaves
// the group) and waits for it to exit.
func (p *cgLine) term(t *testing.T, ctx context.Context) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-ctx.Done():
		t.Fatalf("%s did not exit after SIGTERM:\n%s", p.name, p.stderrText())
	}
}

// cgWait polls cond until it holds, failing with what(), the broker's log
// tail and the clients' stderr when ctx ends first.
func cgWait(t *testing.T, ctx context.Context, b *proc, ps []*cgLine, what func() string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			var sb strings.Builder
			for _, p := range ps {
				if p != nil {
					fmt.Fprintf(&sb, "--- %s stderr:\n%s\n", p.name, p.stderrText())
				}
			}
			logs := b.logText()
			if len(logs) > 8000 {
				logs = "...\n" + logs[len(logs)-8000:]
			}
			t.Fatalf("timed out waiting: %s\n%s--- broker log:\n%s", what(), sb.String(), logs)
		}
		waitABit(ctx)
	}
}

// cgKiller is a member that can die without a word (SIGKILL).
type cgKiller interface {
	Kill9(t *testing.T, ctx context.Context)
}

// cgAllCommitted reports whether group's committed offsets of topic are at
// the end of each of its partitions.
func cgAllCommitted(t *testing.T, b *proc, group, topic string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	adm := b.admin(t)
	defer adm.Close()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return false
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	ok := true
	ends.Each(func(o kadm.ListedOffset) {
		c, found := committed.Lookup(topic, o.Partition)
		if !found || c.Err != nil || c.At != o.Offset {
			ok = false
		}
	})
	return ok
}

// Kill9 kills the process with SIGKILL: it neither commits nor leaves.
func (p *cgLine) Kill9(t *testing.T, ctx context.Context) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-ctx.Done():
		t.Fatalf("%s did not exit after SIGKILL", p.name)
	}
}

// cgLine implements cgMember for a client process.
func (p *cgLine) Name() string                           { return p.name }
func (p *cgLine) Log() *cgLog                            { return &p.log }
func (p *cgLine) Diag() string                           { return p.stderrText() }
func (p *cgLine) Stop(t *testing.T, ctx context.Context) { p.term(t, ctx) }
func (p *cgLine) Err() error {
	if !p.running() {
		return fmt.Errorf("exited: %v", p.cmd.ProcessState)
	}
	return nil
}
