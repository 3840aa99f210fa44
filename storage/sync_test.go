package storage

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/afero"
)

// blockFS blocks fsyncs of .log files while armed, to observe group commit.
type blockFS struct {
	afero.Fs
	armed   atomic.Bool
	syncs   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (b *blockFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := b.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &blockFile{File: f, fs: b}, nil
}

type blockFile struct {
	afero.File
	fs *blockFS
}

func (f *blockFile) Sync() error {
	if f.fs.armed.Load() && strings.HasSuffix(f.Name(), ".log") {
		f.fs.syncs.Add(1)
		f.fs.entered <- struct{}{}
		<-f.fs.release
	}
	return f.File.Sync()
}

// TestSyncGroupCommit: while one fsync runs, appends go on and later Sync
// callers wait; one more fsync then covers all of them.
func TestSyncGroupCommit(t *testing.T) {
	bfs := &blockFS{Fs: afero.NewMemMapFs(), entered: make(chan struct{}, 4), release: make(chan struct{})}
	l := openT(t, bfs, DefaultConfig(), newMock())
	waiting := make(chan struct{}, 4)
	l.waitHook = func() { waiting <- struct{}{} }
	bfs.armed.Store(true)

	first := appendT(t, l, simpleBatch(1, 10, epochMs, 'a'))
	errs := make(chan error, 3)
	go func() { errs <- l.Sync(first.LastOffset + 1) }()
	<-bfs.entered // the first fsync is running and holds no lock appends need
	appendT(t, l, simpleBatch(1, 10, epochMs, 'b'))
	last := appendT(t, l, simpleBatch(1, 10, epochMs, 'c'))
	if l.DurableEnd() > first.FirstOffset {
		t.Fatalf("durable end %d before any fsync finished", l.DurableEnd())
	}
	go func() { errs <- l.Sync(last.LastOffset) }()
	go func() { errs <- l.Sync(last.LastOffset + 1) }()
	<-waiting
	<-waiting // both wait behind the running fsync
	bfs.release <- struct{}{}
	<-bfs.entered // one of them runs the next fsync for both
	bfs.release <- struct{}{}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := bfs.syncs.Load(); n != 2 {
		t.Fatalf("%d fsyncs for three Sync calls, want 2 (group commit)", n)
	}
	if l.DurableEnd() != l.EndOffset() {
		t.Fatalf("durable end %d, end %d", l.DurableEnd(), l.EndOffset())
	}
	if err := l.Sync(1); err != nil || bfs.syncs.Load() != 2 {
		t.Fatalf("Sync of a durable offset did an fsync or failed: %v", err)
	}
}

// TestWriteErrorsAreSticky: after a failed fsync the log refuses Append
// and Sync with the same error until reopened (the fsyncgate lesson).
func TestWriteErrorsAreSticky(t *testing.T) {
	disk := afero.NewMemMapFs()
	ffs := &faultFS{Fs: disk}
	l := openT(t, ffs, smallConfig(), newMock())
	appendT(t, l, simpleBatch(1, 10, epochMs, 'a'))
	ffs.failAt = ffs.ops + 1 // the fsync
	if err := l.Sync(1); !errors.Is(err, errInjected) {
		t.Fatalf("Sync: %v, want the injected fault", err)
	}
	if _, err := l.Append(simpleBatch(1, 10, epochMs, 'b'), 0); !errors.Is(err, errInjected) {
		t.Fatalf("Append after a failed fsync: %v", err)
	}
	if err := l.Sync(1); !errors.Is(err, errInjected) {
		t.Fatalf("second Sync after a failed fsync: %v", err)
	}
	if l.DurableEnd() != 0 {
		t.Fatalf("durable end %d after the fsync failed", l.DurableEnd())
	}
	if got, err := l.Read(0, 100, 10); err != nil || len(got) == 0 {
		t.Fatalf("reads still work: %d bytes, %v", len(got), err)
	}
	l.Close()
	l = openT(t, disk, smallConfig(), newMock())
	if _, err := l.Append(simpleBatch(1, 10, epochMs, 'b'), 7); err != nil {
		t.Fatalf("reopened log refuses appends: %v", err)
	}
}
