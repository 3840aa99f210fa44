package storage

import (
	"bytes"
	"errors"
	"testing"
)

// failRemoveFS fails every Remove of one file.
type failRemoveFS struct {
	*crashFS
	name string
}

func (f *failRemoveFS) Remove(name string) error {
	if name == f.name {
		return errInjected
	}
	return f.crashFS.Remove(name)
}

// TestDeletedSegmentIsWholeIfItComesBack: a segment rolled and deleted
// before any Sync sealed it may come back after a crash (its removal
// failed, or was not yet durable). Open trusts every segment but the last
// to be whole and drops all that follow a torn one, so the deletion must
// fsync it first, or a crash loses what later Syncs acknowledged.
func TestDeletedSegmentIsWholeIfItComesBack(t *testing.T) {
	for seed := range uint64(20) {
		disk := &failRemoveFS{crashFS: newCrashFS(), name: segPath(0, logSuffix)}
		l := openT(t, disk, smallConfig(), newMock())
		appendT(t, l, simpleBatch(1, 1500, epochMs, 'a'))
		if err := l.Sync(l.EndOffset()); err != nil {
			t.Fatal(err)
		}
		appendT(t, l, simpleBatch(1, 1500, epochMs, 'b')) // not synced
		b := simpleBatch(1, 1500, epochMs, 'c')
		info := appendT(t, l, b) // rolls: segment 0 waits for the next Sync
		if info.FirstOffset != 2 || len(l.segs) != 2 {
			t.Fatalf("batch c at %d, %d segments", info.FirstOffset, len(l.segs))
		}
		if err := l.DeleteBefore(2); !errors.Is(err, errInjected) {
			t.Fatalf("DeleteBefore: %v, want the injected removal failure", err)
		}
		if err := l.Sync(l.EndOffset()); err != nil {
			t.Fatal(err)
		}
		acked := l.DurableEnd()
		disk.Crash(newRand(seed))
		l = openT(t, disk.crashFS, smallConfig(), newMock())
		got := readAllT(t, l, 0)
		if l.EndOffset() < acked || !bytes.Equal(got[2], withOffset(b, 2, 7)) {
			t.Fatalf("seed %d: end %d after a crash, %d acknowledged; batch 2 %d bytes", seed, l.EndOffset(), acked, len(got[2]))
		}
		l.Close()
	}
}

// TestRetentionSealsAnIdleLog: the index seal of a rolled segment waits
// for the next Sync; on a log that gets no more appends, retention does it,
// so a crash does not leave the segment to be scanned at Open.
func TestRetentionSealsAnIdleLog(t *testing.T) {
	disk := newCrashFS()
	l := openT(t, disk, smallConfig(), newMock())
	defer l.Close()
	for i := range 3 { // two batches a segment: the third rolls
		appendT(t, l, simpleBatch(1, 1500, epochMs, byte(i)))
	}
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if n := l.sealsPending(); n != 1 {
		t.Fatalf("%d seals pending after the Sync that made the rolled segment durable, want 1 (its index)", n)
	}
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if n := l.sealsPending(); n != 0 {
		t.Fatalf("%d seals pending on an idle log after retention", n)
	}
	s := newSegment(disk, "/data/p0", 0)
	if err := s.openReader(); err != nil {
		t.Fatal(err)
	}
	defer s.close()
	fi, _ := s.r.Stat()
	s.size = fi.Size()
	disk.mu.Lock()
	synced := disk.synced[segPath(0, timeIndexSuffix)]
	disk.mu.Unlock()
	if ok, err := s.loadSeal(2); !ok || err != nil || len(synced) != (s.nIndex+sealEntries)*timeEntryLen {
		t.Fatalf("segment 0 not sealed on disk: %v %v, %d bytes of time index fsynced", ok, err, len(synced))
	}
}
