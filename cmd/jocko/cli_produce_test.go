package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// runJocko runs the jocko binary (a real process) with stdin and returns
// its exit code and output.
func runJocko(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, jockoBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("jocko %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// wantRun runs jocko and fails the test unless it exits with code.
func wantRun(t *testing.T, code int, stdin string, args ...string) (string, string) {
	t.Helper()
	got, out, errOut := runJocko(t, stdin, args...)
	if got != code {
		t.Fatalf("jocko %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, out, errOut)
	}
	return out, errOut
}

// TestCLIProduceStdinAndFile: `jocko produce` creates a missing topic with
// the cluster's defaults and sends each line of stdin with its key
// (--key-sep) and headers; from a --file it sends to one --partition of an
// existing topic. The summary counts records, bytes (keys, values, headers)
// and offsets per partition, and `jocko consume` reads every record back
// through a template, -n bounding the count.
func TestCLIProduceStdinAndFile(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	br := "--brokers=" + b.addr

	out, errOut := wantRun(t, 0, "k1:v1\nk2:v2:with:colons\nno-key\n", "produce", "auto", br, "--key-sep", ":", "--header", "src=stdin", "--header", "n=1")
	if !strings.Contains(errOut, "created topic auto with 1 partitions (replication factor 1)") {
		t.Fatalf("produce to a missing topic: stderr %q; want it created", errOut)
	}
	// Bytes: keys 2+2, values 2+14+6, headers (3+5 + 1+1) x 3 records.
	wantBytes := 2 + 2 + 2 + 14 + 6 + 3*(3+5+1+1)
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^0\s+3\s+%d\s+0-2$`, wantBytes)).MatchString(out) ||
		!strings.Contains(out, fmt.Sprintf("produced 3 records (%d bytes) to auto in 1 partitions; 0 failed", wantBytes)) {
		t.Fatalf("produce summary:\n%s", out)
	}
	out, _ = wantRun(t, 0, "", "consume", "auto", br, "--template", `%T %p %o [%k] [%v] [%h]\n`)
	want := "auto 0 0 [k1] [v1] [src=stdin,n=1]\n" +
		"auto 0 1 [k2] [v2:with:colons] [src=stdin,n=1]\n" +
		"auto 0 2 [] [no-key] [src=stdin,n=1]\n"
	if out != want {
		t.Fatalf("consume auto:\n%s\nwant:\n%s", out, want)
	}

	wantRun(t, 0, "", "topic", "create", "orders", "--partitions", "3", br)
	file := filepath.Join(t.TempDir(), "orders.txt")
	if err := os.WriteFile(file, []byte("a=1\r\nb=2\n\nc=3"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ = wantRun(t, 0, "", "produce", "orders", br, "--file", file, "--partition", "2", "--key-sep", "=", "--header", "h=x")
	if !regexp.MustCompile(`(?m)^2\s+4\s+\d+\s+0-3$`).MatchString(out) || !strings.Contains(out, "produced 4 records") {
		t.Fatalf("produce --file --partition 2 summary:\n%s", out)
	}
	out, _ = wantRun(t, 0, "", "consume", "orders", br, "-f", `%p/%o %k=%v %h\n`, "-n", "3")
	if want := "2/0 a=1 h=x\n2/1 b=2 h=x\n2/2 = h=x\n"; out != want {
		t.Fatalf("consume orders -n 3:\n%q\nwant:\n%q", out, want)
	}

	// --format json: the same summary for scripts.
	out, _ = wantRun(t, 0, "x\ny\n", "produce", "orders", br, "--partition", "1", "--format", "json")
	var sum produceSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("produce --format json: %v\n%s", err, out)
	}
	if sum.Topic != "orders" || sum.Records != 2 || sum.Bytes != 2 || sum.Failed != 0 || len(sum.Partitions) != 1 ||
		sum.Partitions[0].Partition != 1 || *sum.Partitions[0].FirstOffset != 0 || *sum.Partitions[0].LastOffset != 1 {
		t.Fatalf("produce --format json: %+v", sum)
	}
}

// TestCLIProduceAcksAndCompression: every --acks and --compression choice
// delivers the records (read back by franz-go, which checks each batch's
// codec), and acks=0 prints no offsets, since the broker answers nothing.
func TestCLIProduceAcksAndCompression(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	var want []string
	for _, acks := range []string{"all", "1", "0"} {
		for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
			v := acks + "-" + codec
			want = append(want, v)
			out, _ := wantRun(t, 0, v+"\n", "produce", "codecs", br, "--acks", acks, "--compression", codec)
			offsets := regexp.MustCompile(`(?m)^0\s+1\s+\d+\s+(\S+)$`).FindStringSubmatch(out)
			if offsets == nil || (acks == "0") != (offsets[1] == "-") {
				t.Fatalf("--acks %s --compression %s: summary\n%s", acks, codec, out)
			}
		}
	}
	var got []string
	for _, r := range consumeAll(t, b, "codecs", len(want)) {
		got = append(got, string(r.Value))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("read back %q, want %q", got, want)
	}
}

// TestCLIProduceRecordErrors: records the broker refuses are reported one a
// line with the input line number and what to do, the summary counts them,
// and the exit code is 1; the records before them were delivered.
func TestCLIProduceRecordErrors(t *testing.T) {
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	wantRun(t, 0, "", "topic", "create", "small", "--config", "max.message.bytes=200", br)
	wantRun(t, 0, "fits\n", "produce", "small", br)
	big := strings.Repeat("x", 500)
	out, errOut := wantRun(t, 1, big+"\n"+big+"\n", "produce", "small", br)
	for _, line := range []string{"line 1: MESSAGE_TOO_LARGE", "line 2: MESSAGE_TOO_LARGE", "raise the topic's max.message.bytes",
		"jocko: 2 of 2 records failed"} {
		if !strings.Contains(errOut, line) {
			t.Fatalf("stderr lacks %q:\n%s", line, errOut)
		}
	}
	if !strings.Contains(out, "produced 0 records (0 bytes) to small in 0 partitions; 2 failed") {
		t.Fatalf("summary:\n%s", out)
	}
	out, _ = wantRun(t, 0, "", "consume", "small", br)
	if out != "fits\n" {
		t.Fatalf("consume small: %q, want only the record that fit", out)
	}
}

// TestCLIProduceProgressBar: with --file and stderr a terminal (a pty made
// by script(1)), produce draws a progress bar that ends at 100% and the
// record count; with stderr a pipe, it draws none.
func TestCLIProduceProgressBar(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) not installed (apt-get install bsdutils)")
	}
	b := startBroker(t, "")
	file := filepath.Join(t.TempDir(), "lines.txt")
	var lines strings.Builder
	for i := range 50000 {
		fmt.Fprintf(&lines, "line %d\n", i)
	}
	if err := os.WriteFile(file, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmdline := fmt.Sprintf("%s produce bar --file %s --brokers %s", jockoBin, file, b.addr)
	ctx := testCtx(t)
	tty, err := exec.CommandContext(ctx, script, "-qec", cmdline, "/dev/null").Output()
	if err != nil {
		t.Fatalf("script -qec %q: %v\n%s", cmdline, err, tty)
	}
	if !regexp.MustCompile(`\r\x1b\[K\[#{30}\] 100%  \d+\.\d KiB / \d+\.\d KiB  50000 records`).Match(tty) ||
		!strings.Contains(string(tty), "produced 50000 records") {
		t.Fatalf("on a terminal, no final progress bar in:\n%q", tail(string(tty), 600))
	}
	_, errOut := wantRun(t, 0, "", "produce", "bar", "--file", file, "--brokers", b.addr)
	if strings.Contains(errOut, "\r") || strings.Contains(errOut, "%") {
		t.Fatalf("stderr not a terminal, yet a progress bar: %q", errOut)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestCLIProduceBadInput: mistakes on `jocko produce` say what was wrong.
func TestCLIProduceBadInput(t *testing.T) {
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	wantRun(t, 0, "", "topic", "create", "two", "--partitions", "2", br)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"produce"}, 2, "jocko produce needs exactly one topic name (got 0 arguments)"},
		{[]string{"produce", "a", "b"}, 2, "needs exactly one topic name (got 2 arguments)"},
		{[]string{"produce", "two", "--acks", "2"}, 2, `--acks "2": want all, 1 or 0`},
		{[]string{"produce", "two", "--compression", "brotli"}, 2, `--compression "brotli": want none, gzip, snappy, lz4 or zstd`},
		{[]string{"produce", "two", "--header", "novalue"}, 2, `--header "novalue": want KEY=VALUE`},
		{[]string{"produce", "two", "--header", "=v"}, 2, `--header "=v": want KEY=VALUE`},
		{[]string{"produce", "two", "--partition", "2"}, 2, "--partition 2: topic two has 2 partitions (0 to 1)"},
		{[]string{"produce", "two", "--partition", "-3"}, 2, "--partition -3: want a partition number"},
		{[]string{"produce", "two", "--file", "/no/such/file"}, 2, "--file: open /no/such/file: no such file or directory"},
		{[]string{"produce", "two", "--format", "yaml"}, 2, `--format "yaml": want text or json`},
		{[]string{"produce", "bad name!"}, 1, "only ASCII letters"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(append(c.args, br)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("jocko %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, errOut, c.code, c.want)
		}
	}
	// A line longer than lineBytesMax stops the input with its number.
	long := "ok\n" + strings.Repeat("y", lineBytesMax+1) + "\n"
	code, out, errOut := runJocko(t, long, "produce", "two", br, "--partition", "0")
	if code != 1 || !strings.Contains(errOut, "line 2 is longer than 16 MiB") || !strings.Contains(out, "produced 1 records") {
		t.Fatalf("a too long line: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
