package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestE2EConfigFile runs a broker from a Kafka 4 style server.properties,
// with one setting overridden by a JOCKO_ variable and one by a flag, and
// checks what the broker prints (the effective settings with their
// sources, the Kafka keys it ignores) against what DescribeConfigs reports
// and where the data went.
func TestE2EConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "kafka-logs")
	props := "# A Kafka 4 combined-mode file\n" +
		"process.roles=broker,controller\n" +
		"node.id=1\n" +
		"controller.quorum.bootstrap.servers=localhost:9093\n" +
		"listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0\n" +
		"controller.listener.names=CONTROLLER\n" +
		"listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n" +
		"num.network.threads=3\n" +
		"log.dirs=" + data + "\n" +
		"num.partitions=3\n" +
		"log.retention.hours: 2\n" +
		"log.segment.bytes 10\\\n    73741824\n" +
		"message.max.bytes=2000000\n"
	path := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(path, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, dataDir: data,
		args: []string{"broker", "--config", path, "--log.segment.bytes", "2097152"},
		env:  []string{"JOCKO_NUM_PARTITIONS=2"}}
	p.start("")
	t.Cleanup(p.stop)

	logs := p.logText()
	attr := func(from string) string {
		m := regexp.MustCompile(`msg="effective settings".* ` + from + `="([^"]*)"`).FindStringSubmatch(logs)
		if m == nil {
			t.Fatalf("no %s group in the effective settings:\n%s", from, logs)
		}
		return " " + m[1] + " "
	}
	for from, want := range map[string][]string{
		"flag":    {"config=" + path, "log.segment.bytes=2097152"},
		"env":     {"num.partitions=2"},
		"file":    {"data-dir[log.dirs]=" + data, "listen[listeners]=127.0.0.1:0", "raft-listen[listeners]=127.0.0.1:0", "log.retention.ms[log.retention.hours]=7200000", "message.max.bytes=2000000", "node-id[node.id]=1"},
		"default": {"auto.create.topics.enable=true", "log.roll.ms=604800000"},
	} {
		got := attr(from)
		for _, w := range want {
			if !strings.Contains(got, " "+w+" ") {
				t.Errorf("effective settings from %s: want %q in %q", from, w, got)
			}
		}
	}
	if s := attr("file"); strings.Contains(s, "num.partitions") || strings.Contains(s, "log.segment.bytes") {
		t.Errorf("settings given by a flag or JOCKO_ variable also listed as from the file: %q", s)
	}
	if !regexp.MustCompile(`level=WARN msg="ignoring Kafka settings Jocko does not act on" file=\S+ keys=process.roles,controller.quorum.bootstrap.servers,num.network.threads\n`).MatchString(logs) {
		t.Errorf("want one warning naming process.roles, controller.quorum.bootstrap.servers and num.network.threads:\n%s", logs)
	}

	// What the broker runs with, as a client sees it.
	ctx := testCtx(t)
	cfgs := describeConfigs(t, ctx, p.admin(t), "", 1)
	for name, want := range map[string]string{
		"num.partitions": "2", "log.segment.bytes": "2097152", "log.retention.ms": "7200000",
		"message.max.bytes": "2000000", "log.roll.ms": "604800000",
	} {
		c, ok := cfgs[name]
		if !ok || c.Value == nil || *c.Value != want {
			t.Errorf("DescribeConfigs %s = %v, want %s", name, c.Value, want)
			continue
		}
		wantSrc := kmsg.ConfigSourceStaticBrokerConfig
		if name == "log.roll.ms" {
			wantSrc = kmsg.ConfigSourceDefaultConfig
		}
		if c.Source != wantSrc {
			t.Errorf("DescribeConfigs %s source = %v, want %v", name, c.Source, wantSrc)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "meta.properties")); err != nil {
		t.Errorf("the broker did not keep its data in log.dirs: %v", err)
	}
}

// TestBrokerConfigFileRefused runs jocko broker with config files it must
// refuse before starting: exit code 2, and a message naming the file, the
// line, the key and what to do.
func TestBrokerConfigFileRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i, c := range []struct{ text, want string }{
		{"num.partitions=3\nlog.retension.ms=1000\n", `server.properties:2: unknown setting "log.retension.ms": neither a Kafka broker setting nor a jocko broker flag (did you mean log.retention.ms?); fix or remove it`},
		{"listeners=SASL_SSL://:9092\n", "server.properties:1: listeners: SASL_SSL uses SASL_SSL; Jocko speaks PLAINTEXT only"},
		{"num.partitions=zero\n", `server.properties:1: num.partitions="zero": broker config num.partitions="zero": want a whole number`},
		{"log.dirs=/a,/b\n", "Jocko keeps its data in one directory: give exactly one"},
	} {
		sub := filepath.Join(dir, string(rune('a'+i)))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(sub, "server.properties")
		if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(jockoBin, "broker", "--data-dir", filepath.Join(sub, "data"), "--listen", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "JOCKO_CONFIG="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d (%v), stderr %q; want exit 2 and %q", c.text, code, err, stderr.String(), c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "data")); err == nil {
		t.Errorf("a refused config file still created the data directory")
	}
}
