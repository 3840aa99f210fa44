package storage

import (
	"testing"

	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/sim/simfs"
	"github.com/jocko/jocko/wire"
)

// TestOpenRewritesWhatAFailedFsyncLost: Linux marks the pages of a failed
// fsync clean, so they stay readable but never reach the disk, even after
// a later fsync succeeds. A log opened after such a failure (a process
// restart: the page cache survives) must write its unsealed segments
// again before appending, or the records appended and synced after the
// hole are lost with it at the next power cut (recovery truncates at the
// hole). Without Open's makeDurable the second read-back misses them.
func TestOpenRewritesWhatAFailedFsyncLost(t *testing.T) {
	d := simfs.NewDisk("n1", 1, nil, "/data")
	cfg := DefaultConfig()
	clk := newMock()
	batch := func(v string) []byte {
		b, err := wire.AppendBatch(nil, wire.Batch{FirstTimestamp: 1, MaxTimestamp: 1, ProducerID: -1, ProducerEpoch: -1,
			BaseSequence: -1, Records: []wire.Record{{Value: []byte(v)}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fs := d.Mount()
	l := openT(t, fs, cfg, clk)
	if err := jio.SyncDir(fs, "/data"); err != nil { // the partition's directory entry, as core makes it durable
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b"} {
		appendT(t, l, batch(v))
	}
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	appendT(t, l, batch("c")) // offset 2: its fsync fails
	d.SetSyncFail(1)
	if err := l.Sync(l.EndOffset()); err == nil {
		t.Fatal("the fsync did not fail")
	}
	d.Heal()
	// The process dies; the page cache keeps "c", marked clean.
	d.Crash(simfs.ProcessCrash)
	l = openT(t, d.Mount(), cfg, clk)
	if l.EndOffset() != 3 {
		t.Fatalf("after the process restart the log ends at %d, want 3 (the page cache has c)", l.EndOffset())
	}
	appendT(t, l, batch("d")) // offset 3, synced: acknowledged
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	// A power cut.
	d.Crash(simfs.MachineCrash)
	l = openT(t, d.Mount(), cfg, clk)
	defer l.Close()
	if l.EndOffset() != 4 || len(readAllT(t, l, 0)) != 4 {
		t.Fatalf("after the power cut the log ends at %d with %d batches, want all 4: d was synced", l.EndOffset(), len(readAllT(t, l, 0)))
	}
}
