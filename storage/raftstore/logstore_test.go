package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/spf13/afero"
)

// testLog returns a deterministic entry for index in term.
func testLog(index, term uint64) *raft.Log {
	l := &raft.Log{
		Index: index,
		Term:  term,
		Type:  raft.LogType(index % 6),
		Data:  []byte(fmt.Sprintf("data-%d-%d", index, term)),
	}
	if index%3 == 0 {
		l.Extensions = []byte{byte(index), 0, 1}
	}
	if index%2 == 0 {
		l.AppendedAt = time.Unix(1_700_000_000, int64(index)*1000)
	}
	return l
}

func testLogs(from, to, term uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, testLog(i, term))
	}
	return out
}

func sameLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) &&
		a.AppendedAt.Equal(b.AppendedAt)
}

func openLog(t *testing.T, fs afero.Fs) *LogStore {
	t.Helper()
	l, err := NewLogStore(fs, "/raft/log")
	if err != nil {
		t.Fatalf("NewLogStore: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// checkRange asserts the store holds exactly [first, last] with entries
// equal to want(index).
func checkRange(t *testing.T, l *LogStore, first, last uint64, want func(uint64) *raft.Log) {
	t.Helper()
	f, _ := l.FirstIndex()
	z, _ := l.LastIndex()
	if f != first || z != last {
		t.Fatalf("range [%d, %d], expected [%d, %d]", f, z, first, last)
	}
	for i := first; i <= last && last != 0; i++ {
		var got raft.Log
		if err := l.GetLog(i, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		if w := want(i); !sameLog(&got, w) {
			t.Fatalf("GetLog(%d) = %+v, expected %+v", i, got, *w)
		}
	}
	for _, i := range []uint64{first - 1, last + 1} {
		var got raft.Log
		if err := l.GetLog(i, &got); i != 0 && !errors.Is(err, raft.ErrLogNotFound) {
			t.Fatalf("GetLog(%d) outside the range: err %v, expected ErrLogNotFound", i, err)
		}
	}
}

func term1(i uint64) *raft.Log { return testLog(i, 1) }

func TestLogStoreEmpty(t *testing.T) {
	l := openLog(t, afero.NewMemMapFs())
	checkRange(t, l, 0, 0, nil)
	var got raft.Log
	if err := l.GetLog(1, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog on empty store: %v", err)
	}
	if err := l.DeleteRange(1, 10); err != nil {
		t.Fatalf("DeleteRange on empty store: %v", err)
	}
}

func TestLogStoreAppendReadReopen(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openLog(t, fs)
	if err := l.StoreLog(testLog(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.StoreLogs(testLogs(2, 50, 1)); err != nil {
		t.Fatal(err)
	}
	checkRange(t, l, 1, 50, term1)
	l.Close()
	if err := l.StoreLog(testLog(51, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("StoreLog after Close: %v, expected ErrClosed", err)
	}
	checkRange(t, openLog(t, fs), 1, 50, term1)
}

func TestLogStoreRejectsGaps(t *testing.T) {
	l := openLog(t, afero.NewMemMapFs())
	if err := l.StoreLogs(testLogs(5, 10, 1)); err != nil {
		t.Fatalf("first append may start anywhere: %v", err)
	}
	if err := l.StoreLog(testLog(12, 1)); err == nil {
		t.Fatal("append at 12 after 10 accepted, expected a gap error")
	}
	if err := l.StoreLogs([]*raft.Log{testLog(11, 1), testLog(13, 1)}); err == nil {
		t.Fatal("non-consecutive batch accepted")
	}
	if err := l.StoreLog(testLog(4, 1)); err == nil {
		t.Fatal("append below the first index accepted")
	}
	checkRange(t, l, 5, 10, term1)
}

func TestLogStoreOverwriteTruncatesTail(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openLog(t, fs)
	if err := l.StoreLogs(testLogs(1, 20, 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.StoreLogs(testLogs(15, 17, 2)); err != nil {
		t.Fatal(err)
	}
	want := func(i uint64) *raft.Log {
		if i >= 15 {
			return testLog(i, 2)
		}
		return testLog(i, 1)
	}
	checkRange(t, l, 1, 17, want)
	l.Close()
	checkRange(t, openLog(t, fs), 1, 17, want)
}

func TestLogStoreDeleteRangeTailAndHead(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openLog(t, fs)
	l.segmentBytes = 300 // a few entries per segment
	if err := l.StoreLogs(testLogs(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	for i := uint64(11); i <= 60; i++ {
		if err := l.StoreLog(testLog(i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.segs) < 5 {
		t.Fatalf("expected several segments, got %d", len(l.segs))
	}
	// Tail: conflicting entries after a leader change.
	if err := l.DeleteRange(45, 60); err != nil {
		t.Fatal(err)
	}
	checkRange(t, l, 1, 44, term1)
	// Head: compaction after a snapshot drops whole files.
	files := len(l.segs)
	if err := l.DeleteRange(1, 30); err != nil {
		t.Fatal(err)
	}
	checkRange(t, l, 31, 44, term1)
	if len(l.segs) >= files {
		t.Fatalf("head compaction kept all %d segment files", files)
	}
	if err := l.DeleteRange(35, 40); err == nil {
		t.Fatal("DeleteRange inside the log accepted")
	}
	l.Close()
	// Reopen: the tail is gone for good; head entries that shared a file
	// with live ones may come back, and they are the same entries.
	l2 := openLog(t, fs)
	first, _ := l2.FirstIndex()
	if first > 31 {
		t.Fatalf("first index %d after reopen, expected <= 31", first)
	}
	checkRange(t, l2, first, 44, term1)
}

func TestLogStoreDeleteAllThenRestartAnywhere(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openLog(t, fs)
	l.segmentBytes = 300
	for i := uint64(1); i <= 30; i++ {
		if err := l.StoreLog(testLog(i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.DeleteRange(1, 12); err != nil {
		t.Fatal(err)
	}
	// After a snapshot install raft clears a monotonic store completely.
	if err := l.DeleteRange(13, 30); err != nil {
		t.Fatal(err)
	}
	checkRange(t, l, 0, 0, nil)
	names, _ := afero.ReadDir(fs, "/raft/log")
	if len(names) != 0 {
		t.Fatalf("%d files left after deleting everything", len(names))
	}
	if err := l.StoreLogs(testLogs(100, 105, 3)); err != nil {
		t.Fatal(err)
	}
	want := func(i uint64) *raft.Log { return testLog(i, 3) }
	checkRange(t, l, 100, 105, want)
	l.Close()
	checkRange(t, openLog(t, fs), 100, 105, want)
}

func TestLogStoreOnOSFileSystem(t *testing.T) {
	fs := afero.NewBasePathFs(afero.NewOsFs(), t.TempDir())
	l := openLog(t, fs)
	l.segmentBytes = 1000
	for i := uint64(1); i <= 40; i++ {
		if err := l.StoreLog(testLog(i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.DeleteRange(30, 40); err != nil {
		t.Fatal(err)
	}
	l.Close()
	checkRange(t, openLog(t, fs), 1, 29, term1)
	if _, err := fs.Stat(filepath.Join("/raft/log", segmentName(1))); err != nil {
		t.Fatalf("first segment file: %v", err)
	}
}
