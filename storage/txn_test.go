package storage

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/spf13/afero"
	"pgregory.net/rapid"

	"github.com/jocko/jocko/wire"
)

// tb is what the tests here need of testing.T and rapid.T.
type tb interface {
	Helper()
	Fatal(...any)
	Fatalf(string, ...any)
}

func openTB(t tb, fs afero.Fs) *Log {
	t.Helper()
	l, err := Open(fs, "/data/p0", smallConfig(), newMock())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func appendTB(t tb, l *Log, b []byte) AppendInfo {
	t.Helper()
	info, err := l.Append(b, 7)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return info
}

// txnBatch is a batch of n records from producer pid: transactional
// (attributes bit 4) if txn.
func txnBatch(t tb, pid int64, txn bool, n int) []byte {
	t.Helper()
	var attrs int16
	if txn {
		attrs = attrTransactional
	}
	recs := make([]wire.Record, n)
	for i := range recs {
		recs[i] = wire.Record{Key: []byte(fmt.Sprint("k", i)), Value: make([]byte, 40)}
	}
	b, err := wire.AppendBatch(nil, wire.Batch{Attributes: attrs, ProducerID: pid, BaseSequence: 0,
		FirstTimestamp: 1000, MaxTimestamp: 1000, Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// marker is a COMMIT or ABORT control batch of pid.
func marker(pid int64, abort bool) []byte {
	typ := wire.ControlCommit
	if abort {
		typ = wire.ControlAbort
	}
	return wire.AppendControlBatch(nil, pid, 0, typ, 1, 1000)
}

// txnModel is the log's transactions as a list of events, recomputed from
// scratch on every question.
type txnModel struct {
	evs []mEvent
}

type mEvent struct {
	pid, base, next int64
	txn, marker     bool
	abort           bool
}

// replay returns the open transactions at the end and every aborted one.
func (m *txnModel) replay() (map[int64]int64, []AbortedTxn) {
	open := map[int64]int64{}
	var aborted []AbortedTxn
	for _, e := range m.evs {
		if !e.txn {
			continue
		}
		first, ok := open[e.pid]
		if !e.marker {
			if !ok {
				open[e.pid] = e.base
			}
			continue
		}
		if !ok {
			first = e.base
		}
		delete(open, e.pid)
		if e.abort {
			lso := e.base + 1
			for _, f := range open {
				lso = min(lso, f)
			}
			aborted = append(aborted, AbortedTxn{e.pid, first, e.base, lso})
		}
	}
	return open, aborted
}

func (m *txnModel) cut(end int64) {
	m.evs = slices.DeleteFunc(m.evs, func(e mEvent) bool { return e.base >= end })
}

// check compares the log with the model: LSO at several high watermarks,
// the open transactions, and AbortedTransactions over ranges.
func (m *txnModel) check(t tb, l *Log, ranges [][2]int64) {
	t.Helper()
	open, aborted := m.replay()
	end := l.EndOffset()
	for _, hw := range []int64{0, end / 2, end} {
		want := hw
		for _, f := range open {
			want = min(want, f)
		}
		if got := l.LastStableOffset(hw); got != want {
			t.Fatalf("LastStableOffset(%d) = %d, model %d (open %v)", hw, got, want, open)
		}
	}
	var wantOpen []OpenTxn
	for pid, f := range open {
		wantOpen = append(wantOpen, OpenTxn{pid, f})
	}
	slices.SortFunc(wantOpen, func(a, b OpenTxn) int { return int(a.FirstOffset - b.FirstOffset) })
	if got := l.OpenTransactions(); !(len(got) == 0 && len(wantOpen) == 0) && !reflect.DeepEqual(got, wantOpen) {
		t.Fatalf("OpenTransactions = %v, model %v", got, wantOpen)
	}
	for _, r := range append(ranges, [2]int64{0, end}) {
		var want []AbortedTxn
		for _, a := range aborted {
			if a.LastOffset >= r[0] && a.FirstOffset < r[1] {
				want = append(want, a)
			}
		}
		if got := l.AbortedTransactions(r[0], r[1]); !(len(got) == 0 && len(want) == 0) && !reflect.DeepEqual(got, want) {
			t.Fatalf("AbortedTransactions(%d, %d) = %v, model %v", r[0], r[1], got, want)
		}
	}
}

// txnRig appends to a log and its model together.
type txnRig struct {
	t    tb
	disk *crashFS
	l    *Log
	m    txnModel
}

func newTxnRig(t tb) *txnRig {
	r := &txnRig{t: t, disk: newCrashFS()}
	r.l = openTB(t, r.disk)
	return r
}

func (r *txnRig) data(pid int64, txn bool, n int) {
	info := appendTB(r.t, r.l, txnBatch(r.t, pid, txn, n))
	r.m.evs = append(r.m.evs, mEvent{pid: pid, base: info.FirstOffset, next: info.LastOffset + 1, txn: txn})
}

func (r *txnRig) end(pid int64, abort bool) {
	info := appendTB(r.t, r.l, marker(pid, abort))
	r.m.evs = append(r.m.evs, mEvent{pid: pid, base: info.FirstOffset, next: info.LastOffset + 1, txn: true, marker: true, abort: abort})
}

func (r *txnRig) reopen() {
	if err := r.l.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.l = openTB(r.t, r.disk)
}

// crash drops what was not synced (torn at random) and reopens; the model
// loses what the log lost.
func (r *txnRig) crash(seed uint64) {
	r.disk.Crash(newRand(seed))
	// The dead incarnation is abandoned, not closed: a Close would write
	// to the crashed disk.
	r.l = openTB(r.t, r.disk)
	r.m.cut(r.l.EndOffset())
}

// TestTxnInterleavings: transactions of three producers, committed and
// aborted in interleaved orders, with plain and idempotent batches among
// them, across segment rolls, checked against the model after each step,
// after a clean reopen and after a crash that loses nothing synced.
func TestTxnInterleavings(t *testing.T) {
	r := newTxnRig(t)
	steps := []func(){
		func() { r.data(1, true, 3) },
		func() { r.data(2, true, 2) },
		func() { r.data(9, false, 4) }, // not transactional
		func() { r.data(1, true, 1) },
		func() { r.end(1, true) }, // abort 1: LSO still held by 2
		func() { r.data(3, true, 2) },
		func() { r.end(2, false) },    // commit 2
		func() { r.data(1, true, 2) }, // a new transaction of 1
		func() { r.end(3, true) },     // abort 3
		func() { r.end(1, false) },    // commit 1: nothing open
		func() { r.end(4, true) },     // abort with no data: starts at the marker (Kafka)
		func() { r.data(2, true, 1) },
	}
	for round := 0; round < 6; round++ { // enough to roll 4 KiB segments
		for _, s := range steps {
			s()
			r.m.check(t, r.l, [][2]int64{{r.l.EndOffset() / 3, r.l.EndOffset() / 2}})
		}
	}
	if r.l.Segments() < 3 {
		t.Fatalf("want several segments, have %d", r.l.Segments())
	}
	r.reopen()
	r.m.check(t, r.l, [][2]int64{{5, 40}})
	if err := r.l.Sync(r.l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	end := r.l.EndOffset()
	r.crash(1)
	if r.l.EndOffset() != end {
		t.Fatalf("synced end %d, recovered %d", end, r.l.EndOffset())
	}
	r.m.check(t, r.l, [][2]int64{{5, 40}})
}

// TestTxnIndexFiles: an ABORT marker writes a 34-byte Kafka AbortedTxn
// entry to its segment's .txnindex; retention and DeleteBefore remove the
// files (and entries) of the segments they delete, TruncateTo those past
// the cut.
func TestTxnIndexFiles(t *testing.T) {
	r := newTxnRig(t)
	for i := 0; i < 80; i++ {
		r.data(int64(i%3), true, 2)
		r.end(int64(i%3), i%2 == 0)
	}
	if err := r.l.Sync(r.l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	files := func() []string {
		var out []string
		fis, _ := afero.ReadDir(r.disk, "/data/p0")
		for _, fi := range fis {
			if n := fi.Name(); len(n) > 20 && (n[20:] == txnIndexSuffix || n[20:] == txnOpenSuffix) {
				out = append(out, n)
				if n[20:] == txnIndexSuffix && fi.Size()%abortedEntryLen != 0 {
					t.Fatalf("%s: %d bytes", n, fi.Size())
				}
			}
		}
		return out
	}
	if len(files()) < 2 {
		t.Fatalf("txn files %v", files())
	}
	r.m.check(t, r.l, nil)
	// DeleteBefore: the deleted segments' entries and files go.
	mid := r.m.evs[len(r.m.evs)/3].base
	if err := r.l.DeleteBefore(mid); err != nil {
		t.Fatal(err)
	}
	r.l.mu.RLock()
	first := r.l.segs[0].base // the segment holding the start stays
	r.l.mu.RUnlock()
	if first == 0 {
		t.Fatalf("DeleteBefore(%d) deleted no segment", mid)
	}
	for _, a := range r.l.AbortedTransactions(0, r.l.EndOffset()) {
		if a.LastOffset < first {
			t.Fatalf("entry %+v of a deleted segment (start %d)", a, first)
		}
	}
	// Every transaction here ended at once, so what is left replays alone.
	r.m.evs = slices.DeleteFunc(r.m.evs, func(e mEvent) bool { return e.base < first })
	r.m.check(t, r.l, [][2]int64{{0, first + 10}})
	for _, n := range files() {
		var base int64
		fmt.Sscanf(n[:20], "%d", &base)
		if base < first {
			t.Fatalf("%s left below the start %d", n, first)
		}
	}
	// TruncateTo: the model and the files agree on what is left.
	cut := r.m.evs[2*len(r.m.evs)/3].base
	if err := r.l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	r.m.cut(cut)
	r.m.check(t, r.l, [][2]int64{{mid, cut}})
	for _, n := range files() {
		var base int64
		fmt.Sscanf(n[:20], "%d", &base)
		if base >= cut {
			t.Fatalf("%s left after TruncateTo(%d)", n, cut)
		}
	}
	r.reopen()
	r.m.check(t, r.l, nil)
}

// TestTxnProperty: random interleavings of transactional and plain
// batches, markers, reopens, crashes (synced or not) and truncations keep
// LastStableOffset, OpenTransactions and AbortedTransactions equal to the
// model's.
func TestTxnProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		r := newTxnRig(rt)
		defer func() { r.l.Close() }()
		for range rapid.IntRange(1, 80).Draw(rt, "steps") {
			pid := rapid.Int64Range(1, 4).Draw(rt, "pid")
			switch rapid.IntRange(0, 9).Draw(rt, "op") {
			case 0, 1, 2:
				r.data(pid, true, rapid.IntRange(1, 5).Draw(rt, "n"))
			case 3:
				r.data(pid, false, 2)
			case 4, 5:
				r.end(pid, rapid.Bool().Draw(rt, "abort"))
			case 6:
				r.reopen()
			case 7:
				if rapid.Bool().Draw(rt, "sync") {
					if err := r.l.Sync(r.l.EndOffset()); err != nil {
						rt.Fatal(err)
					}
				}
				r.crash(rapid.Uint64().Draw(rt, "seed"))
			case 8:
				if len(r.m.evs) == 0 {
					continue
				}
				cut := r.m.evs[rapid.IntRange(0, len(r.m.evs)-1).Draw(rt, "cut")].base
				if err := r.l.TruncateTo(cut); err != nil {
					rt.Fatal(err)
				}
				r.m.cut(cut)
			case 9:
				if err := r.l.Sync(r.l.EndOffset()); err != nil {
					rt.Fatal(err)
				}
			}
			end := r.l.EndOffset()
			from := rapid.Int64Range(0, end).Draw(rt, "from")
			to := rapid.Int64Range(from, end+1).Draw(rt, "to")
			r.m.check(rt, r.l, [][2]int64{{from, to}})
		}
	})
}
