package storage

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

func TestAppendAssignsOffsetsAndEpoch(t *testing.T) {
	l := openT(t, afero.NewMemMapFs(), DefaultConfig(), newMock())
	a, b := simpleBatch(3, 10, epochMs, 'a'), simpleBatch(2, 10, epochMs+5, 'b')
	req := append(bytes.Clone(a), b...)
	info, err := l.Append(req, 5)
	if err != nil {
		t.Fatal(err)
	}
	if info.FirstOffset != 0 || info.LastOffset != 4 || info.MaxTimestamp != epochMs+5 || info.AppendTimeMs != epochMs {
		t.Fatalf("info = %+v", info)
	}
	info = appendT(t, l, simpleBatch(1, 10, epochMs, 'c'))
	if info.FirstOffset != 5 || info.LastOffset != 5 || l.EndOffset() != 6 {
		t.Fatalf("second append %+v, end %d", info, l.EndOffset())
	}
	got, err := l.Read(0, math.MaxInt32, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	want := append(withOffset(a, 0, 5), withOffset(b, 3, 5)...)
	want = append(want, withOffset(simpleBatch(1, 10, epochMs, 'c'), 5, 7)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, want %d (byte-identical)", len(got), len(want))
	}
}

func TestAppendRejectsBadInput(t *testing.T) {
	l := openT(t, afero.NewMemMapFs(), smallConfig(), newMock())
	good := simpleBatch(1, 10, epochMs, 'x')
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-1] ^= 1
	for name, in := range map[string][]byte{
		"empty": nil, "crc": badCRC, "short": good[:40], "partial": good[:len(good)-1],
		"too big": simpleBatch(1, 5000, epochMs, 'x'),
	} {
		if _, err := l.Append(in, 0); err == nil {
			t.Errorf("%s: Append accepted it", name)
		}
	}
	if l.EndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("rejected input changed the log: end %d size %d", l.EndOffset(), l.Size())
	}
	if _, err := l.Append(good, 0); err != nil {
		t.Fatalf("rejections must not be sticky: %v", err)
	}
}

func TestAppendReplicaKeepsOffsets(t *testing.T) {
	l := openT(t, afero.NewMemMapFs(), DefaultConfig(), newMock())
	b0 := withOffset(simpleBatch(2, 10, epochMs, 'a'), 0, 3)
	b1 := withOffset(simpleBatch(2, 10, epochMs, 'b'), 5, 3) // gap: not the log end
	if _, err := l.AppendReplica(b1); !errors.Is(err, ErrInvalidOffset) {
		t.Fatalf("AppendReplica at 5 on empty log: %v, want ErrInvalidOffset", err)
	}
	info, err := l.AppendReplica(b0)
	if err != nil || info.FirstOffset != 0 || info.LastOffset != 1 {
		t.Fatalf("AppendReplica: %+v %v", info, err)
	}
	got, _ := l.Read(0, 1<<20, math.MaxInt64)
	if !bytes.Equal(got, b0) {
		t.Fatal("replica batch not stored byte for byte")
	}
}

// TestReadKIP74 covers Fetch semantics: at least one whole batch even if
// it is larger than maxBytes (KIP-74), the high watermark bound and the
// out-of-range rules.
func TestReadKIP74(t *testing.T) {
	l := openT(t, afero.NewMemMapFs(), DefaultConfig(), newMock())
	var sizes []int
	for i := range 5 {
		b := simpleBatch(2, 100*(i+1), epochMs, byte('a'+i))
		sizes = append(sizes, len(b))
		appendT(t, l, b)
	}
	count := func(b []byte) int {
		bs, err := splitBatches(b)
		if err != nil {
			t.Fatal(err)
		}
		return len(bs)
	}
	for _, c := range []struct {
		off        int64
		max        int
		upTo       int64
		wantBatchs int
	}{
		{0, 1, math.MaxInt64, 1},
		{0, sizes[0] + sizes[1], math.MaxInt64, 2},
		{0, sizes[0] + sizes[1] - 1, math.MaxInt64, 1},
		{1, 1 << 20, math.MaxInt64, 5}, // mid-batch: from the batch holding 1
		{3, 1 << 20, 6, 2},             // batches at 2 and 4; 6 is the high watermark
		{4, 1 << 20, 4, 0},             // at the high watermark
		{0, 0, 1, 1},
	} {
		got, err := l.Read(c.off, c.max, c.upTo)
		if err != nil || count(got) != c.wantBatchs {
			t.Errorf("Read(%d, %d, %d) = %d batches, %v; want %d", c.off, c.max, c.upTo, count(got), err, c.wantBatchs)
		}
	}
	if got, err := l.Read(10, 100, math.MaxInt64); err != nil || len(got) != 0 {
		t.Errorf("Read at end = %d bytes, %v", len(got), err)
	}
	for _, off := range []int64{-1, 11} {
		if _, err := l.Read(off, 100, math.MaxInt64); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Errorf("Read(%d) = %v, want ErrOffsetOutOfRange", off, err)
		}
	}
}

