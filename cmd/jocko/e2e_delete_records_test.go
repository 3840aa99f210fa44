package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceToP0 sends n records to topic partition 0 with acks=all.
func produceToP0(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, n int) {
	t.Helper()
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// deleteRecords sends DeleteRecords for topic partition 0 up to at and
// returns the partition's answer.
func deleteRecords(t *testing.T, ctx context.Context, adm *kadm.Client, topic string, at int64) kadm.DeleteRecordsResponse {
	t.Helper()
	var os kadm.Offsets
	os.AddOffset(topic, 0, at, -1)
	rs, err := adm.DeleteRecords(ctx, os)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := rs.Lookup(topic, 0)
	if !ok {
		t.Fatalf("DeleteRecords: no answer for %s-0: %v", topic, rs)
	}
	return r
}

// startOffset asks the partition's leader for its log start (ListOffsets
// earliest); -1 on an error.
func startOffset(ctx context.Context, adm *kadm.Client, topic string) int64 {
	lo, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return -1
	}
	o, ok := lo.Lookup(topic, 0)
	if !ok || o.Err != nil {
		return -1
	}
	return o.Offset
}

// startFile reads the log start a replica persisted in its data directory
// (storage's logstart file: the offset, big-endian, and a CRC); 0 when
// there is none yet.
func startFile(p *proc, topic string) int64 {
	b, err := os.ReadFile(filepath.Join(p.dataDir, topic+"-0", "logstart"))
	if err != nil || len(b) != 12 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// TestE2EDeleteRecords (KIP-107, DeleteRecords v2 through kadm): the log
// start moves to the asked offset and is the answer's low watermark;
// consumers from the start begin there; -1 means the high watermark; an
// offset past it is OFFSET_OUT_OF_RANGE and a compacted topic
// POLICY_VIOLATION; the start survives a restart.
func TestE2EDeleteRecords(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	ctx := testCtx(t)
	adm := b.admin(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "dr"); err != nil {
		t.Fatal(err)
	}
	produceToP0(t, ctx, b.client(t), "dr", 100)
	if r := deleteRecords(t, ctx, adm, "dr", 40); r.Err != nil || r.LowWatermark != 40 {
		t.Fatalf("DeleteRecords to 40: low watermark %d, %v", r.LowWatermark, r.Err)
	}
	if got := startOffset(ctx, adm, "dr"); got != 40 {
		t.Fatalf("log start %d after DeleteRecords to 40", got)
	}
	if rs := consumeAll(t, b, "dr", 60); rs[0].Offset != 40 || len(rs) != 60 {
		t.Fatalf("consumed %d records from offset %d, want 60 from 40", len(rs), rs[0].Offset)
	}
	if r := deleteRecords(t, ctx, adm, "dr", 101); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("DeleteRecords past the high watermark: %v, want OFFSET_OUT_OF_RANGE", r.Err)
	}
	if r := deleteRecords(t, ctx, adm, "dr", 10); r.Err != nil || r.LowWatermark != 40 {
		t.Fatalf("DeleteRecords below the start: low watermark %d, %v; want 40", r.LowWatermark, r.Err)
	}
	if r := deleteRecords(t, ctx, adm, "dr", -1); r.Err != nil || r.LowWatermark != 100 {
		t.Fatalf("DeleteRecords to the high watermark: low watermark %d, %v; want 100", r.LowWatermark, r.Err)
	}
	compact := "compact"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &compact}, "dr-compact"); err != nil {
		t.Fatal(err)
	}
	if r := deleteRecords(t, ctx, adm, "dr-compact", 0); !errors.Is(r.Err, kerr.PolicyViolation) {
		t.Fatalf("DeleteRecords on a compacted topic: %v, want POLICY_VIOLATION", r.Err)
	}
	b.stop()
	b.restart()
	adm = b.admin(t)
	waitUntil(t, ctx, func() bool { return startOffset(ctx, adm, "dr") >= 0 })
	if got := startOffset(ctx, adm, "dr"); got != 100 {
		t.Fatalf("log start %d after a restart, want 100", got)
	}
}

