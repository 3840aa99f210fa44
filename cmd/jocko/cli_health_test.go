package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestCLIClusterHealthOneBroker: a lone broker is healthy: exit 0, one
// "healthy" line, and healthy with no problems in JSON.
func TestCLIClusterHealthOneBroker(t *testing.T) {
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	wantRun(t, 0, "x\n", "produce", "orders", br)
	out, _ := wantRun(t, 0, "", "cluster", "health", br)
	if !regexp.MustCompile(`^healthy: 1 brokers, controller \d+, \d+ partitions all led and fully replicated\n$`).MatchString(out) {
		t.Fatalf("cluster health: %q", out)
	}
	out, _ = wantRun(t, 0, "", "cluster", "health", br, "--format", "json")
	var r healthReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("cluster health --format json: %v\n%s", err, out)
	}
	if !r.Healthy || r.Brokers != 1 || r.Controller < 1 || r.Partitions < 1 || r.Problems == nil || len(r.Problems) != 0 {
		t.Fatalf("cluster health --format json: %+v", r)
	}
	code, _, errOut := runCLI("cluster", "health", br, "--format", "yaml")
	if code != 2 || !strings.Contains(errOut, `--format "yaml": want text or json`) {
		t.Fatalf("cluster health --format yaml: exit %d, %q", code, errOut)
	}
}

// TestCLIClusterHealthOfflinePartition: three jocko processes, a topic at
// replication factor 1; once the broker holding one of its partitions is
// killed with SIGKILL, `cluster health` exits 1 with a line naming that
// partition offline and one naming the broker fenced (in JSON too), and
// nothing but problem lines.
func TestCLIClusterHealthOfflinePartition(t *testing.T) {
	t.Parallel()
	procs := startCluster(t, 3)
	createTopic(t, "solo", "1", "--brokers="+procs[0].addr)
	br := "--brokers=" + procs[0].addr + "," + procs[1].addr
	waitCLI(t, 30*time.Second, func(out string) bool { return strings.HasPrefix(out, "healthy: 3 brokers") }, "cluster", "health", br)

	victim := procs[2]
	id := brokerID(t, victim)
	ctx := testCtx(t)
	var onVictim []int32
	md, err := procs[0].admin(t).Metadata(ctx, "solo")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range md.Topics["solo"].Partitions.Sorted() {
		if slices.Equal(p.Replicas, []int32{id}) {
			onVictim = append(onVictim, p.Partition)
		}
	}
	if len(onVictim) == 0 {
		t.Fatalf("no partition of solo on broker %d: %+v", id, md.Topics["solo"].Partitions)
	}
	victim.kill9()

	var wantLines []string
	for _, p := range onVictim {
		wantLines = append(wantLines, fmt.Sprintf("partition solo-%d offline: no leader (replicas [%d], ISR [%d])", p, id, id))
	}
	wantLines = append(wantLines, fmt.Sprintf("broker %d (%s) fenced", id, victim.addr))
	var out, errOut string
	deadline := time.Now().Add(60 * time.Second)
	for {
		var code int
		code, out, errOut = runCLI("cluster", "health", br)
		if code == 1 && containsAll(out, wantLines) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster health after kill -9 of broker %d: exit %d, want 1 and lines %q\nstdout:\n%s\nstderr: %s", id, code, wantLines, out, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("jocko cluster health, broker %d killed:\n%s%s", id, out, errOut)
	if !strings.Contains(errOut, "the cluster is unhealthy") {
		t.Fatalf("stderr %q: want the unhealthy verdict", errOut)
	}
	problemLine := regexp.MustCompile(`^(partition \S+-\d+ (offline|under-replicated)|broker \d+ \(\S+\) fenced|no controller)`)
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !problemLine.MatchString(line) {
			t.Fatalf("not a problem line: %q\nstdout:\n%s", line, out)
		}
	}

	// Either broker may answer, and one may not yet have applied the
	// failover the other reported: the same verdict shows within a while.
	for {
		code, out, _ := runCLI("cluster", "health", br, "--format", "json")
		var r healthReport
		if err := json.Unmarshal([]byte(out), &r); code != 1 || err != nil {
			t.Fatalf("cluster health --format json: exit %d, %v\n%s", code, err, out)
		}
		offline := map[int32]bool{}
		fenced := false
		for _, p := range r.Problems {
			switch {
			case p.Kind == "offline-partition" && p.Topic == "solo" && slices.Equal(p.Replicas, []int32{id}):
				offline[*p.Partition] = true
			case p.Kind == "fenced-broker" && *p.Broker == id:
				fenced = true
			}
		}
		if !r.Healthy && len(offline) == len(onVictim) && fenced {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster health --format json: want solo partitions %v offline and broker %d fenced:\n%s", onVictim, id, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestHealthLogDirProblems: a log directory the broker reports an error
// for is offline, one with less than diskFreeMinPercent free is nearly
// full, and an unreported capacity (-1, brokers before KIP-827) is no
// problem. (Jocko has no DescribeLogDirs yet, so this judgement is tested
// alone.)
func TestHealthLogDirProblems(t *testing.T) {
	cases := []struct {
		err           error
		total, usable int64
		kind, msg     string
	}{
		{nil, 100 << 30, 50 << 30, "", ""},
		{nil, -1, -1, "", ""},
		{nil, 100 << 30, 5 << 30, "", ""},
		{nil, 100 << 30, 4 << 30, "log-dir-full", "broker 2 log dir /d nearly full: 4.0 GiB free of 100.0 GiB (4.0%); lower retention or add disk"},
		{kerr.KafkaStorageError, 100, 50, "log-dir-offline", "broker 2 log dir /d offline: KAFKA_STORAGE_ERROR"},
	}
	for _, c := range cases {
		ps := dirProblems(2, "/d", c.err, c.total, c.usable)
		switch {
		case c.kind == "" && len(ps) != 0:
			t.Errorf("total %d usable %d err %v: %+v, want no problem", c.total, c.usable, c.err, ps)
		case c.kind != "" && (len(ps) != 1 || ps[0].Kind != c.kind || !strings.HasPrefix(ps[0].Message, c.msg) || *ps[0].Broker != 2 || ps[0].Dir != "/d"):
			t.Errorf("total %d usable %d err %v: %+v, want %s %q", c.total, c.usable, c.err, ps, c.kind, c.msg)
		}
	}
}
