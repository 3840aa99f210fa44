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