func TestRollBySizeAndReadAcrossSegments(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	var want [][]byte
	for i := range 40 {
		b := simpleBatch(3, 50, epochMs+int64(i), byte(i))
		info := appendT(t, l, b)
		want = append(want, withOffset(b, info.FirstOffset, 7))
	}
	names, _ := afero.Glob(fs, "/data/p0/*.log")
	if len(names) < 3 {
		t.Fatalf("%d segments after 40 appends of ~230 bytes with segment.bytes 4096", len(names))
	}
	if filepath.Base(names[0]) != "00000000000000000000.log" {
		t.Fatalf("first segment named %s", names[0])
	}
	for i, w := range want {
		for _, off := range []int64{int64(3 * i), int64(3*i + 2)} {
			got, err := l.Read(off, 1, math.MaxInt64)
			if err != nil || !bytes.Equal(got, w) {
				t.Fatalf("Read(%d) = %d bytes, %v; want batch %d", off, len(got), err, i)
			}
		}
	}
	got := readAllT(t, l, 0)
	if len(got) != len(want) {
		t.Fatalf("Batches saw %d batches, want %d", len(got), len(want))
	}
}

func TestRollBySegmentMs(t *testing.T) {
	fs, clk := afero.NewMemMapFs(), newMock()
	cfg := DefaultConfig()
	cfg.SegmentMs = 1000
	l := openT(t, fs, cfg, clk)
	appendT(t, l, simpleBatch(1, 10, epochMs, 'a'))
	clk.Add(500 * 1e6)
	appendT(t, l, simpleBatch(1, 10, epochMs, 'b'))
	if n := len(l.segs); n != 1 {
		t.Fatalf("%d segments before segment.ms passed", n)
	}
	clk.Add(600 * 1e6)
	appendT(t, l, simpleBatch(1, 10, epochMs, 'c'))
	if len(l.segs) != 2 || l.active().base != 2 {
		t.Fatalf("append after segment.ms did not roll: %d segments", len(l.segs))
	}
	clk.Add(1001 * 1e6)
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if len(l.segs) != 3 || l.active().base != 3 || l.active().size != 0 {
		t.Fatalf("EnforceRetention after segment.ms did not roll: %d segments", len(l.segs))
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	for i := range 30 {
		appendT(t, l, simpleBatch(2, 40, epochMs+int64(i), byte(i)))
	}
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	before := readAllT(t, l, 0)
	end, size := l.EndOffset(), l.Size()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, fs, smallConfig(), newMock())
	if l.EndOffset() != end || l.Size() != size || l.DurableEnd() != end {
		t.Fatalf("reopened end %d size %d durable %d, want %d %d", l.EndOffset(), l.Size(), l.DurableEnd(), end, size)
	}
	after := readAllT(t, l, 0)
	for off, b := range before {
		if !bytes.Equal(after[off], b) {
			t.Fatalf("batch %d differs after reopen", off)
		}
	}
	info := appendT(t, l, simpleBatch(1, 10, epochMs, 'z'))
	if info.FirstOffset != end {
		t.Fatalf("append after reopen at %d, want %d", info.FirstOffset, end)
	}
}

