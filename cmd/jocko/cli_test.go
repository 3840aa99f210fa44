package main

import (
	"bytes"
	"strings"
	"testing"
)

// runCLI runs a jocko command line in-process and returns exit code and output.
func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCLITopicLifecycle drives `jocko topic` against a real broker.
func TestCLITopicLifecycle(t *testing.T) {
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"topic", "create", "orders", "--partitions", "3", "--replication-factor", "1", "--config", "retention.ms=60000", br}, "created topic orders with 3 partitions"},
		{[]string{"topic", "list", br}, "orders"},
		{[]string{"topic", "describe", "orders", br}, "retention.ms"},
		{[]string{"topic", "alter", "orders", "--partitions", "5", "--config", "retention.ms=120000", br}, "now has 5 partitions"},
		{[]string{"topic", "describe", "orders", br}, "120000"},
		{[]string{"topic", "delete", "orders", br}, "deleted topic orders"},
	}
	for _, s := range steps {
		code, out, errOut := runCLI(s.args...)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Fatalf("jocko %s: exit %d, output %q (stderr %q); want %q", strings.Join(s.args, " "), code, out, errOut, s.want)
		}
	}
	code, out, _ := runCLI("topic", "list", br)
	if code != 0 || strings.Contains(out, "orders") {
		t.Fatalf("after delete, list printed %q", out)
	}
	code, _, errOut := runCLI("topic", "create", "orders", "--partitions", "0", br)
	if code != 2 || !strings.Contains(errOut, "--partitions 0: must be at least 1") {
		t.Fatalf("create with 0 partitions: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI("topic", "create", "bad name!", br)
	if code != 1 || !strings.Contains(errOut, "only ASCII letters") {
		t.Fatalf("create with a bad name: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI("topic", "alter", "missing", "--config", "retention.ms=1", br)
	if code != 1 || !strings.Contains(errOut, "missing") {
		t.Fatalf("alter a missing topic: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI("topic", "create", "x", "--config", "retention.ms=soon", br)
	if code != 1 || !strings.Contains(errOut, "want a whole number") {
		t.Fatalf("create with a bad config value: exit %d, %q", code, errOut)
	}
}

// TestCLIBadInput checks that mistakes on the command line say what is wrong.
func TestCLIBadInput(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"topic"}, 2, "topic needs a subcommand"},
		{[]string{"topic", "explode"}, 2, `unknown topic subcommand "explode"`},
		{[]string{"topic", "create"}, 2, "needs exactly one topic name"},
		{[]string{"broker", "--listen", "nowhere"}, 2, `listen address "nowhere": want HOST:PORT`},
		{[]string{"broker", "--log.retention.ms", "tomorrow"}, 2, `log.retention.ms="tomorrow": want a whole number`},
		{[]string{"broker", "--log-level", "loud"}, 2, `--log-level "loud"`},
		{[]string{"broker", "--no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"broker", "extra"}, 2, "takes no arguments"},
		{[]string{"topic", "list", "--brokers", "127.0.0.1:1", "--timeout", "2s"}, 1, "cannot reach a broker at 127.0.0.1:1"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("jocko %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, errOut, c.code, c.want)
		}
	}
}

// TestCLIEnvironment checks that JOCKO_ variables set flags and that a bad
// one is reported by name.
func TestCLIEnvironment(t *testing.T) {
	t.Setenv("JOCKO_LOG_RETENTION_MS", "never")
	code, _, errOut := runCLI("broker", "--data-dir", t.TempDir())
	if code != 2 || !strings.Contains(errOut, `log.retention.ms="never"`) {
		t.Fatalf("bad JOCKO_LOG_RETENTION_MS: exit %d, %q", code, errOut)
	}
	if got := envName("log.retention.ms"); got != "JOCKO_LOG_RETENTION_MS" {
		t.Fatalf("envName = %s", got)
	}
}
