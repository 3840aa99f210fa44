package raftstore

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/spf13/afero"
)

// segmentBytesOf returns the contents of the segment starting at base.
func segmentBytesOf(t *testing.T, fs afero.Fs, base uint64) []byte {
	t.Helper()
	b, err := afero.ReadFile(fs, filepath.Join("/raft/log", segmentName(base)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeSegment(t *testing.T, fs afero.Fs, base uint64, b []byte) {
	t.Helper()
	if err := afero.WriteFile(fs, filepath.Join("/raft/log", segmentName(base)), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLogStoreTornTailEveryCut cuts the last segment at every byte of its
// last three entries, as a crash between write and fsync may, and checks
// that recovery keeps exactly the whole entries before the cut and that
// the log accepts appends afterwards.
func TestLogStoreTornTailEveryCut(t *testing.T) {
	base := afero.NewMemMapFs()
	l := openLog(t, base)
	if err := l.StoreLogs(testLogs(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	offsets := append([]int64(nil), l.segs[0].offsets...)
	l.Close()
	full := segmentBytesOf(t, base, 1)
	for cut := offsets[7]; cut < int64(len(full)); cut++ {
		fs := afero.NewMemMapFs()
		writeSegment(t, fs, 1, full[:cut])
		whole := uint64(0) // entries that end at or before the cut
		for i := range offsets {
			end := int64(len(full))
			if i+1 < len(offsets) {
				end = offsets[i+1]
			}
			if end <= cut {
				whole++
			}
		}
		r := openLog(t, fs)
		checkRange(t, r, 1, whole, term1)
		if got := int64(len(segmentBytesOf(t, fs, 1))); got != offsets[whole] {
			t.Fatalf("cut %d: file is %d bytes after recovery, expected %d", cut, got, offsets[whole])
		}
		if err := r.StoreLog(testLog(whole+1, 2)); err != nil {
			t.Fatalf("cut %d: append after recovery: %v", cut, err)
		}
		r.Close()
	}
}

func TestLogStoreCorruptTailEntryIsTruncated(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openLog(t, fs)
	if err := l.StoreLogs(testLogs(1, 5, 1)); err != nil {
		t.Fatal(err)
	}
	last := l.segs[0].offsets[4]
	l.Close()
	b := segmentBytesOf(t, fs, 1)
	b[last+frameHeaderBytes+3] ^= 0x40 // inside entry 5's payload
	writeSegment(t, fs, 1, b)
	checkRange(t, openLog(t, fs), 1, 4, term1)
}

func TestLogStoreEmptyLastSegmentIsRemoved(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openLog(t, fs)
	if err := l.StoreLogs(testLogs(1, 5, 1)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	writeSegment(t, fs, 6, nil) // crash right after rolling
	checkRange(t, openLog(t, fs), 1, 5, term1)
	if ok, _ := afero.Exists(fs, filepath.Join("/raft/log", segmentName(6))); ok {
		t.Fatal("empty last segment was not removed")
	}
}

func TestLogStoreCorruptOlderSegmentFailsOpen(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openLog(t, fs)
	l.segmentBytes = 200
	for i := uint64(1); i <= 12; i++ {
		if err := l.StoreLog(testLog(i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.segs) < 2 {
		t.Fatalf("expected at least two segments, got %d", len(l.segs))
	}
	l.Close()
	b := segmentBytesOf(t, fs, 1)
	b[len(b)-1] ^= 0xff
	writeSegment(t, fs, 1, b)
	if _, err := NewLogStore(fs, "/raft/log"); err == nil {
		t.Fatal("corruption in a non-last segment was silently accepted")
	}
}

func TestLogStoreGapBetweenSegmentsFailsOpen(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openLog(t, fs)
	if err := l.StoreLogs(testLogs(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	seg, _ := appendEntry(nil, testLog(9, 1))
	writeSegment(t, fs, 9, seg)
	if _, err := NewLogStore(fs, "/raft/log"); err == nil {
		t.Fatal("a gap between segments was accepted")
	}
}

// syncFailFs fails every file Sync while fail is set.
type syncFailFs struct {
	afero.Fs
	fail *atomic.Bool
}

type syncFailFile struct {
	afero.File
	fail *atomic.Bool
}

var errInjected = errors.New("injected sync failure")

func (f syncFailFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	file, err := f.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return syncFailFile{file, f.fail}, nil
}

func (f syncFailFile) Sync() error {
	if f.fail.Load() {
		return errInjected
	}
	return f.File.Sync()
}

func TestLogStoreSyncFailureIsStickyAndNotAcknowledged(t *testing.T) {
	var fail atomic.Bool
	mem := afero.NewMemMapFs()
	l := openLog(t, syncFailFs{mem, &fail})
	if err := l.StoreLogs(testLogs(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if err := l.StoreLog(testLog(4, 1)); !errors.Is(err, errInjected) {
		t.Fatalf("StoreLog with failing sync: %v", err)
	}
	if last, _ := l.LastIndex(); last != 3 {
		t.Fatalf("entry that failed to sync is visible: last index %d", last)
	}
	fail.Store(false)
	if err := l.StoreLog(testLog(4, 1)); err == nil {
		t.Fatal("store accepted writes after a sync failure")
	}
	if err := l.DeleteRange(3, 3); err == nil {
		t.Fatal("store accepted DeleteRange after a sync failure")
	}
	var got raft.Log
	if err := l.GetLog(3, &got); err != nil {
		t.Fatalf("reads still work after a write failure: %v", err)
	}
	l.Close()
	r := openLog(t, mem)
	last, _ := r.LastIndex()
	if last < 3 || last > 4 {
		t.Fatalf("reopened with last index %d, expected 3 or 4", last)
	}
	checkRange(t, r, 1, last, term1)
}
