package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceValues produces v0..v(n-1) to one partition of an existing topic with
// franz-go, record i stamped base+i seconds, and waits for every ack.
func produceValues(t *testing.T, b *proc, topic string, partition int32, n int, base time.Time) {
	t.Helper()
	cl := b.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t)
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: partition, Value: fmt.Appendf(nil, "v%d", i), Timestamp: base.Add(time.Duration(i) * time.Second)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", r.Value, err)
		}
	}
}

func values(from, to int) string {
	var s strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&s, "v%d\n", i)
	}
	return s.String()
}

// TestCLIConsumeOffsets: `jocko consume` starts at the log start by
// default, and at end, an exact offset (bounded to the log), the last N of
// each partition or the first record at or after a timestamp with
// --offset; it stops at the end it saw at the start, or after -n records;
// --partition picks partitions; --format json prints every field.
func TestCLIConsumeOffsets(t *testing.T) {
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	wantRun(t, 0, "", "topic", "create", "ten", "--partitions", "2", br)
	base := time.UnixMilli(1_700_000_000_000)
	produceValues(t, b, "ten", 0, 10, base)
	cases := []struct {
		args []string
		want string
	}{
		{nil, values(0, 10)},
		{[]string{"--offset", "start"}, values(0, 10)},
		{[]string{"--offset", "end"}, ""},
		{[]string{"--offset", "4"}, values(4, 10)},
		{[]string{"--offset", "99"}, ""},
		{[]string{"--offset", "-3"}, values(7, 10)},
		{[]string{"--offset", "-30"}, values(0, 10)},
		{[]string{"--offset", fmt.Sprintf("@%d", base.Add(5*time.Second).UnixMilli())}, values(5, 10)},
		{[]string{"--offset", fmt.Sprintf("@%d", base.Add(4500*time.Millisecond).UnixMilli())}, values(5, 10)},
		{[]string{"--offset", fmt.Sprintf("@%d", base.Add(time.Hour).UnixMilli())}, ""},
		{[]string{"-n", "2"}, values(0, 2)},
		{[]string{"--offset", "6", "-n", "2"}, values(6, 8)},
		{[]string{"--partition", "1"}, ""},
		{[]string{"--partition", "0,1", "-n", "1"}, values(0, 1)},
	}
	for _, c := range cases {
		args := append([]string{"consume", "ten", br}, c.args...)
		code, out, errOut := runCLI(args...)
		if code != 0 || out != c.want {
			t.Errorf("jocko %s: exit %d, stdout %q (stderr %q); want %q", strings.Join(args, " "), code, out, errOut, c.want)
		}
	}

	out, _ := wantRun(t, 0, "", "consume", "ten", br, "--offset", "-1", "--format", "json")
	var r jsonRecord
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("consume --format json: %v\n%s", err, out)
	}
	if r.Topic != "ten" || r.Partition != 0 || r.Offset != 9 || r.Timestamp != base.Add(9*time.Second).UnixMilli() ||
		r.Key != nil || r.Value == nil || *r.Value != "v9" || len(r.Headers) != 0 {
		t.Fatalf("consume --format json: %s", out)
	}
}

// TestCLIConsumeGroupResumes: in a --group, consume commits exactly what it
// printed: a run with -n 3 prints v0-v2, the next run with the same group
// resumes at v3 and stops at the end, a third prints nothing, and `jocko
// group describe` shows the commit at the end with no lag. A group's
// --offset applies only where it has no commit.
func TestCLIConsumeGroupResumes(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	wantRun(t, 0, "", "topic", "create", "events", br)
	produceValues(t, b, "events", 0, 8, time.Now())
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"--group", "billing", "-n", "3"}, values(0, 3)},
		{[]string{"--group", "billing"}, values(3, 8)},
		{[]string{"--group", "billing"}, ""},
		{[]string{"--group", "late", "--offset", "-2"}, values(6, 8)},
		{[]string{"--group", "late", "--offset", "start"}, ""},
	}
	for _, s := range steps {
		args := append([]string{"consume", "events", br}, s.args...)
		code, out, errOut := runCLI(args...)
		if code != 0 || out != s.want {
			t.Fatalf("jocko %s: exit %d, stdout %q (stderr %q); want %q", strings.Join(args, " "), code, out, errOut, s.want)
		}
	}
	out, _ := wantRun(t, 0, "", "group", "describe", "billing", br)
	if !gcliHasRow(out, "events", "0", "8", "8", "0", "-") {
		t.Fatalf("group describe billing: want events 0 committed 8, end 8, lag 0:\n%s", out)
	}
}

