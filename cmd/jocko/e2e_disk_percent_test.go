package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// diskUsed is the bytes in use on the file system holding dir, and its
// capacity, as the broker reads them (statfs: blocks minus those available).
func diskUsed(t *testing.T, dir string) (used, total int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	bs := int64(st.Bsize)
	return (int64(st.Blocks) - int64(st.Bavail)) * bs, int64(st.Blocks) * bs
}

// dirBytes sums the sizes of the files under the partition directories of
// topic in dataDir.
func dirBytes(t *testing.T, dataDir, topic string) int64 {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(dataDir, topic+"-*"))
	var n int64
	for _, d := range dirs {
		filepath.Walk(d, func(_ string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				n += fi.Size()
			}
			return nil
		})
	}
	return n
}

// percentValue is record seq's value: seq, then bytes drawn from seq.
func percentValue(seq int64, size int) []byte {
	v := make([]byte, size)
	binary.BigEndian.PutUint64(v, uint64(seq))
	rand.New(rand.NewSource(seq)).Read(v[8:])
	return v
}

// TestE2EDiskPercentRetention (issue 11, item 1): a broker on a 64 MiB
// tmpfs that also holds 8 MiB of someone else's file. With
// log.retention.disk.percent off, data piles up; set to 50 (dynamically,
// cluster-wide) it brings the file system under 50% and keeps it there
// while three times the budget is produced, with the disk-full reserve
// off so that running out of space would fail a produce; the topic
// capped by retention.disk.percent=10 stays under its cap. Every record
// still present reads back exactly as acknowledged, at its offset, and
// the log starts moved (data was deleted, oldest first). Values outside
// (0, 100] are INVALID_CONFIG with a message saying what is allowed.
func TestE2EDiskPercentRetention(t *testing.T) {
	t.Parallel()
	fsDir := smallFS(t, "64m")
	filler(t, filepath.Join(fsDir, "someone-else"), 8<<20)
	dataDir := filepath.Join(fsDir, "data")
	b := startBroker(t, dataDir, "--log.disk.free.min.bytes", "0", "--log.retention.check.interval.ms", "200")
	ctx := testCtx(t)
	adm := b.admin(t)
	s := func(v string) *string { return &v }

	// Bad values, on a topic and on the broker.
	resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.disk.percent": s("150")}, "bad")
	if err == nil {
		err = resp.Err
	}
	if !errors.Is(err, kerr.InvalidConfig) || !strings.Contains(resp.ErrMessage, "at most 100") {
		t.Fatalf("retention.disk.percent=150: %v %q, want INVALID_CONFIG saying what is allowed", err, resp.ErrMessage)
	}
	for _, v := range []string{"0", "100.5", "-5", "half"} {
		rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.retention.disk.percent", Value: s(v)}})
		if err == nil && len(rs) == 1 {
			err = rs[0].Err
		}
		if !errors.Is(err, kerr.InvalidConfig) || len(rs) != 1 || !strings.Contains(rs[0].ErrMessage, "greater than 0 and at most 100") {
			t.Fatalf("log.retention.disk.percent=%s: %v, want INVALID_CONFIG saying what is allowed", v, err)
		}
	}

	if _, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"segment.bytes": s("1048576")}, "big"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": s("524288"), "retention.disk.percent": s("10")}, "capped"); err != nil {
		t.Fatal(err)
	}
	cl := b.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(256<<10))
	type at struct {
		topic string
		part  int32
	}
	acked := map[at]map[int64]int64{} // offset -> seq, per partition
	seq := int64(0)
	const valueSize = 8 << 10
	// produce sends n MiB, spread over big's partitions and capped (one
	// quarter), and records what was acknowledged.
	produce := func(mib int) {
		t.Helper()
		var recs []*kgo.Record
		for i := range mib * (1 << 20) / valueSize {
			r := &kgo.Record{Topic: "big", Partition: int32(i % 2), Value: percentValue(seq, valueSize)}
			if i%4 == 3 {
				r.Topic, r.Partition = "capped", 0
			}
			seq++
			recs = append(recs, r)
		}
		for _, res := range cl.ProduceSync(ctx, recs...) {
			if res.Err != nil {
				t.Fatalf("produce: %v (a full disk?)\n%s", res.Err, b.logText())
			}
			k := at{res.Record.Topic, res.Record.Partition}
			if acked[k] == nil {
				acked[k] = map[int64]int64{}
			}
			acked[k][res.Record.Offset] = int64(binary.BigEndian.Uint64(res.Record.Value))
		}
	}

	// Off by default: 32 MiB (plus the 8 MiB file) take the file system
	// well past 50%.
	produce(32)
	used, total := diskUsed(t, fsDir)
	budget := total / 2
	// What retention cannot delete: the active segments (1 MiB for each
	// of big's two partitions, 512 KiB for capped), their indexes, the
	// metadata log.
	slack := int64(4 << 20)
	if used <= budget+slack {
		t.Fatalf("%d of %d bytes used after 40 MiB written: the test cannot tell", used, total)
	}
	underBudget := func(label string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			used, _ := diskUsed(t, fsDir)
			if used <= budget+slack {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d bytes used, budget %d (+%d slack), 30 s on\n%s", label, used, budget, slack, b.logText())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.retention.disk.percent", Value: s("50")}})
	if err == nil {
		err = rs[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	underBudget("after setting 50%")
	// Three times the budget more, 4 MiB at a time: each round starts
	// under the budget, so the file system never fills (a produce would
	// fail).
	for round := range 24 {
		produce(4)
		underBudget(fmt.Sprintf("round %d", round))
	}
	// The capped topic stays under 10% of the file system (plus its
	// active segment and indexes).
	deadline := time.Now().Add(30 * time.Second)
	for capped := dirBytes(t, dataDir, "capped"); capped > total/10+(2<<20); capped = dirBytes(t, dataDir, "capped") {
		if time.Now().After(deadline) {
			t.Fatalf("capped holds %d bytes, over 10%% of %d", capped, total)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Once the writes stop, retention brings the file system under the
	// budget itself (what it cannot delete is far below it) and then
	// deletes nothing more: the log starts hold still for the read.
	slack = 0
	underBudget("at rest")

	// Every record still present reads back exactly, and every
	// acknowledged record at or after the log start is present.
	starts, err := adm.ListStartOffsets(ctx, "big", "capped")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, "big", "capped")
	if err != nil {
		t.Fatal(err)
	}
	for k, offs := range acked {
		start, _ := starts.Lookup(k.topic, k.part)
		end, _ := ends.Lookup(k.topic, k.part)
		if start.Err != nil || end.Err != nil || start.Offset <= 0 || end.Offset != int64(len(offs)) {
			t.Fatalf("%s/%d: log start %d (%v), end %d (%v), %d acknowledged: nothing deleted, or records lost",
				k.topic, k.part, start.Offset, start.Err, end.Offset, end.Err, len(offs))
		}
		readBack(t, b, ctx, k.topic, k.part, start.Offset, end.Offset, offs)
	}
}

// readBack reads topic/part from start to end and checks every record
// against what was acknowledged at its offset.
func readBack(t *testing.T, b *proc, ctx context.Context, topic string, part int32, start, end int64, acked map[int64]int64) {
	t.Helper()
	cl := b.client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().At(start)}}))
	next := start
	for next < end {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s/%d: read up to %d of [%d, %d)", topic, part, next, start, end)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("%s/%d: fetch: %v", topic, part, err) })
		for _, r := range fs.Records() {
			want, ok := acked[r.Offset]
			if r.Offset != next || !ok || !bytes.Equal(r.Value, percentValue(want, len(r.Value))) || len(r.Value) != 8<<10 {
				t.Fatalf("%s/%d: offset %d (expected %d) does not hold what was acknowledged there", topic, part, r.Offset, next)
			}
			next++
		}
	}
}
