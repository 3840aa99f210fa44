package storage

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/afero"

	"github.com/jocko/jocko/wire"
)

// TestBatchHeadersMatchBatches: the header walk sees the same batches as
// Batches, from every offset, across segments of batches smaller and
// larger than its read chunk, and after a restart.
func TestBatchHeadersMatchBatches(t *testing.T) {
	fs := afero.NewMemMapFs()
	cfg := smallConfig()
	cfg.SegmentBytes = 3 * headerChunkBytes
	l := openT(t, fs, cfg, newMock())
	var rolls []int64
	l.SetRollHook(func(base int64) { rolls = append(rolls, base) })
	for i := 0; i < 200; i++ {
		n, size := 1+i%3, 40
		if i%17 == 0 {
			size = headerChunkBytes/2 + 100 // two of these span a chunk
		}
		appendT(t, l, simpleBatch(n, size, epochMs, byte(i)))
	}
	if len(rolls) < 2 {
		t.Fatalf("%d rolls, want several segments", len(rolls))
	}
	check := func(label string) {
		t.Helper()
		for from := int64(0); from <= l.EndOffset(); from += 7 {
			var want, got []int64
			if err := l.Batches(from, func(base int64, raw []byte) error {
				want = append(want, base)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := l.BatchHeaders(from, func(h wire.BatchHeader) error {
				got = append(got, h.BaseOffset)
				return nil
			}); err != nil {
				t.Fatalf("%s: BatchHeaders(%d): %v", label, from, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s: from %d: %d headers, Batches has %d", label, from, len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s: from %d: header %d at offset %d, Batches says %d", label, from, i, got[i], want[i])
				}
			}
		}
	}
	check("open")
	l.Close()
	l = openT(t, fs, cfg, newMock())
	defer l.Close()
	check("reopened")

	stop := errors.New("stop")
	n := 0
	if err := l.BatchHeaders(0, func(wire.BatchHeader) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("stopping walk: err %v after %d headers, want the callback's error after 1", err, n)
	}
}

// TestRollHook: the hook gets each new segment's base offset.
func TestRollHook(t *testing.T) {
	l := openT(t, afero.NewMemMapFs(), smallConfig(), newMock())
	defer l.Close()
	var got []int64
	l.SetRollHook(func(base int64) { got = append(got, base) })
	for i := 0; i < 40; i++ {
		appendT(t, l, simpleBatch(2, 200, epochMs, 1))
	}
	if len(got) == 0 {
		t.Fatal("no roll reported")
	}
	for i, base := range got {
		if base%2 != 0 || (i > 0 && base <= got[i-1]) {
			t.Errorf("roll %d at %d: want increasing batch boundaries, got %v", i, base, got)
		}
	}
}

// readCountFS counts the bytes read through ReadAt from .log files.
type readCountFS struct {
	afero.Fs
	n atomic.Int64
}

func (fs *readCountFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := fs.Fs.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, logSuffix) {
		return f, err
	}
	return &readCountFile{File: f, n: &fs.n}, nil
}

type readCountFile struct {
	afero.File
	n *atomic.Int64
}

func (f *readCountFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	f.n.Add(int64(n))
	return n, err
}

// TestBatchHeadersSkipsBigBatches: walking a log of 64 KiB batches reads a
// few KiB per batch, not the batches.
func TestBatchHeadersSkipsBigBatches(t *testing.T) {
	fs := &readCountFS{Fs: afero.NewMemMapFs()}
	cfg := smallConfig()
	cfg.SegmentBytes = 1 << 20
	l := openT(t, fs, cfg, newMock())
	defer l.Close()
	const batches = 40
	for i := 0; i < batches; i++ {
		appendT(t, l, simpleBatch(1, 64<<10, epochMs, byte(i)))
	}
	fs.n.Store(0)
	n := 0
	if err := l.BatchHeaders(0, func(wire.BatchHeader) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != batches {
		t.Fatalf("%d headers, want %d", n, batches)
	}
	if got, most := fs.n.Load(), int64(headerChunkBytes+batches*headerSkipBytes); got > most {
		t.Errorf("walking %d headers read %d bytes, want at most %d", batches, got, most)
	}
}