// TestCLIConsumeFollow: with --follow, consume (a real process) prints the
// records produced after it started, and exits 0 on SIGINT after
// committing what it printed; without --follow, a run started after them
// stops at the end.
func TestCLIConsumeFollow(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	wantRun(t, 0, "", "topic", "create", "live", br)
	produceValues(t, b, "live", 0, 2, time.Now())
	cmd := exec.CommandContext(testCtx(t), jockoBin, "consume", "live", br, "--follow", "--group", "tail", "-f", `%o:%v\n`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("consume --follow printed %q, want %q", got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("consume --follow: no %q after 30s; stderr %q", want, errOut.String())
		}
	}
	next("0:v0")
	next("1:v1") // the end at the start: --follow goes on
	wantRun(t, 0, "late\n", "produce", "live", br)
	next("2:late")
	cmd.Process.Signal(syscall.SIGINT)
	if _, more := <-lines; more {
		t.Fatal("consume --follow printed more after SIGINT")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("consume --follow after SIGINT: %v; stderr %q", err, errOut.String())
	}
	out, _ := wantRun(t, 0, "", "group", "describe", "tail", br)
	if !gcliHasRow(out, "live", "0", "3", "3", "0", "-") {
		t.Fatalf("group describe tail: want live 0 committed 3:\n%s", out)
	}
	if out, _ := wantRun(t, 0, "", "consume", "live", br); out != "v0\nv1\nlate\n" {
		t.Fatalf("consume without --follow: %q", out)
	}
}

// TestCLIConsumeStopsAtStartEnd: without --follow, consume stops at the
// end offsets it saw when it started, leaving out records produced after:
// here, produced while the consumer joins its group (it lists the ends
// before it joins, and the group only then hands it partitions).
func TestCLIConsumeStopsAtStartEnd(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	wantRun(t, 0, "", "topic", "create", "backlog", br)
	produceValues(t, b, "backlog", 0, 5, time.Now())
	cmd := exec.CommandContext(testCtx(t), jockoBin, "consume", "backlog", br, "--group", "joiner")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitCLI(t, 30*time.Second, func(out string) bool { return strings.Contains(out, "joiner") }, "group", "list", br)
	wantRun(t, 0, "after1\nafter2\n", "produce", "backlog", br)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("consume: %v; stderr %q", err, errOut.String())
	}
	if out.String() != values(0, 5) {
		t.Fatalf("consume without --follow printed %q; want only the %q there at its start", out.String(), values(0, 5))
	}
	if out, _ := wantRun(t, 0, "", "consume", "backlog", br, "--group", "joiner"); out != "after1\nafter2\n" {
		t.Fatalf("the next run of the group printed %q; want the records produced after the first started", out)
	}
}

// TestCLIConsumeBadInput: mistakes on `jocko consume` say what was wrong.
func TestCLIConsumeBadInput(t *testing.T) {
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	wantRun(t, 0, "x\n", "produce", "one", br)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"consume"}, 2, "jocko consume needs exactly one topic name (got 0 arguments)"},
		{[]string{"consume", "one", "--offset", "soon"}, 2, `--offset "soon": want start, end, an offset N, -N`},
		{[]string{"consume", "one", "--offset", "-0"}, 2, `--offset "-0": want`},
		{[]string{"consume", "one", "--offset", "@x"}, 2, `--offset "@x": want`},
		{[]string{"consume", "one", "--template", "%z"}, 2, `--template "%z": unknown %z at position 1; want one of %k key`},
		{[]string{"consume", "one", "--template", `\`}, 2, `a lone \ at the end`},
		{[]string{"consume", "one", "-n", "-1"}, 2, "-n -1: want a number of records"},
		{[]string{"consume", "one", "--group", "g", "--partition", "0"}, 2, "--partition and --group do not go together"},
		{[]string{"consume", "one", "--partition", "x"}, 2, `--partition "x": want comma-separated partition numbers`},
		{[]string{"consume", "one", "--partition", "3"}, 2, "--partition 3: topic one has 1 partitions (0 to 0)"},
		{[]string{"consume", "one", "--format", "json", "-f", "%v"}, 2, "--template and --format json do not go together"},
		{[]string{"consume", "missing"}, 1, "topic missing does not exist ('jocko topic list' shows the topics)"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(append(c.args, br)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("jocko %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, errOut, c.code, c.want)
		}
	}
}
