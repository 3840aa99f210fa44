package storage

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// slowSyncFS makes every fsync of a .log file take delay, as a disk does,
// so that segment rolls land while a flusher's fsync runs. The sleep is
// latency, not a wait for anything: it creates no happens-before edge, so
// the race detector sees a roll that touches what the fsync uses.
type slowSyncFS struct {
	afero.Fs
	delay time.Duration
}

func (s *slowSyncFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := s.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &slowSyncFile{File: f, log: strings.HasSuffix(name, logSuffix), delay: s.delay}, nil
}

// slowSyncFile knows whether it is a .log from its name at open: calling
// Name in Sync would take the in-memory file's lock, which appends take
// too, and that would order the fsync before a roll and hide a race.
type slowSyncFile struct {
	afero.File
	log   bool
	delay time.Duration
}

func (f *slowSyncFile) Sync() error {
	if f.log {
		time.Sleep(f.delay)
	}
	return f.File.Sync()
}

// TestSyncDuringSegmentRoll: a flusher fsyncs in a loop while appends roll
// a segment every few batches (issue 9, item 1: a roll nil'ed the write
// handle an fsync was about to use). Under -race it fails on an unguarded
// access; in any build every Sync must succeed, the durable end must only
// grow and cover what each Sync asked for, every batch must read back, and
// after a crash every batch below the acknowledged end must be there.
func TestSyncDuringSegmentRoll(t *testing.T) {
	const appends = 300
	disk := newCrashFS()
	cfg := smallConfig()
	cfg.SegmentBytes = segmentBytesMin // about three batches a segment
	l := openT(t, &slowSyncFS{Fs: disk, delay: 100 * time.Microsecond}, cfg, newMock())

	done := make(chan struct{})
	acked := make(chan int64, 1) // the flusher's acknowledged end, once done
	go func() {
		var durable, asked int64
		defer func() { acked <- asked }()
		for syncs := 0; ; syncs++ {
			select {
			case <-done:
				if syncs == 0 {
					t.Errorf("the flusher never ran during the appends")
				}
				return
			default:
			}
			e := l.EndOffset()
			if err := l.Sync(e); err != nil {
				t.Errorf("Sync(%d): %v", e, err)
				return
			}
			d := l.DurableEnd()
			if d < durable || d < e || d > l.EndOffset() {
				t.Errorf("durable end %d after Sync(%d); was %d, end %d", d, e, durable, l.EndOffset())
				return
			}
			durable, asked = d, e
		}
	}()

	want := map[int64][]byte{}
	next := map[int64]int64{}
	for i := range appends {
		b := simpleBatch(1, 150+i%100, epochMs+int64(i), byte(i))
		info, err := l.Append(b, 7)
		if err != nil {
			close(done)
			<-acked
			t.Fatalf("Append %d: %v", i, err)
		}
		want[info.FirstOffset] = withOffset(b, info.FirstOffset, 7)
		next[info.FirstOffset] = info.LastOffset + 1
	}
	close(done)
	ackedEnd := <-acked
	if t.Failed() {
		t.FailNow()
	}
	if names, _ := afero.Glob(disk, "/data/p0/*.log"); len(names) < appends/4 {
		t.Fatalf("%d segments after %d appends: too few rolls to race with", len(names), appends)
	}

	got := readAllT(t, l, 0)
	if len(got) != len(want) {
		t.Fatalf("read back %d batches, appended %d", len(got), len(want))
	}
	for base, b := range want {
		if !bytes.Equal(got[base], b) {
			t.Fatalf("batch %d reads back differently", base)
		}
	}

	// A crash keeps at least everything a Sync acknowledged.
	l.Close()
	disk.Crash(newRand(9))
	l = openT(t, disk, cfg, newMock())
	defer l.Close()
	if l.EndOffset() < ackedEnd {
		t.Fatalf("end %d after a crash, below the acknowledged %d", l.EndOffset(), ackedEnd)
	}
	got = readAllT(t, l, 0)
	for base, b := range want {
		if next[base] <= ackedEnd && !bytes.Equal(got[base], b) {
			t.Fatalf("acknowledged batch %d (below %d) lost or changed by a crash", base, ackedEnd)
		}
	}
}
