package main

// librdkafka's group consumer (kcat -G).

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestE2EGroupClientsKcat: `kcat -G` balanced consumers (librdkafka 2.0,
// JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v1, FindCoordinator
// v2, OffsetCommit/Fetch v7) under each of librdkafka's assignors; SIGTERM
// makes kcat commit and leave; range-kill9 kills a member with SIGKILL
// instead, which the broker expels after its session timeout (3 s there).
// JOCKO_TEST_KCAT_DEBUG=protocol,cgrp writes
// librdkafka's debug log of each process to $TMPDIR/kcat-debug-*.
func TestE2EGroupClientsKcat(t *testing.T) {
	t.Parallel()
	kcat := needKcat(t)
	b, px := startProxiedBroker(t, clientGroupBrokerFlags...)
	for _, tc := range []struct {
		name, strategy string
		crash          time.Duration
	}{
		{"range", "range", 0},
		{"roundrobin", "roundrobin", 0},
		{"cooperative-sticky", "cooperative-sticky", 0},
		{"range-kill9", "range", 3 * time.Second},
	} {
		strategy := tc.strategy
		session := 6 * time.Second
		if tc.crash > 0 {
			session = tc.crash
		}
		t.Run(tc.name, func(t *testing.T) {
			var started []*cgLine
			group := "kcat-" + tc.name
			cgScenario(t, b, px, group, group, tc.crash, func(n string) cgMember {
				args := []string{"-b", b.addr, "-G", group, group, "-u",
					// not -o beginning: kcat then assigns every partition at
					// BEGINNING itself and ignores the committed offsets.
					"-X", "auto.offset.reset=earliest",
					"-f", "%p %o %s\n",
					"-X", "client.id=" + n,
					"-X", "partition.assignment.strategy=" + strategy,
					"-X", "session.timeout.ms=" + strconv.Itoa(int(session.Milliseconds())),
					"-X", "heartbeat.interval.ms=300",
					"-X", "auto.commit.interval.ms=200",
					"-X", "topic.metadata.refresh.interval.ms=1000",
					"-X", "fetch.wait.max.ms=100"}
				if d := os.Getenv("JOCKO_TEST_KCAT_DEBUG"); d != "" {
					args = append(args, "-d", d)
				}
				p := cgStart(t, n, kcat, args...)
				started = append(started, p)
				return p
			})
			if os.Getenv("JOCKO_TEST_KCAT_DEBUG") != "" {
				for i, p := range started {
					os.WriteFile(filepath.Join(os.TempDir(), fmt.Sprintf("kcat-debug-%s-%d-%s", tc.name, i, p.name)), []byte(p.stderrAll()), 0o644)
				}
			}
		})
	}
}
