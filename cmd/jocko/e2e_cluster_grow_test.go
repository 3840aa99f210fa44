package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestE2EClusterGrows: a broker that ran alone has a topic and committed
// group offsets at replication factor 1. Two brokers join it with --join;
// the controller raises __consumer_offsets to replication factor 3 by
// itself, and `jocko topic reassign` moves the topic's partition off the
// first broker onto the two new ones while acks=all produce goes on.
// Then the first broker is killed with SIGKILL: every acknowledged record
// and the group's committed offset are still there, so both moved with
// their data, not just in the metadata.
func TestE2EClusterGrows(t *testing.T) {
	t.Parallel()
	first := startBroker(t, "", clusterTimings...)
	ctx := testCtx(t)
	adm := first.admin(t)
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, "grow"); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(first.addr), kgo.DefaultProduceTopic("grow"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const total = 4000
	ap := produceAcked(ctx, prod, total, true)
	waitUntil(t, ctx, func() bool { return ap.n.Load() >= 500 })
	commit := kadm.Offsets{}
	commit.AddOffset("grow", 0, 321, -1)
	if err := adm.CommitAllOffsets(ctx, "growers", commit); err != nil {
		t.Fatal(err)
	}
	if rf := replicationFactors(ctx, t, adm, "__consumer_offsets"); slices.Max(rf) != 1 {
		t.Fatalf("__consumer_offsets on one broker has replication factors %v, want 1", rf)
	}

	m := gossipReadyRE.FindStringSubmatch(first.logText())
	if m == nil || m[1] == "" {
		t.Fatalf("no gossip address in the first broker's logs:\n%s", first.logText())
	}
	procs := []*proc{first}
	for range 2 {
		procs = append(procs, startBroker(t, "", append([]string{"--join", m[1]}, clusterTimings...)...))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range procs {
				t.Logf("=== logs of process %d (%s):\n%s", i+1, p.addr, p.logText())
			}
		}
	})
	// The controller raises the internal topic as brokers join, and the
	// new replicas catch up into the ISR.
	waitUntil(t, ctx, func() bool {
		td, err := adm.ListTopics(ctx, "__consumer_offsets")
		if err != nil || len(td["__consumer_offsets"].Partitions) == 0 {
			return false
		}
		for _, p := range td["__consumer_offsets"].Partitions {
			if len(p.Replicas) != 3 || len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})

	a, b := brokerID(t, procs[1]), brokerID(t, procs[2])
	target := strconv.Itoa(int(a)) + "," + strconv.Itoa(int(b))
	code, out, errOut := runCLI("topic", "reassign", "grow", "--partition", "0", "--replicas", target, "--brokers", first.addr)
	if code != 0 || !strings.Contains(out, "grow-0: complete: replicas ") {
		t.Fatalf("reassign grow-0 to %s: exit %d\n%s%s", target, code, out, errOut)
	}
	ap.wait(t)
	if ap.n.Load() != total {
		t.Fatalf("%d of %d records acknowledged", ap.n.Load(), total)
	}

	// Broker 1 holds nothing the cluster needs any more.
	first.kill9()
	other := procs[1]
	oadm := other.admin(t)
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last seen: %s", last)
		}
	})
	waitUntil(t, ctx, func() bool {
		td, err := oadm.ListTopics(ctx, "grow")
		if err != nil {
			last = err.Error()
			return false
		}
		p := td["grow"].Partitions[0]
		last = fmt.Sprintf("%+v", p)
		return p.Err == nil && p.Leader > 0 && slices.Equal(sorted(p.Replicas), sorted([]int32{a, b}))
	})
	ap.check(t, consumeAll(t, other, "grow", total))
	// A fresh client per try: franz-go (v1.22) keeps a group coordinator
	// it found while the dead broker still led __consumer_offsets and
	// goes on dialling it, which says nothing about the brokers.
	var got kadm.OffsetResponses
	waitUntil(t, ctx, func() bool {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		adm := other.admin(t)
		defer adm.Close()
		got, err = adm.FetchOffsets(cctx, "growers")
		last = fmt.Sprintf("offsets: %v / %v", err, got.Error())
		return err == nil && got.Error() == nil
	})
	if o, ok := got.Lookup("grow", 0); !ok || o.At != 321 {
		t.Fatalf("committed offset of grow-0 after the first broker died: %+v (found %v), want 321", o, ok)
	}
}

// replicationFactors lists the replica count of each partition of topic.
func replicationFactors(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) []int {
	t.Helper()
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var rf []int
	for _, p := range td[topic].Partitions {
		rf = append(rf, len(p.Replicas))
	}
	if len(rf) == 0 {
		t.Fatalf("topic %s has no partitions", topic)
	}
	return rf
}

func sorted(ids []int32) []int32 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
