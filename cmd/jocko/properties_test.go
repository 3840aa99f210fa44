package main

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jocko/jocko/core"
)

// TestParseProperties checks the java.util.Properties syntax Kafka's
// server.properties is written in: comments, the three separators,
// continuation lines and escapes.
func TestParseProperties(t *testing.T) {
	t.Parallel()
	text := "# comment\n" +
		"! also a comment \\\n" + // a comment does not continue
		"  a=1\n" +
		"b : 2\n" +
		"c 3\n" +
		"d\t=\t4 with spaces  \n" +
		"e=first,\\\n    second,\\\r\n\tthird\n" +
		"key\\ with\\=odd\\:chars = v\n" +
		"f=ends in backslash\\\\\n" +
		"g=\\u00e9t\\u00E9 tab\\there\n" +
		"h\n" +
		"i=x=y:z\n" +
		"\n   \n" +
		"a=last wins\n"
	got, err := parseProperties(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []property{
		{"a", "1", 3}, {"b", "2", 4}, {"c", "3", 5}, {"d", "4 with spaces  ", 6},
		{"e", "first,second,third", 7}, {"key with=odd:chars", "v", 10},
		{"f", `ends in backslash\`, 11}, {"g", "été tab\there", 12}, {"h", "", 13},
		{"i", "x=y:z", 14}, {"a", "last wins", 17},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseProperties:\n got %+v\nwant %+v", got, want)
	}
	if _, err := parseProperties("ok=1\nbad=\\u12x4\n"); err == nil || !strings.HasPrefix(err.Error(), "2: ") || !strings.Contains(err.Error(), `\u`) {
		t.Fatalf("a malformed \\u escape: got %v, want an error naming line 2 and the escape", err)
	}
}

// TestConfigFileMapping checks how Kafka's keys land on jocko broker's
// flags, and that what Jocko cannot honour is refused with the reason.
func TestConfigFileMapping(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	read := func(text string) (*configFile, error) {
		path := filepath.Join(dir, "server.properties")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		var cfg core.Config
		fs, _, _ := brokerFlags(&cfg)
		fs.String("config", "", "")
		return readConfigFile(path, fs)
	}
	cf, err := read("listeners=BROKER://:19092,CTL://127.0.0.1:19093\n" +
		"controller.listener.names=CTL\n" +
		"listener.security.protocol.map=BROKER:PLAINTEXT,CTL:PLAINTEXT\n" +
		"advertised.listeners=BROKER://kafka-1.example:19092\n" +
		"log.dir=/ignored\nlog.dirs=/var/lib/kafka\n" +
		"broker.id=4\nbroker.rack=r1\n" +
		"log.retention.minutes=5\nlog.retention.hours=1\nlog.roll.hours=-1\n" +
		"join=10.0.0.1:9094\nnum.io.threads=8\nssl.keystore.location=/x\nlistener.name.broker.ssl.key.password=y\n")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for k, s := range cf.set {
		got[k] = s.value + " <- " + s.key
	}
	want := map[string]string{
		"listen":           ":19092 <- listeners",
		"raft-listen":      "127.0.0.1:19093 <- listeners",
		"advertise":        "kafka-1.example:19092 <- advertised.listeners",
		"data-dir":         "/var/lib/kafka <- log.dirs",
		"node-id":          "4 <- broker.id",
		"rack":             "r1 <- broker.rack",
		"log.retention.ms": "300000 <- log.retention.minutes",
		"log.roll.ms":      "-1 <- log.roll.hours",
		"join":             "10.0.0.1:9094 <- join",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mapped flags:\n got %v\nwant %v", got, want)
	}
	if w := []string{"num.io.threads", "ssl.keystore.location", "listener.name.broker.ssl.key.password"}; !reflect.DeepEqual(cf.ignored, w) {
		t.Errorf("ignored Kafka keys: got %v, want %v", cf.ignored, w)
	}
	for _, c := range []struct{ text, want string }{
		{"listeners=PLAINTEXT://:9092,SSL://:9093\n", "SSL uses SSL; Jocko speaks PLAINTEXT only"},
		{"listeners=A://:9092,B://:9093\nlistener.security.protocol.map=A:PLAINTEXT,B:PLAINTEXT\n", "Jocko serves one Kafka listener, this has A, B"},
		{"listeners=localhost:9092\n", `"localhost:9092": want NAME://HOST:PORT`},
		{"log.dirs=/a,/b\n", "Jocko keeps its data in one directory"},
		{"node.id=1\nbroker.id=2\n", "node.id=1 and line 2: broker.id=2 differ"},
		{"data-dir=/a\nlog.dirs=/b\n", "both set --data-dir"},
		{"num.partition=3\n", `:1: unknown setting "num.partition"`},
		{"num.partition=3\n", "did you mean num.partitions?"},
		{"log.retention.hours=a week\n", "log.retention.hours=\"a week\": want a whole number"},
		{"config=other.properties\n", "cannot name another"},
	} {
		if _, err := read(c.text); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got error %v, want one containing %q", c.text, err, c.want)
		}
	}
}

// TestRawValue checks that the effective-settings line shows flags as they
// were given, in each of the flag package's spellings.
func TestRawValue(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Func("node-id", "", func(string) error { return nil })
	fs.Bool("v", false, "")
	args := []string{"-v", "--node-id", "3", "-node-id=4", "--v=false", "rest", "--node-id", "9"}
	if got := rawValue(fs, "node-id", args); got != "4" {
		t.Fatalf("rawValue node-id = %q, want 4 (the last before the first argument)", got)
	}
	if got := rawValue(fs, "v", args); got != "false" {
		t.Fatalf("rawValue v = %q, want false", got)
	}
}
