package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestE2EProducerSnapshotRestart: with segments small enough to roll
// every few batches, the broker keeps producer-state snapshots (one per
// roll, one per partition at a clean shutdown), and after a SIGTERM
// restart and after a kill -9 restart a retry of any of a producer's last
// five batches is still answered as a duplicate with its original offset.
func TestE2EProducerSnapshotRestart(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	cfgs := map[string]*string{"segment.bytes": kadm.StringPtr("1024")}
	if _, err := b.admin(t).CreateTopic(ctx, 1, 1, cfgs, "snaps"); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, b.addr)
	pid, _ := initProducerID(t, r, 4)
	const ver = 9
	var noID [16]byte
	offsets := map[int32]int64{} // first sequence -> offset
	seq := int32(0)
	send := func() {
		t.Helper()
		code, base := produceRaw(t, r, ver, "snaps", noID, idemBatch(t, pid, 0, seq, 3))
		wantProduce(t, "new batch", code, base, 0, int64(seq))
		offsets[seq] = base
		seq += 3
	}
	retryLastFive := func(label string) {
		t.Helper()
		// A restarted broker is ready before the controller has made it
		// the partition's leader again (CI saw NOT_LEADER_FOR_PARTITION).
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			code, _ := produceRaw(t, r, ver, "snaps", noID, idemBatch(t, pid, 0, seq-3, 3))
			if code != kerr.NotLeaderForPartition.Code {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no leader after 30s", label)
			}
		}
		for s := seq - 15; s < seq; s += 3 {
			code, base := produceRaw(t, r, ver, "snaps", noID, idemBatch(t, pid, 0, s, 3))
			wantProduce(t, label+": retry", code, base, 0, offsets[s])
		}
	}
	for i := 0; i < 30; i++ {
		send()
	}
	snapshots := func() []string {
		m, _ := filepath.Glob(filepath.Join(b.dataDir, "snaps-0", "*.snapshot"))
		return m
	}

	b.stop()
	snaps := snapshots()
	if len(snaps) < 3 {
		t.Fatalf("after a clean stop: snapshots %v, want one per roll and one at the end", snaps)
	}
	if last := filepath.Base(snaps[len(snaps)-1]); !strings.HasPrefix(last, "00000000000000000090") {
		t.Errorf("newest snapshot %s, want the shutdown one at offset 90", last)
	}
	b.restart()
	r = dialRaw(t, b.addr)
	retryLastFive("after SIGTERM")
	for i := 0; i < 10; i++ {
		send()
	}
	retryLastFive("before kill -9")

	b.kill9()
	b.restart()
	r = dialRaw(t, b.addr)
	retryLastFive("after kill -9")
	send()
	if got := consumeAll(t, b, "snaps", int(seq)); len(got) != int(seq) {
		t.Errorf("%d records stored, want %d", len(got), seq)
	}
}
