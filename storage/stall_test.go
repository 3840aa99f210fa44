package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// gateFS holds the first file operation that match picks, once armed,
// until release is closed: a disk whose fsync (or read) takes as long as
// the test wants. Each file knows its name from its open (Name would take
// the in-memory file's lock).
type gateFS struct {
	afero.Fs
	match   func(op, name string) bool
	armed   atomic.Bool
	entered chan string
	release chan struct{}
}

func newGateFS(match func(op, name string) bool) *gateFS {
	return &gateFS{Fs: afero.NewMemMapFs(), match: match, entered: make(chan string, 1), release: make(chan struct{})}
}

func (g *gateFS) pass(op, name string) {
	if g.armed.Load() && g.match(op, name) && g.armed.CompareAndSwap(true, false) {
		g.entered <- op + " " + name
		<-g.release
	}
}

func (g *gateFS) Open(name string) (afero.File, error) {
	f, err := g.Fs.Open(name)
	if err != nil {
		return nil, err
	}
	return &gateFile{File: f, fs: g, name: name}, nil
}

func (g *gateFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := g.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &gateFile{File: f, fs: g, name: name}, nil
}

type gateFile struct {
	afero.File
	fs   *gateFS
	name string
}

func (f *gateFile) Sync() error {
	f.fs.pass("sync", f.name)
	return f.File.Sync()
}

func (f *gateFile) ReadAt(b []byte, off int64) (int, error) {
	f.fs.pass("readat", f.name)
	return f.File.ReadAt(b, off)
}

// stallDeadline is how long an append or read may take while another
// operation is held before the test calls it blocked. It is not a
// performance bound: unblocked, they take microseconds.
const stallDeadline = 5 * time.Second

// within runs fn and reports whether it returned before stallDeadline;
// if not, it is left running (the caller releases what blocks it).
func within(fn func()) (done <-chan struct{}, ok bool) {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		fn()
	}()
	select {
	case <-ch:
		return ch, true
	case <-time.After(stallDeadline):
		return ch, false
	}
}