// TestRebuildsDamagedIndexes removes or garbles index files; reopening must
// rebuild them and every offset must still be found.
func TestRebuildsDamagedIndexes(t *testing.T) {
	for _, damage := range []string{"remove", "garble", "truncate"} {
		t.Run(damage, func(t *testing.T) {
			fs := afero.NewMemMapFs()
			l := openT(t, fs, smallConfig(), newMock())
			for i := range 40 {
				appendT(t, l, simpleBatch(2, 40, epochMs+int64(i), byte(i)))
			}
			l.Close()
			idx, _ := afero.Glob(fs, "/data/p0/*index")
			for _, p := range idx {
				switch damage {
				case "remove":
					fs.Remove(p)
				case "garble":
					afero.WriteFile(fs, p, bytes.Repeat([]byte{0xff, 0, 1}, 50), 0o644)
				case "truncate":
					b, _ := afero.ReadFile(fs, p)
					afero.WriteFile(fs, p, b[:len(b)/2+1], 0o644)
				}
			}
			l = openT(t, fs, smallConfig(), newMock())
			if l.EndOffset() != 80 {
				t.Fatalf("end %d after index damage, want 80", l.EndOffset())
			}
			for off := int64(0); off < 80; off++ {
				got, err := l.Read(off, 1, math.MaxInt64)
				if err != nil || len(got) == 0 {
					t.Fatalf("Read(%d) after index rebuild: %d bytes, %v", off, len(got), err)
				}
				if h, _ := parseBatchHeader(got); h.baseOffset != off&^1 {
					t.Fatalf("Read(%d) returned batch %d", off, h.baseOffset)
				}
			}
		})
	}
}

// TestRecoveryTruncatesTornTail appends garbage, a torn batch or a batch
// with a bad CRC after the last good batch; Open must cut it off.
func TestRecoveryTruncatesTornTail(t *testing.T) {
	good := simpleBatch(2, 30, epochMs, 'g')
	bad := withOffset(good, 4, 0)
	bad[len(bad)-3] ^= 0x40
	for name, tail := range map[string][]byte{
		"garbage": []byte("not a batch at all, just bytes from a torn write......................"),
		"torn":    withOffset(good, 4, 0)[:len(good)-5],
		"crc":     bad,
		"zeros":   make([]byte, 300),
		"gap":     withOffset(good, 9, 0), // valid, but not the next offset
	} {
		t.Run(name, func(t *testing.T) {
			fs := afero.NewMemMapFs()
			l := openT(t, fs, smallConfig(), newMock())
			appendT(t, l, good)
			appendT(t, l, good)
			size := l.Size()
			l.Close()
			f, _ := fs.OpenFile("/data/p0/00000000000000000000.log", 1|1024, 0) // O_WRONLY|O_APPEND
			f.Write(tail)
			f.Close()
			l = openT(t, fs, smallConfig(), newMock())
			if l.EndOffset() != 4 || l.Size() != size {
				t.Fatalf("end %d size %d, want 4 and %d", l.EndOffset(), l.Size(), size)
			}
			if fi, _ := fs.Stat("/data/p0/00000000000000000000.log"); fi.Size() != size {
				t.Fatalf("file is %d bytes, torn tail not truncated to %d", fi.Size(), size)
			}
			appendT(t, l, good)
			if got := readAllT(t, l, 0); len(got) != 3 {
				t.Fatalf("%d batches after recovery and append, want 3", len(got))
			}
		})
	}
}

func TestRemovesLeftoverFiles(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	appendT(t, l, simpleBatch(1, 10, epochMs, 'a'))
	l.Close()
	for _, n := range []string{"logstart.tmp", "00000000000000000099.index", "00000000000000000099.timeindex"} {
		afero.WriteFile(fs, "/data/p0/"+n, []byte("junk"), 0o644)
	}
	l = openT(t, fs, smallConfig(), newMock())
	defer l.Close()
	names, _ := afero.Glob(fs, "/data/p0/*")
	for _, n := range names {
		if strings.Contains(n, "99") || strings.HasSuffix(n, ".tmp") {
			t.Errorf("leftover %s not removed", n)
		}
	}
}

func TestClosedLogRefusesEverything(t *testing.T) {
	l := openT(t, afero.NewMemMapFs(), smallConfig(), newMock())
	appendT(t, l, simpleBatch(1, 10, epochMs, 'a'))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(simpleBatch(1, 10, epochMs, 'a'), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Append: %v", err)
	}
	if _, err := l.Read(0, 10, 10); !errors.Is(err, ErrClosed) {
		t.Errorf("Read: %v", err)
	}
	if err := l.Sync(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync: %v", err)
	}
	if err := l.TruncateTo(0); !errors.Is(err, ErrClosed) {
		t.Errorf("TruncateTo: %v", err)
	}
	if _, _, _, err := l.OffsetForTime(0); !errors.Is(err, ErrClosed) {
		t.Errorf("OffsetForTime: %v", err)
	}
}

func TestRemoveDeletesDirectory(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	appendT(t, l, simpleBatch(1, 10, epochMs, 'a'))
	if err := l.Remove(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := afero.Exists(fs, "/data/p0"); ok {
		t.Fatal("directory still exists after Remove")
	}
}
