package storage

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/spf13/afero"
)

// fullFS is a file system with a byte budget for writes: a write that
// does not fit writes the part that does (as a nearly full disk may) and
// fails with ENOSPC.
type fullFS struct {
	afero.Fs
	mu   sync.Mutex
	left int64 // guarded by mu
}

func (f *fullFS) setLeft(n int64) { f.mu.Lock(); f.left = n; f.mu.Unlock() }

func (f *fullFS) take(n int) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if int64(n) <= f.left {
		f.left -= int64(n)
		return n, true
	}
	part := int(f.left)
	f.left = 0
	return part, false
}

func (f *fullFS) wrap(file afero.File, err error) (afero.File, error) {
	if err != nil {
		return nil, err
	}
	return &fullFile{File: file, fs: f}, nil
}

func (f *fullFS) Create(name string) (afero.File, error) { return f.wrap(f.Fs.Create(name)) }
func (f *fullFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	return f.wrap(f.Fs.OpenFile(name, flag, perm))
}

type fullFile struct {
	afero.File
	fs *fullFS
}

func (f *fullFile) Write(b []byte) (int, error) {
	n, ok := f.fs.take(len(b))
	if ok {
		return f.File.Write(b)
	}
	w, err := f.File.Write(b[:n])
	if err != nil {
		return w, err
	}
	return w, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

// TestAppendNoSpaceRecoversInPlace: an append that meets a full file
// system (with a partial write) fails with ErrNoSpace and leaves the log
// as it was: nothing of it is read, the end does not move, the error is
// not sticky, and once there is room appends go on at the same offsets;
// after a reopen every acknowledged batch reads back exactly and nothing
// of the failed ones.
func TestAppendNoSpaceRecoversInPlace(t *testing.T) {
	fs := &fullFS{Fs: afero.NewMemMapFs(), left: 1 << 30}
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8 << 10 // rolls (and index flushes) meet the full disk too
	cfg.IndexIntervalBytes = 64
	l, err := Open(fs, "/p", cfg, newMock())
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64][]byte{}
	appendOK := func(fill byte) {
		t.Helper()
		b := simpleBatch(3, 300, epochMs, fill)
		info, err := l.Append(b, 0)
		if err != nil {
			t.Fatalf("append %c: %v", fill, err)
		}
		want[info.FirstOffset] = b
	}
	for i := range 20 {
		appendOK(byte('a' + i))
	}
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	full := 0
	for i := range 40 {
		// Budgets from nothing to most of a batch: partial writes of
		// the .log, of an index, of a new segment's files.
		fs.setLeft(int64(i * 23))
		end := l.EndOffset()
		_, err := l.Append(simpleBatch(3, 300, epochMs, 'X'), 0)
		if err == nil {
			// It fitted (the batch is about 1 KiB): keep it.
			want[end] = nil
			continue
		}
		full++
		if !errors.Is(err, ErrNoSpace) {
			t.Fatalf("append on a full disk (budget %d): %v, want ErrNoSpace", i*23, err)
		}
		if l.EndOffset() != end {
			t.Fatalf("a failed append moved the end from %d to %d", end, l.EndOffset())
		}
		fs.setLeft(1 << 30)
		appendOK(byte('A' + i%26))
		if err := l.Sync(l.EndOffset()); err != nil {
			t.Fatalf("sync after a recovered ENOSPC: %v", err)
		}
	}
	if full == 0 {
		t.Fatal("no append met the full disk")
	}
	check := func(l *Log, label string) {
		t.Helper()
		got := readAllT(t, l, 0)
		for off, b := range want {
			g, ok := got[off]
			if !ok {
				t.Fatalf("%s: batch at %d missing", label, off)
			}
			if b != nil && !bytes.Equal(g[12:], b[12:]) { // past the base offset
				t.Fatalf("%s: batch at %d differs", label, off)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d batches, want %d", label, len(got), len(want))
		}
	}
	check(l, "before reopen")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = Open(fs, "/p", cfg, newMock())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	check(l, "after reopen")
}

// TestDeleteBeforeNoSpace: moving the log start on a full file system
// (its start file cannot be written) fails with ErrNoSpace and moves
// nothing; the log still takes writes, and the same call succeeds once
// there is room.
func TestDeleteBeforeNoSpace(t *testing.T) {
	fs := &fullFS{Fs: afero.NewMemMapFs(), left: 1 << 30}
	cfg := DefaultConfig()
	cfg.SegmentBytes = 4 << 10
	l, err := Open(fs, "/p", cfg, newMock())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 20 {
		if _, err := l.Append(simpleBatch(3, 300, epochMs, byte('a'+i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	fs.setLeft(0)
	if err := l.DeleteBefore(30); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("DeleteBefore on a full disk: %v, want ErrNoSpace", err)
	}
	if l.StartOffset() != 0 {
		t.Fatalf("a failed DeleteBefore moved the start to %d", l.StartOffset())
	}
	fs.setLeft(1 << 30)
	if _, err := l.Append(simpleBatch(1, 10, epochMs, 'z'), 0); err != nil {
		t.Fatalf("append after a failed DeleteBefore: %v", err)
	}
	if err := l.DeleteBefore(30); err != nil {
		t.Fatalf("DeleteBefore once there is room: %v", err)
	}
	if l.StartOffset() != 30 {
		t.Fatalf("start %d, want 30", l.StartOffset())
	}
}
