package raftstore

import (
	"testing"

	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/sim/simfs"
)

// TestLogStoreRewritesWhatAFailedFsyncLost: entry 4's fsync fails (Linux
// then keeps its pages readable but never writes them); after a process
// restart the store reads it back, and must make it durable before it
// accepts entry 5, or a power cut leaves a hole at 4 and loses 5, which
// was acknowledged. Without openSegment's rewrite the last read-back
// stops at 3.
func TestLogStoreRewritesWhatAFailedFsyncLost(t *testing.T) {
	// Stores of crashed incarnations are not closed: every call on a
	// crashed simfs blocks forever, as a dead process makes none.
	open := func(fs *simfs.FS) *LogStore {
		t.Helper()
		l, err := NewLogStore(fs, "/raft/log")
		if err != nil {
			t.Fatalf("NewLogStore: %v", err)
		}
		return l
	}
	d := simfs.NewDisk("n1", 1, nil, "/raft")
	fs := d.Mount()
	l := open(fs)
	if err := jio.SyncDir(fs, "/raft"); err != nil {
		t.Fatal(err)
	}
	if err := l.StoreLogs(testLogs(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	d.SetSyncFail(1)
	if err := l.StoreLog(testLog(4, 1)); err == nil {
		t.Fatal("the fsync did not fail")
	}
	d.Heal()
	d.Crash(simfs.ProcessCrash) // the page cache keeps entry 4
	l = open(d.Mount())
	if last, _ := l.LastIndex(); last != 4 {
		t.Fatalf("after the process restart: last index %d, want 4 (from the page cache)", last)
	}
	if err := l.StoreLog(testLog(5, 1)); err != nil {
		t.Fatal(err)
	}
	d.Crash(simfs.MachineCrash)
	l = open(d.Mount())
	defer l.Close()
	if last, _ := l.LastIndex(); last != 5 {
		t.Fatalf("after a power cut: last index %d, want 5 (acknowledged)", last)
	}
	checkRange(t, l, 1, 5, term1)
}
