package main

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// needKcat returns kcat's path, or skips: the test needs librdkafka's kcat
// (Debian package kcat; .ci/run installs it).
func needKcat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed (apt-get install kcat); skipping the librdkafka test")
	}
	return path
}

// TestE2EKcatCodecs produces with kcat (librdkafka) through every codec and
// reads back with both kcat and franz-go, and reads franz-go's records with
// kcat.
func TestE2EKcatCodecs(t *testing.T) {
	kcat := needKcat(t)
	b := startBroker(t, "")
	ctx := testCtx(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		topic := "kcat-" + codec
		var lines []string
		for i := 0; i < 200; i++ {
			lines = append(lines, fmt.Sprintf("k%d:value-%d-%s", i, i, strings.Repeat("x", i)))
		}
		cmd := exec.CommandContext(ctx, kcat, "-P", "-b", b.addr, "-t", topic, "-K", ":", "-z", codec,
			"-X", "acks=all", "-X", "enable.idempotence=true")
		cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat produce %s: %v\n%s\nbroker log:\n%s", codec, err, out, b.logText())
		}
		out, err := exec.CommandContext(ctx, kcat, "-C", "-b", b.addr, "-t", topic, "-o", "beginning", "-e", "-f", "%k:%s\n").Output()
		if err != nil {
			t.Fatalf("kcat consume %s: %v", codec, err)
		}
		got := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(got) != len(lines) || strings.Join(got, "\n") != strings.Join(lines, "\n") {
			t.Fatalf("%s: kcat read back %d lines, want %d (first %q)", codec, len(got), len(lines), got[0])
		}
		recs := consumeAll(t, b, topic, len(lines))
		var viaKgo []string
		for _, r := range recs {
			viaKgo = append(viaKgo, string(r.Key)+":"+string(r.Value))
		}
		if strings.Join(viaKgo, "\n") != strings.Join(lines, "\n") {
			t.Fatalf("%s: franz-go read different records than kcat wrote", codec)
		}
	}

	// franz-go writes, kcat reads.
	cl := b.client(t, kgo.DefaultProduceTopic("from-kgo"), kgo.AllowAutoTopicCreation())
	var want []string
	for i := 0; i < 100; i++ {
		v := fmt.Sprintf("kgo-%03d", i)
		want = append(want, v)
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", b.addr, "-t", "from-kgo", "-o", "beginning", "-e", "-f", "%s\n").Output()
	if err != nil {
		t.Fatalf("kcat consume: %v", err)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("kcat read %d records of franz-go's %d", len(got), len(want))
	}
}
