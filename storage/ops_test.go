package storage

import (
	"errors"
	"math"
	"testing"

	"github.com/spf13/afero"
)

// fillT appends n batches of two records (sizes vary) with timestamps
// epochMs+10*i and +10*i+5; it returns the batches as stored.
func fillT(t *testing.T, l *Log, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range n {
		ts := epochMs + 10*int64(i)
		b := buildBatch(ts, []testRecord{{0, []byte("first")}, {5, make([]byte, 30+i%7)}})
		info := appendT(t, l, b)
		out = append(out, withOffset(b, info.FirstOffset, 7))
	}
	return out
}

func TestTruncateTo(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	fillT(t, l, 150) // offsets 0..299 over several segments
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	segs := len(l.segs)
	if err := l.TruncateTo(51); !errors.Is(err, ErrInvalidOffset) {
		t.Fatalf("TruncateTo inside a batch: %v", err)
	}
	if err := l.TruncateTo(400); err != nil || l.EndOffset() != 300 {
		t.Fatalf("TruncateTo past the end: %v, end %d", err, l.EndOffset())
	}
	if err := l.TruncateTo(200); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != 200 || l.DurableEnd() != 200 || len(l.segs) >= segs {
		t.Fatalf("after TruncateTo(200): end %d durable %d segments %d (was %d)", l.EndOffset(), l.DurableEnd(), len(l.segs), segs)
	}
	if _, err := l.Read(200, 100, math.MaxInt64); err != nil {
		t.Fatalf("Read at new end: %v", err)
	}
	info := appendT(t, l, simpleBatch(1, 10, epochMs, 'x'))
	if info.FirstOffset != 200 {
		t.Fatalf("append after truncation at %d", info.FirstOffset)
	}
	// A segment base: that segment is emptied and stays the active one.
	base := l.segs[1].base
	if err := l.TruncateTo(base); err != nil || l.EndOffset() != base || len(l.segs) != 2 || l.active().size != 0 {
		t.Fatalf("TruncateTo(segment base %d): %v, end %d, %d segments", base, err, l.EndOffset(), len(l.segs))
	}
	l.Close()
	l = openT(t, fs, smallConfig(), newMock())
	if l.EndOffset() != base {
		t.Fatalf("truncation not kept across reopen: end %d want %d", l.EndOffset(), base)
	}
	got := readAllT(t, l, 0)
	if len(got) != int(base/2) {
		t.Fatalf("%d batches after truncation to %d", len(got), base)
	}
}

func TestTruncateBelowStartEmptiesLog(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	fillT(t, l, 30)
	if err := l.DeleteBefore(40); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(10); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 10 || l.EndOffset() != 10 || l.Size() != 0 {
		t.Fatalf("start %d end %d size %d, want an empty log at 10", l.StartOffset(), l.EndOffset(), l.Size())
	}
	l.Close()
	l = openT(t, fs, smallConfig(), newMock())
	if l.StartOffset() != 10 || l.EndOffset() != 10 {
		t.Fatalf("after reopen start %d end %d", l.StartOffset(), l.EndOffset())
	}
	if info := appendT(t, l, simpleBatch(1, 1, epochMs, 'a')); info.FirstOffset != 10 {
		t.Fatalf("append at %d", info.FirstOffset)
	}
}

func TestDeleteBefore(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	fillT(t, l, 150)
	segs := len(l.segs)
	if err := l.DeleteBefore(301); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("DeleteBefore past the end: %v", err)
	}
	if err := l.DeleteBefore(145); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 145 || len(l.segs) >= segs || l.segs[0].base > 145 {
		t.Fatalf("start %d, %d segments (was %d), first base %d", l.StartOffset(), len(l.segs), segs, l.segs[0].base)
	}
	if _, err := l.Read(144, 10, math.MaxInt64); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read below start: %v", err)
	}
	got, err := l.Read(145, 1, math.MaxInt64)
	if h, _ := parseBatchHeader(got); err != nil || h.baseOffset != 144 {
		t.Fatalf("Read(145) should return the batch at 144 that holds it: %v", err)
	}
	l.Close()
	l = openT(t, fs, smallConfig(), newMock())
	if l.StartOffset() != 145 {
		t.Fatalf("log start %d after reopen, want 145", l.StartOffset())
	}
	if err := l.DeleteBefore(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if len(l.segs) != 1 || l.Size() != 0 || l.StartOffset() != 300 {
		t.Fatalf("DeleteBefore(end): %d segments, size %d, start %d", len(l.segs), l.Size(), l.StartOffset())
	}
}

