package storage

import (
	"bytes"
	"errors"
	"github.com/jocko/jocko/io/buggify"
	"math/rand/v2"
	"testing"

	"github.com/spf13/afero"
)

// acked tracks what a workload appended and what Sync acknowledged.
type acked struct {
	batches map[int64][]byte // base offset -> bytes as stored
	next    map[int64]int64  // base offset -> next offset
	durable int64            // every batch below it was acknowledged
	start   int64            // a DeleteBefore that returned nil
}

func newAcked() *acked { return &acked{batches: map[int64][]byte{}, next: map[int64]int64{}} }

// durableWorkload appends batches of random sizes, syncing every few, with
// one DeleteBefore in the middle; it stops at the first error.
func durableWorkload(fs afero.Fs, rng *rand.Rand, a *acked, steps int) error {
	cfg := smallConfig()
	cfg.SegmentBytes = 1024
	l, err := Open(fs, "/data/p0", cfg, newMock())
	if err != nil {
		return err
	}
	for i := range steps {
		b := simpleBatch(1+rng.IntN(3), 10+rng.IntN(120), epochMs+int64(i), byte(i))
		info, err := l.Append(b, 1)
		if err != nil {
			return err
		}
		a.batches[info.FirstOffset] = withOffset(b, info.FirstOffset, 1)
		a.next[info.FirstOffset] = info.LastOffset + 1
		if rng.IntN(3) == 0 {
			end := l.EndOffset()
			if err := l.Sync(end); err != nil {
				return err
			}
			a.durable = max(a.durable, end)
		}
		if i == steps/2 {
			off := l.DurableEnd() / 3
			if err := l.DeleteBefore(off); err != nil {
				return err
			}
			a.start = off
		}
	}
	return nil
}

// checkRecovered opens the log on fs and checks that every acknowledged
// batch at or above the log start is there byte for byte, that offsets
// are contiguous and CRC-valid (Batches checks every CRC), and that the
// log takes a new append.
func checkRecovered(t *testing.T, fs afero.Fs, a *acked, what string) {
	t.Helper()
	l, err := Open(fs, "/data/p0", smallConfig(), newMock())
	if err != nil {
		t.Fatalf("%s: reopen: %v", what, err)
	}
	defer l.Close()
	if l.EndOffset() < a.durable || l.StartOffset() < a.start {
		t.Fatalf("%s: end %d start %d; acknowledged end %d, start %d", what, l.EndOffset(), l.StartOffset(), a.durable, a.start)
	}
	got := readAllT(t, l, 0)
	off := l.StartOffset()
	for base := range got {
		off = min(off, base)
	}
	for off < l.EndOffset() {
		b, ok := got[off]
		if !ok {
			t.Fatalf("%s: no batch at %d (start %d end %d)", what, off, l.StartOffset(), l.EndOffset())
		}
		if want, acked := a.batches[off]; acked && off < a.durable && !bytes.Equal(b, want) {
			t.Fatalf("%s: batch %d differs from the acknowledged one (len %d vs %d, durable %d, end %d)\n%x\n%x", what, off, len(b), len(want), a.durable, l.EndOffset(), b[:70], want[:70])
		}
		h, _ := parseBatchHeader(b)
		off = h.nextOffset()
	}
	for base, next := range a.next {
		if next <= a.durable && base >= l.StartOffset() && got[base] == nil {
			t.Fatalf("%s: acknowledged batch %d lost", what, base)
		}
	}
	nb := simpleBatch(1, 10, epochMs, 'n')
	info, err := l.Append(nb, 1)
	if err != nil || info.FirstOffset != l.EndOffset()-1 {
		t.Fatalf("%s: append after recovery: %+v %v", what, info, err)
	}
	a.batches[info.FirstOffset] = withOffset(nb, info.FirstOffset, 1)
	a.next[info.FirstOffset] = info.FirstOffset + 1
}

// TestFaultEveryOperation fails each file operation of a workload in
// turn (pebble's error_test loop), then recovers on the same disk, both
// as left (the process survived) and after a crash that drops what was
// not fsynced. Nothing acknowledged may be lost; nothing corrupt served.
func TestFaultEveryOperation(t *testing.T) {
	const steps = 40
	count := &faultFS{Fs: newCrashFS()}
	if err := durableWorkload(count, rand.New(rand.NewPCG(1, 1)), newAcked(), steps); err != nil {
		t.Fatal(err)
	}
	t.Logf("workload does %d file operations", count.ops)
	for i := 1; i <= count.ops; i++ {
		for _, crash := range []bool{false, true} {
			disk := newCrashFS()
			ffs := &faultFS{Fs: disk, failAt: i}
			a := newAcked()
			err := durableWorkload(ffs, rand.New(rand.NewPCG(1, 1)), a, steps)
			if err != nil && !errors.Is(err, errInjected) {
				t.Fatalf("op %d (%s): unexpected error %v", i, ffs.failed, err)
			}
			if crash {
				disk.Crash(rand.New(rand.NewPCG(uint64(i), 2)))
			}
			checkRecovered(t, disk, a, ffs.failed)
		}
	}
}

