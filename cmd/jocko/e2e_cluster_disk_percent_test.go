package main

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestE2EClusterDiskPercent (issue 11, item 1, in a cluster): three
// brokers, each on a 40 MiB tmpfs of its own, log.retention.disk.percent
// 50, one partition at RF=3. Only the leader decides what to delete; the
// followers follow its log start (from the Fetch responses), so every
// broker's file system stays under half while three times the budget is
// produced, and after a kill -9 of the leader the new one serves the same
// start onwards: every record at or after it reads back exactly as
// acknowledged.
func TestE2EClusterDiskPercent(t *testing.T) {
	t.Parallel()
	var fss []string
	for range 3 {
		fss = append(fss, smallFS(t, "40m"))
	}
	var dirs []string
	for _, fs := range fss {
		dirs = append(dirs, filepath.Join(fs, "data"))
	}
	procs := startClusterIn(t, dirs, "--log.disk.free.min.bytes", "0", "--log.retention.check.interval.ms", "200",
		"--log.retention.disk.percent", "50")
	ctx := testCtx(t)
	adm := procs[0].admin(t)
	s := kadm.StringPtr
	if _, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"segment.bytes": s("1048576"), "min.insync.replicas": s("2")}, "spread"); err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for _, p := range procs {
		seeds = append(seeds, p.addr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("spread"), kgo.ProducerBatchMaxBytes(256<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	acked := map[int64]int64{} // offset -> seq
	seq := int64(0)
	const valueSize = 8 << 10
	produce := func(mib int) {
		t.Helper()
		var recs []*kgo.Record
		for range mib * (1 << 20) / valueSize {
			recs = append(recs, &kgo.Record{Value: percentValue(seq, valueSize)})
			seq++
		}
		for _, res := range cl.ProduceSync(ctx, recs...) {
			if res.Err != nil {
				t.Fatalf("produce: %v (a full disk?)", res.Err)
			}
			acked[res.Record.Offset] = int64(binary.BigEndian.Uint64(res.Record.Value))
		}
	}
	_, total := diskUsed(t, fss[0])
	budget := total / 2
	// What retention cannot delete: the active segment and its indexes,
	// the metadata log, a segment a follower has not yet been told to drop.
	slack := int64(4 << 20)
	underBudget := func(label string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var over []string
			for i, fs := range fss {
				if used, _ := diskUsed(t, fs); used > budget+slack {
					over = append(over, fmt.Sprintf("broker %d: %d bytes", i+1, used))
				}
			}
			if len(over) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: over the %d-byte budget (+%d slack) 30 s on: %v", label, budget, slack, over)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for round := range 15 { // 60 MiB: three times the budget
		produce(4)
		underBudget(fmt.Sprintf("round %d", round))
	}
	starts, err := adm.ListStartOffsets(ctx, "spread")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := starts.Lookup("spread", 0)
	if st.Err != nil || st.Offset <= 0 {
		t.Fatalf("log start %d (%v): nothing was deleted", st.Offset, st.Err)
	}

	// The leader goes; a follower, whose disk stayed under the budget by
	// following the leader's start, leads from that start on.
	old := partitionLeader(t, ctx, adm, "spread", 0)
	var survivor *proc
	for _, p := range procs {
		if brokerID(t, p) == old {
			p.kill9()
		} else if survivor == nil {
			survivor = p
		}
	}
	sadm := survivor.admin(t)
	waitUntil(t, ctx, func() bool {
		l := partitionLeaderOrZero(ctx, sadm, "spread", 0)
		return l > 0 && l != old
	})
	var start, end int64
	waitUntil(t, ctx, func() bool {
		s, err1 := sadm.ListStartOffsets(ctx, "spread")
		e, err2 := sadm.ListEndOffsets(ctx, "spread")
		if err1 != nil || err2 != nil {
			return false
		}
		so, _ := s.Lookup("spread", 0)
		eo, _ := e.Lookup("spread", 0)
		start, end = so.Offset, eo.Offset
		return so.Err == nil && eo.Err == nil && start > 0
	})
	if end != int64(len(acked)) {
		t.Fatalf("the new leader ends at %d, %d records were acknowledged", end, len(acked))
	}
	readBack(t, survivor, ctx, "spread", 0, start, end, acked)
}