func TestEnforceRetention(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		cfg := smallConfig()
		cfg.RetentionBytes = 5000
		l := openT(t, afero.NewMemMapFs(), cfg, newMock())
		fillT(t, l, 100)
		n, err := l.EnforceRetention()
		if err != nil || n == 0 {
			t.Fatalf("deleted %d, %v", n, err)
		}
		if l.Size() < 5000 || l.Size()-l.segs[0].size >= 5000 {
			t.Fatalf("size %d after retention.bytes 5000: deleted too little or too much", l.Size())
		}
		if l.StartOffset() != l.segs[0].base {
			t.Fatalf("start %d, first segment %d", l.StartOffset(), l.segs[0].base)
		}
	})
	t.Run("time", func(t *testing.T) {
		clk := newMock()
		cfg := smallConfig()
		cfg.RetentionMs = 60_000
		l := openT(t, afero.NewMemMapFs(), cfg, clk)
		fillT(t, l, 100) // timestamps epochMs .. epochMs+995
		clk.Add(30_000 * 1e6)
		if n, _ := l.EnforceRetention(); n != 0 {
			t.Fatalf("deleted %d segments before retention.ms passed", n)
		}
		segs := len(l.segs)
		clk.Add(30_500 * 1e6) // now - 500ms-old batches > 60s
		n, err := l.EnforceRetention()
		if err != nil || n == 0 || n >= segs {
			t.Fatalf("deleted %d of %d segments, %v", n, segs, err)
		}
		for _, s := range l.segs[:len(l.segs)-1] {
			if clk.Now().UnixMilli()-s.maxTs > 60_000 {
				t.Fatalf("segment %d kept with max timestamp %d", s.base, s.maxTs)
			}
		}
	})
}

func TestOffsetForTimeAndMaxTimestamp(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	fillT(t, l, 60) // record 2i at epochMs+10i, record 2i+1 at epochMs+10i+5
	appendT(t, l, buildBatch(epochMs+100, []testRecord{{0, nil}, {900, nil}, {900, nil}, {1, nil}}))
	fillT(t, l, 5)
	check := func(stage string) {
		for _, c := range []struct {
			ts, off, at int64
			ok          bool
		}{
			{0, 0, epochMs, true},
			{epochMs, 0, epochMs, true},
			{epochMs + 1, 1, epochMs + 5, true},
			{epochMs + 5, 1, epochMs + 5, true},
			{epochMs + 6, 2, epochMs + 10, true},
			{epochMs + 333, 67, epochMs + 335, true},
			{epochMs + 596, 121, epochMs + 1000, true}, // inside the out-of-order batch
			{epochMs + 1001, 0, 0, false},
		} {
			off, at, ok, err := l.OffsetForTime(c.ts)
			if err != nil || ok != c.ok || (ok && (off != c.off || at != c.at)) {
				t.Errorf("%s: OffsetForTime(%d) = %d, %d, %v, %v; want %d, %d, %v", stage, c.ts-epochMs, off, at-epochMs, ok, err, c.off, c.at-epochMs, c.ok)
			}
		}
		off, ts, ok, err := l.MaxTimestamp()
		if err != nil || !ok || off != 121 || ts != epochMs+1000 {
			t.Errorf("%s: MaxTimestamp = %d, %d, %v, %v; want 121 at +1000", stage, off, ts-epochMs, ok, err)
		}
	}
	check("open")
	l.Close()
	l = openT(t, fs, smallConfig(), newMock())
	check("reopened")
	if err := l.DeleteBefore(3); err != nil {
		t.Fatal(err)
	}
	if off, _, _, _ := l.OffsetForTime(0); off != 3 {
		t.Errorf("OffsetForTime below the log start answered %d, want 3", off)
	}
	empty := openT(t, afero.NewMemMapFs(), smallConfig(), newMock())
	if _, _, ok, err := empty.MaxTimestamp(); ok || err != nil {
		t.Errorf("MaxTimestamp of an empty log: ok %v, %v", ok, err)
	}
}

func TestBatchesWalksFromContainingBatch(t *testing.T) {
	l := openT(t, afero.NewMemMapFs(), smallConfig(), newMock())
	want := fillT(t, l, 40)
	var bases []int64
	err := l.Batches(7, func(base int64, raw []byte) error {
		if string(raw) != string(want[base/2]) {
			t.Fatalf("batch %d differs", base)
		}
		bases = append(bases, base)
		return nil
	})
	if err != nil || len(bases) != 37 || bases[0] != 6 {
		t.Fatalf("Batches(7) gave %d batches from %v, %v", len(bases), bases[:1], err)
	}
	stop := errors.New("stop")
	n := 0
	if err := l.Batches(0, func(int64, []byte) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("error from fn: %v after %d calls", err, n)
	}
}