// TestNoAppendOrReadWaitsBehindSlowIO (issue 9, item 6): while a segment
// roll's fsyncs, retention's directory sync, DeleteBefore's start file or
// a big read are held on the disk, appends and reads of other data go on,
// and the durable end does not pass what is not fsynced.
func TestNoAppendOrReadWaitsBehindSlowIO(t *testing.T) {
	isLog := func(name string) bool { return strings.HasSuffix(name, logSuffix) }
	cases := []struct {
		name string
		// match picks the operation to hold; active is the active
		// segment's .log before held runs.
		match func(op, name, active string) bool
		// held runs in the background and is held on the disk; end is
		// the log end before it.
		held func(t *testing.T, l *Log, end int64)
	}{
		{"seal of a rolled segment", func(op, name, active string) bool { return op == "sync" && name == active },
			func(t *testing.T, l *Log, end int64) {
				appendT(t, l, simpleBatch(1, 3000, epochMs, 'r')) // rolls
				if err := l.Sync(l.EndOffset()); err != nil {
					t.Errorf("Sync: %v", err)
				}
			}},
		{"retention's directory sync", func(op, name, _ string) bool { return op == "sync" && name == "/data/p0" },
			func(t *testing.T, l *Log, end int64) {
				cfg := smallConfig()
				cfg.RetentionBytes = 4096
				l.SetConfig(cfg)
				if n, err := l.EnforceRetention(); err != nil || n == 0 {
					t.Errorf("EnforceRetention deleted %d segments: %v", n, err)
				}
			}},
		{"DeleteBefore's start file", func(op, name, _ string) bool {
			return op == "sync" && filepath.Base(name) == startFileName+".tmp"
		}, func(t *testing.T, l *Log, end int64) {
			if err := l.DeleteBefore(end / 2); err != nil {
				t.Errorf("DeleteBefore: %v", err)
			}
		}},
		{"a big read", func(op, name, _ string) bool { return op == "readat" && isLog(name) },
			func(t *testing.T, l *Log, end int64) {
				if b, err := l.Read(0, 1<<20, end); err != nil || len(b) == 0 {
					t.Errorf("Read: %d bytes, %v", len(b), err)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var active string
			g := newGateFS(func(op, name string) bool { return c.match(op, name, active) })
			l := openT(t, g, smallConfig(), newMock())
			defer l.Close()
			for i := range 8 { // two batches a segment
				appendT(t, l, simpleBatch(1, 1500, epochMs, byte(i)))
			}
			synced := l.EndOffset()
			if err := l.Sync(synced); err != nil {
				t.Fatal(err)
			}
			appendT(t, l, simpleBatch(1, 1000, epochMs, 'u')) // the active segment, not synced
			end := l.EndOffset()
			active = segPath(l.segs[len(l.segs)-1].base, logSuffix)
			last, err := l.Read(end-1, 0, end)
			if err != nil || len(last) == 0 {
				t.Fatalf("Read(%d): %d bytes, %v", end-1, len(last), err)
			}

			g.armed.Store(true)
			heldDone := make(chan struct{})
			go func() {
				defer close(heldDone)
				c.held(t, l, end)
			}()
			var what string
			select {
			case what = <-g.entered:
			case <-time.After(stallDeadline):
				t.Fatal("the operation never reached the disk")
			}
			if d := l.DurableEnd(); d > synced {
				t.Errorf("durable end %d while %s is held; only %d was fsynced", d, what, synced)
			}
			appended, ok := within(func() { appendT(t, l, simpleBatch(1, 100, epochMs, 'a')) })
			if !ok {
				t.Errorf("an append waited behind %s", what)
			}
			read, ok := within(func() {
				if b, err := l.Read(end-1, 0, end); err != nil || !bytes.Equal(b, last) {
					t.Errorf("Read(%d) while %s is held: %d bytes, %v", end-1, what, len(b), err)
				}
			})
			if !ok {
				t.Errorf("a read waited behind %s", what)
			}
			close(g.release)
			<-heldDone
			<-appended
			<-read
			if t.Failed() {
				return
			}
			if err := l.Sync(l.EndOffset()); err != nil {
				t.Fatal(err)
			}
			if l.DurableEnd() != l.EndOffset() {
				t.Fatalf("durable end %d after a Sync of %d", l.DurableEnd(), l.EndOffset())
			}
			readAllT(t, l, 0) // every batch left reads back, CRCs checked
		})
	}
}

// TestReadOutlivesRetentionAndTruncation: a read does its I/O without the
// log's lock, so retention may delete its segment and a truncation may cut
// it meanwhile. A deleted segment's read handle stays open until the read
// is done (it returns the batch as it was); a read that a truncation
// overlapped is done again on the log as it is now.
func TestReadOutlivesRetentionAndTruncation(t *testing.T) {
	for _, c := range []struct {
		name   string
		offset int64  // read here
		held   string // the file the read is held on
		// meanwhile changes the log while the read is held; it returns
		// what the read must then return.
		meanwhile func(t *testing.T, l *Log, old []byte) []byte
	}{
		{"retention deletes the segment", 0, segPath(0, logSuffix), func(t *testing.T, l *Log, old []byte) []byte {
			if err := l.DeleteBefore(4); err != nil {
				t.Fatal(err)
			}
			if _, err := l.fs.Stat(segPath(0, logSuffix)); err == nil {
				t.Fatal("segment 0 still on disk")
			}
			return old
		}},
		// Held on the index (the .log's reads of an in-memory file are
		// serialised, and the truncation reads it too).
		{"a truncation cuts the segment", 4, segPath(4, indexSuffix), func(t *testing.T, l *Log, old []byte) []byte {
			if err := l.TruncateTo(4); err != nil {
				t.Fatal(err)
			}
			b := simpleBatch(1, 10, epochMs, 'N')
			appendT(t, l, b)
			return withOffset(b, 4, 7)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGateFS(func(op, name string) bool {
				return op == "readat" && name == c.held
			})
			l := openT(t, g, smallConfig(), newMock())
			defer l.Close()
			for i := range 8 { // two batches a segment
				appendT(t, l, simpleBatch(1, 1500, epochMs, byte(i)))
			}
			if err := l.Sync(l.EndOffset()); err != nil {
				t.Fatal(err)
			}
			old, err := l.Read(c.offset, 0, l.EndOffset())
			if err != nil {
				t.Fatal(err)
			}
			g.armed.Store(true)
			type result struct {
				b   []byte
				err error
			}
			got := make(chan result, 1)
			go func() {
				b, err := l.Read(c.offset, 0, 1<<62)
				got <- result{b, err}
			}()
			select {
			case <-g.entered:
			case <-time.After(stallDeadline):
				t.Fatal("the read never reached the disk")
			}
			want := c.meanwhile(t, l, old)
			close(g.release)
			r := <-got
			if r.err != nil || !bytes.Equal(r.b, want) {
				t.Fatalf("Read(%d): %d bytes, %v; want the %d bytes of %s", c.offset, len(r.b), r.err, len(want), map[bool]string{true: "the old batch", false: "the log as it is now"}[bytes.Equal(want, old)])
			}
		})
	}
}

// segPath is a file of the test log's segment at base.
func segPath(base int64, suffix string) string {
	return (&segment{dir: "/data/p0", base: base}).path(suffix)
}
