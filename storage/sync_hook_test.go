package storage

import (
	"os"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// clockSyncFS advances clk by a millisecond at every file fsync.
type clockSyncFS struct {
	afero.Fs
	clk *testClock
}

func (s clockSyncFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := s.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return clockSyncFile{File: f, clk: s.clk}, nil
}

type clockSyncFile struct {
	afero.File
	clk *testClock
}

func (f clockSyncFile) Sync() error {
	f.clk.Add(time.Millisecond)
	return f.File.Sync()
}

// TestSyncHookHearsEachGroupCommit: the hook hears one call per fsync that
// moved the durable end, with the offsets it covered (every append since
// the last one: the group commit's batch) and the time the fsyncs took;
// a Sync with nothing new to make durable is not an fsync and is not heard.
func TestSyncHookHearsEachGroupCommit(t *testing.T) {
	t.Parallel()
	clk := newMock()
	l := openT(t, clockSyncFS{Fs: afero.NewMemMapFs(), clk: clk}, smallConfig(), clk)
	defer l.Close()
	type call struct {
		d       time.Duration
		records int64
	}
	var calls []call
	l.SetSyncHook(func(d time.Duration, records int64) { calls = append(calls, call{d, records}) })
	appendT(t, l, simpleBatch(3, 10, epochMs, 'a'))
	appendT(t, l, simpleBatch(2, 10, epochMs, 'b'))
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	appendT(t, l, simpleBatch(4, 10, epochMs, 'c'))
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].records != 5 || calls[1].records != 4 {
		t.Fatalf("hook calls %+v, want 5 then 4 records", calls)
	}
	for _, c := range calls {
		if c.d < time.Millisecond {
			t.Fatalf("hook heard %v for an fsync that took at least 1ms on the clock", c.d)
		}
	}
}