// TestE2EClusterDeleteRecords: on three brokers with a topic of
// replication factor 3, DeleteRecords moves every replica's persisted log
// start (followers follow the leader's LogStartOffset in Fetch); a
// follower that was down while the start passed its log end starts over
// at the leader's start; after the leader is killed the new leader
// answers the same start, and so does the old one after its restart.
func TestE2EClusterDeleteRecords(t *testing.T) {
	t.Parallel()
	procs := startCluster(t, 3)
	ctx := testCtx(t)
	adm := procs[0].admin(t)
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "drc"); err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for _, p := range procs {
		seeds = append(seeds, p.addr)
	}
	prod := procs[0].client(t, kgo.SeedBrokers(seeds...))
	produceToP0(t, ctx, prod, "drc", 100)
	if r := deleteRecords(t, ctx, adm, "drc", 30); r.Err != nil || r.LowWatermark != 30 {
		t.Fatalf("DeleteRecords to 30: low watermark %d, %v", r.LowWatermark, r.Err)
	}
	for i, p := range procs {
		waitUntil(t, ctx, func() bool { return startFile(p, "drc") == 30 })
		t.Logf("process %d persisted log start 30", i+1)
	}
	leader := partitionLeader(t, ctx, adm, "drc", 0)
	byID := map[int32]*proc{}
	for _, p := range procs {
		byID[brokerID(t, p)] = p
	}
	var follower *proc
	for id, p := range byID {
		if id != leader && p != procs[0] {
			follower = p
		}
	}
	if follower == nil {
		follower = procs[0]
	}
	// A follower down while the start passes its log end.
	follower.kill9()
	produceToP0(t, ctx, prod, "drc", 100)
	if r := deleteRecords(t, ctx, adm, "drc", -1); r.Err != nil || r.LowWatermark != 200 {
		t.Fatalf("DeleteRecords to the high watermark: low watermark %d, %v; want 200", r.LowWatermark, r.Err)
	}
	follower.restart()
	for _, p := range procs {
		waitUntil(t, ctx, func() bool { return startFile(p, "drc") == 200 })
	}
	// The leader killed: the new leader answers the same start.
	old := byID[leader]
	old.kill9()
	other := procs[0]
	if other == old {
		other = procs[1]
	}
	oadm := other.admin(t)
	waitUntil(t, ctx, func() bool {
		l := partitionLeaderOrZero(ctx, oadm, "drc", 0)
		return l > 0 && l != leader
	})
	waitUntil(t, ctx, func() bool { return startOffset(ctx, oadm, "drc") == 200 })
	old.restart()
	if got := startFile(old, "drc"); got != 200 {
		t.Fatalf("restarted old leader's log start %d, want 200", got)
	}
	produceToP0(t, ctx, prod, "drc", 10)
	if rs := consumeAll(t, other, "drc", 10); rs[0].Offset != 200 {
		t.Fatalf("first record after the deletes at offset %d, want 200", rs[0].Offset)
	}
	// `jocko topic describe` gathers every replica's size (DescribeLogDirs
	// on each broker): three replicas holding the same batches.
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("last topic describe: %s", last)
		}
	}()
	waitUntil(t, ctx, func() bool {
		code, out, errOut := runCLI("topic", "describe", "drc", "--brokers", other.addr, "--format", "json")
		last = out + errOut
		var d topicDescription
		if code != 0 || json.Unmarshal([]byte(out), &d) != nil || len(d.Partitions) != 1 {
			return false
		}
		p := d.Partitions[0]
		if len(p.ReplicaSizes) != 3 || p.Size <= 0 {
			return false
		}
		for _, n := range p.ReplicaSizes {
			if n != p.Size {
				return false
			}
		}
		return true
	})
}