// TestCrashKeepsSyncedBatches runs workloads with crashes at random points
// on the same disk, again and again: each recovery keeps every
// acknowledged batch and cuts whatever was torn.
func TestCrashKeepsSyncedBatches(t *testing.T) {
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 3))
		disk := newCrashFS()
		a := newAcked()
		for round := range 4 {
			// Stop the workload at a random operation, as a crash would.
			ffs := &faultFS{Fs: disk, failAt: 1 + rng.IntN(400)}
			if err := durableWorkload(ffs, rng, a, 30); err != nil && !errors.Is(err, errInjected) {
				t.Fatal(err)
			}
			disk.Crash(rng)
			checkRecovered(t, disk, a, "crash")
			// The check appended one batch and did not sync it; forget
			// anything not acknowledged, as the next round's recovery may.
			l := openT(t, disk, smallConfig(), newMock())
			for base, next := range a.next {
				if next > l.EndOffset() || base < l.StartOffset() {
					delete(a.batches, base)
					delete(a.next, base)
				}
			}
			a.durable = min(a.durable, l.EndOffset())
			_ = round
			l.Close()
		}
	}
}

// Each broken variant must break the property the simulator checks, or the
// simulator's self-test proves nothing. These tests run the same scenario
// with the switch off (the property holds) and on (it does not).

// offsetAfterRestart appends two batches of three records, restarts, and
// returns the first offset the next append gets.
func offsetAfterRestart(t *testing.T, variants ...string) int64 {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, DefaultConfig(), newMock())
	appendT(t, l, simpleBatch(3, 10, epochMs, 'a'))
	appendT(t, l, simpleBatch(3, 10, epochMs, 'b'))
	l.Close()
	defer buggify.Install(buggify.Only(variants...))()
	l = openT(t, fs, DefaultConfig(), newMock())
	return appendT(t, l, simpleBatch(1, 10, epochMs, 'c')).FirstOffset
}

func TestBugReuseOffsetAfterRestart(t *testing.T) {
	if got := offsetAfterRestart(t); got != 6 {
		t.Fatalf("correct log: append after restart at %d, want 6", got)
	}
	if got := offsetAfterRestart(t, buggify.ReuseOffset); got != 3 {
		t.Fatalf("with the reuse-offset variant: append after restart at %d, want 3 (offset reused)", got)
	}
}

// syncedAfterTornTail leaves a torn batch at the end of the log, restarts
// (with bugs), appends and syncs one batch, restarts correctly, and
// reports whether that acknowledged batch is still there.
func syncedAfterTornTail(t *testing.T, variants ...string) bool {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, DefaultConfig(), newMock())
	appendT(t, l, simpleBatch(2, 10, epochMs, 'a'))
	l.Close()
	torn := withOffset(simpleBatch(2, 10, epochMs, 'b'), 2, 0)
	f, _ := fs.OpenFile("/data/p0/00000000000000000000.log", 1|1024, 0) // O_WRONLY|O_APPEND
	f.Write(torn[:len(torn)/2])
	f.Close()

	uninstall := buggify.Install(buggify.Only(variants...))
	l = openT(t, fs, DefaultConfig(), newMock())
	info := appendT(t, l, simpleBatch(1, 10, epochMs, 'c'))
	if err := l.Sync(info.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	l.Close()
	uninstall()
	l = openT(t, fs, DefaultConfig(), newMock())
	defer l.Close()
	_, ok := readAllT(t, l, 0)[info.FirstOffset]
	return ok && l.EndOffset() == info.LastOffset+1
}

func TestBugSkipTornTailTruncation(t *testing.T) {
	if !syncedAfterTornTail(t) {
		t.Fatal("correct log lost a batch acknowledged after recovering a torn tail")
	}
	if syncedAfterTornTail(t, buggify.SkipTornTail) {
		t.Fatal("with the skip-torn-tail variant the acknowledged batch behind the kept torn tail survived; the bug does nothing")
	}
}
