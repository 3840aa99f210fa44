package core

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/spf13/afero"

	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/storage"
	"github.com/jocko/jocko/wire"
)

// Producer-state snapshots on a partition: a restart reads the log after
// the newest snapshot only, keeps deduplicating retries from before it
// (after a clean stop and after a crash, which writes no shutdown
// snapshot), survives a corrupt or missing snapshot, follows truncation,
// and expires idle producers consistently with what it loads.

// countingFS counts the bytes read from .log files.
type countingFS struct {
	afero.Fs
	logBytes atomic.Int64
}

func (fs *countingFS) Open(name string) (afero.File, error) {
	f, err := fs.Fs.Open(name)
	return fs.wrap(name, f), err
}

func (fs *countingFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := fs.Fs.OpenFile(name, flag, perm)
	return fs.wrap(name, f), err
}

func (fs *countingFS) wrap(name string, f afero.File) afero.File {
	if f == nil || !strings.HasSuffix(name, ".log") {
		return f
	}
	return &countingFile{File: f, n: &fs.logBytes}
}

type countingFile struct {
	afero.File
	n *atomic.Int64
}

func (f *countingFile) Read(b []byte) (int, error) {
	n, err := f.File.Read(b)
	f.n.Add(int64(n))
	return n, err
}

func (f *countingFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	f.n.Add(int64(n))
	return n, err
}

// snapRig is one partition's directory, opened and reopened by a broker
// that does not run (no metadata: settings come from Config.Defaults).
type snapRig struct {
	t    *testing.T
	fs   *countingFS
	clk  *clock.Mock
	dir  string
	cfg  topicConfig
	defs map[string]string
	b    *Broker
	p    *partition
}

const snapSegmentBytes = 4096

func newSnapRig(t *testing.T) *snapRig {
	clk := clock.NewMock()
	clk.Set(time.UnixMilli(1_700_000_000_000))
	sc := storage.DefaultConfig()
	sc.SegmentBytes = snapSegmentBytes
	r := &snapRig{t: t, fs: &countingFS{Fs: afero.NewOsFs()}, clk: clk, dir: filepath.Join(t.TempDir(), "t-0"),
		cfg: topicConfig{storage: sc, flushMessages: 1}, defs: map[string]string{}}
	r.open()
	t.Cleanup(func() {
		if r.p != nil {
			r.p.close()
		}
	})
	return r
}

// open opens the partition (again) with a new broker value.
func (r *snapRig) open() {
	r.t.Helper()
	env := jio.Env{FS: r.fs, Clock: r.clk, Log: slog.New(slog.NewTextHandler(testWriter{r.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	b, err := NewBroker(Config{NodeID: 1, DataDir: filepath.Dir(r.dir), Defaults: r.defs}, env)
	if err != nil {
		r.t.Fatal(err)
	}
	r.fs.logBytes.Store(0)
	p, err := openPartition(b, r.dir, "t", 0, [16]byte{1}, r.cfg, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	r.b, r.p = b, p
}

// stop closes the partition as a clean shutdown does (snapshot) or as a
// crash leaves it (crash: no snapshot, and the roll snapshots already
// started are finished first, so that the test knows what is on disk).
func (r *snapRig) stop(crash bool) {
	r.b.bg.Wait()
	r.p.closeSnapshots(!crash)
	r.p.close()
	r.p = nil
}

// produce appends n records from producer pid at seq, timestamped now,
// and returns the offset the partition answered.
func (r *snapRig) produce(pid int64, epoch int16, seq int32, n int) (int64, error) {
	r.t.Helper()
	now := r.clk.Now().UnixMilli()
	wb := wire.Batch{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, FirstTimestamp: now, MaxTimestamp: now}
	for i := 0; i < n; i++ {
		wb.Records = append(wb.Records, wire.Record{Value: []byte(fmt.Sprintf("%d/%d/%d %0300d", pid, epoch, int(seq)+i, 0))})
	}
	raw, err := wire.AppendBatch(nil, wb)
	if err != nil {
		r.t.Fatal(err)
	}
	h, err := wire.ParseBatchHeader(raw)
	if err != nil {
		r.t.Fatal(err)
	}
	res, err := r.p.append(raw, []wire.BatchHeader{h})
	return res.firstOffset, err
}

func (r *snapRig) mustProduce(pid int64, seq int32, n int) int64 {
	r.t.Helper()
	off, err := r.produce(pid, 0, seq, n)
	if err != nil {
		r.t.Fatalf("produce pid %d seq %d: %v", pid, seq, err)
	}
	return off
}

// fullScan is the producer table rebuilt from the whole log, the way a
// partition without snapshots rebuilds it.
func (r *snapRig) fullScan() map[int64]*producerEntry {
	r.t.Helper()
	var s producerState
	err := r.p.log.Batches(r.p.log.StartOffset(), func(base int64, raw []byte) error {
		h, err := wire.ParseBatchHeader(raw)
		if err == nil {
			h.BaseOffset = base
			recordHeader(&s, h)
		}
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	s.expire(r.clk.Now().UnixMilli(), r.b.producerExpirationMs())
	return s.m
}

func (r *snapRig) table() map[int64]*producerEntry {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	return r.p.producers.m
}

// onDisk lists the snapshot offsets in the directory.
func (r *snapRig) onDisk() []int64 {
	r.t.Helper()
	infos, err := afero.ReadDir(r.fs, r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	var offs []int64
	for _, fi := range infos {
		if off, ok := parseSnapshotName(fi.Name()); ok {
			offs = append(offs, off)
		}
	}
	return offs
}

// written is what the three producers of fill sent: per producer, the
// offset of each batch by its first sequence.
type written map[int64]map[int32]int64

// fill has three producers write batches of 3 records (about 1 KiB) in
// turn until the log has rolled many times.
func (r *snapRig) fill(rounds int) written {
	w := written{1: {}, 2: {}, 3: {}}
	for i := 0; i < rounds; i++ {
		for pid := int64(1); pid <= 3; pid++ {
			seq := int32(3 * i)
			w[pid][seq] = r.mustProduce(pid, seq, 3)
			// Each roll's snapshot is taken before the next append: a
			// snapshot still scheduled covers later rolls too, and on a
			// loaded machine the tests that count snapshots saw too few.
			r.b.bg.Wait()
		}
	}
	return w
}

// checkRetries sends again the last five batches of each producer: each is
// a duplicate answered with its original offset, and the log does not grow.
func (r *snapRig) checkRetries(label string, w written, rounds int) {
	r.t.Helper()
	end := r.p.log.EndOffset()
	for pid := int64(1); pid <= 3; pid++ {
		for i := max(0, rounds-batchesRemembered); i < rounds; i++ {
			seq := int32(3 * i)
			off, err := r.produce(pid, 0, seq, 3)
			if err != nil || off != w[pid][seq] {
				r.t.Errorf("%s: retry of producer %d seq %d: offset %d err %v, want the original offset %d", label, pid, seq, off, err, w[pid][seq])
			}
		}
	}
	if got := r.p.log.EndOffset(); got != end {
		r.t.Errorf("%s: retries moved the log end from %d to %d", label, end, got)
	}
}

func (r *snapRig) logSize() int64 { return r.p.log.Size() }

// TestRestartReadsOnlyAfterSnapshot: reopening a partition after a clean
// stop reads no more of the log than its active segment's tail, and after
// a crash (no shutdown snapshot) no more than the segment after the last
// roll's snapshot; either way a retry of any of a producer's last five
// batches is still a duplicate. (Before snapshots, a restart read all of
// the log.)
func TestRestartReadsOnlyAfterSnapshot(t *testing.T) {
	const rounds = 60
	r := newSnapRig(t)
	w := r.fill(rounds)
	size := r.logSize()
	if size < 40*snapSegmentBytes {
		t.Fatalf("log of %d bytes: want dozens of segments", size)
	}
	want := r.fullScan()

	r.stop(false)
	r.open()
	// storage.Open CRC-scans the active segment from its last index entry.
	if got := r.fs.logBytes.Load(); got > 2*snapSegmentBytes {
		t.Errorf("reopening after a clean stop read %d bytes of a %d-byte log, want at most the active segment (%d) and a little", got, size, snapSegmentBytes)
	}
	if !reflect.DeepEqual(r.table(), want) {
		t.Errorf("after a clean stop: table %v, want the full scan's %v", r.table(), want)
	}
	r.checkRetries("after a clean stop", w, rounds)

	r.stop(true)
	r.open()
	if got := r.fs.logBytes.Load(); got > 3*snapSegmentBytes {
		t.Errorf("reopening after a crash read %d bytes of a %d-byte log, want at most the segments after the last roll's snapshot (%d) and a little", got, size, 2*snapSegmentBytes)
	}
	if !reflect.DeepEqual(r.table(), want) {
		t.Errorf("after a crash: table %v, want the full scan's %v", r.table(), want)
	}
	r.checkRetries("after a crash", w, rounds)
}

// TestSnapshotFallback: a corrupt newest snapshot is deleted and the next
// older one used; with none, the whole log is read; a snapshot above the
// recovered log end (the crash lost what it describes) is deleted. The
// table is the full scan's every time.
func TestSnapshotFallback(t *testing.T) {
	const rounds = 30
	r := newSnapRig(t)
	w := r.fill(rounds)
	want := r.fullScan()
	r.stop(false)
	snaps := r.onDisk()
	if len(snaps) < 3 {
		t.Fatalf("snapshots %v, want several", snaps)
	}

	newest := filepath.Join(r.dir, snapshotName(snaps[len(snaps)-1]))
	data, err := afero.ReadFile(r.fs, newest)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := afero.WriteFile(r.fs, newest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r.open()
	if got := r.onDisk(); !slices.Equal(got, snaps[:len(snaps)-1]) {
		t.Errorf("after a corrupt newest snapshot: snapshots %v on disk, want %v", got, snaps[:len(snaps)-1])
	}
	if got := r.fs.logBytes.Load(); got == 0 {
		t.Error("the older snapshot's batches were not replayed")
	}
	if !reflect.DeepEqual(r.table(), want) {
		t.Errorf("after a corrupt snapshot: table %v, want %v", r.table(), want)
	}
	r.checkRetries("corrupt snapshot", w, rounds)

	r.stop(true)
	for _, off := range r.onDisk() {
		if err := r.fs.Remove(filepath.Join(r.dir, snapshotName(off))); err != nil {
			t.Fatal(err)
		}
	}
	r.open()
	if got, size := r.fs.logBytes.Load(), r.logSize(); got < size {
		t.Errorf("with no snapshot, %d of %d log bytes were read", got, size)
	}
	if !reflect.DeepEqual(r.table(), want) {
		t.Errorf("with no snapshot: table %v, want %v", r.table(), want)
	}

	// A snapshot at the end, then the crash loses the last batches: the
	// snapshot describes records the log no longer has.
	end := r.p.log.EndOffset()
	r.stop(false)
	if got := r.onDisk(); !slices.Contains(got, end) {
		t.Fatalf("no shutdown snapshot at %d: %v", end, got)
	}
	active := activeSegment(t, r)
	fi, err := r.fs.Stat(active)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(active, fi.Size()-200); err != nil {
		t.Fatal(err)
	}
	r.open()
	if r.p.log.EndOffset() >= end {
		t.Fatalf("log end %d after cutting its tail, want below %d", r.p.log.EndOffset(), end)
	}
	if got := r.onDisk(); slices.Contains(got, end) {
		t.Errorf("snapshot %d above the recovered log end %d still on disk: %v", end, r.p.log.EndOffset(), got)
	}
	if want := r.fullScan(); !reflect.DeepEqual(r.table(), want) {
		t.Errorf("after losing the tail: table %v, want %v", r.table(), want)
	}
}

// activeSegment is the path of the newest .log file.
func activeSegment(t *testing.T, r *snapRig) string {
	t.Helper()
	infos, err := afero.ReadDir(r.fs, r.dir)
	if err != nil {
		t.Fatal(err)
	}
	last := ""
	for _, fi := range infos {
		if strings.HasSuffix(fi.Name(), ".log") && fi.Name() > last {
			last = fi.Name()
		}
	}
	return filepath.Join(r.dir, last)
}

// TestTruncationBelowSnapshots: a follower's truncation below snapshots
// deletes them and rebuilds the table from an older one and the log after
// it: the truncated batches are no longer duplicates, the surviving ones
// are, and a restart agrees.
func TestTruncationBelowSnapshots(t *testing.T) {
	const rounds = 30
	r := newSnapRig(t)
	w := r.fill(rounds)
	r.b.bg.Wait()
	snaps := r.onDisk()
	if len(snaps) < 4 {
		t.Fatalf("snapshots %v, want several", snaps)
	}
	// Cut at producer 1's batch of round 20: below the newest snapshots.
	cut := w[1][3*20]
	if cut >= snaps[len(snaps)-1] {
		t.Fatalf("cut %d not below the newest snapshot %d", cut, snaps[len(snaps)-1])
	}
	if err := r.p.truncateTo(cut); err != nil {
		t.Fatal(err)
	}
	for _, off := range r.onDisk() {
		if off > cut {
			t.Errorf("snapshot %d above the cut %d still on disk", off, cut)
		}
	}
	if want := r.fullScan(); !reflect.DeepEqual(r.table(), want) {
		t.Errorf("after truncation: table %v, want %v", r.table(), want)
	}
	// Producer 3's round 19 survived: a duplicate. Producer 1's round 20
	// was cut: appended anew, after the cut.
	if off, err := r.produce(3, 0, 3*19, 3); err != nil || off != w[3][3*19] {
		t.Errorf("retry of a surviving batch: offset %d err %v, want %d", off, err, w[3][3*19])
	}
	if off, err := r.produce(1, 0, 3*20, 3); err != nil || off != cut {
		t.Errorf("resending a truncated batch: offset %d err %v, want it appended at the cut %d", off, err, cut)
	}
	want := r.fullScan()
	r.stop(true)
	r.open()
	if !reflect.DeepEqual(r.table(), want) {
		t.Errorf("after a restart: table %v, want %v", r.table(), want)
	}
}

// TestProducerExpiry (producer.id.expiration.ms): a producer idle for
// the expiration, by its batches' timestamps, is forgotten (its next batch
// is accepted at any sequence), and a restart from a snapshot taken while
// it was still known forgets it too; one active within the expiration is
// kept.
func TestProducerExpiry(t *testing.T) {
	r := newSnapRig(t)
	r.defs["producer.id.expiration.ms"] = "60000"
	r.stop(true)
	r.open()
	r.mustProduce(1, 0, 3)
	r.clk.Add(30 * time.Second)
	r.mustProduce(2, 0, 3)
	if err := r.p.takeSnapshot(); err != nil {
		t.Fatal(err)
	}
	r.clk.Add(20 * time.Second) // producer 1 idle 50 s: kept
	if n := r.p.expireProducers(); n != 0 {
		t.Fatalf("%d producers expired after 50 s, want none", n)
	}
	r.stop(true)
	r.open()
	if len(r.table()) != 2 {
		t.Fatalf("after a restart at 50 s: %d producers, want 2", len(r.table()))
	}
	r.clk.Add(10 * time.Second) // producer 1 idle 60 s, producer 2 30 s
	if n := r.p.expireProducers(); n != 1 {
		t.Fatalf("%d producers expired, want producer 1", n)
	}
	if dup, err := r.p.producers.check(1, 0, 77, 79); dup != nil || err != nil {
		t.Errorf("expired producer at sequence 77: dup %v err %v, want accepted as unknown", dup, err)
	}
	if dup, _ := r.p.producers.check(2, 0, 0, 2); dup == nil {
		t.Error("producer 2's retry is no longer a duplicate")
	}
	// A crash loses the expiry; the snapshot on disk still has producer 1.
	r.stop(true)
	r.open()
	if _, ok := r.table()[1]; ok {
		t.Error("producer 1 came back from the snapshot taken before it expired")
	}
	if _, ok := r.table()[2]; !ok {
		t.Error("producer 2 lost at the restart")
	}
}

// TestSnapshotPrunedWithRetention: retention deleting old segments deletes
// the snapshots below the new log start, and keeps the newest.
func TestSnapshotPrunedWithRetention(t *testing.T) {
	r := newSnapRig(t)
	r.fill(30)
	r.b.bg.Wait()
	before := r.onDisk()
	start := before[len(before)-2]
	if err := r.p.log.DeleteBefore(start); err != nil {
		t.Fatal(err)
	}
	if err := r.p.pruneSnapshots(); err != nil {
		t.Fatal(err)
	}
	if got := r.onDisk(); !slices.Equal(got, before[len(before)-2:]) {
		t.Errorf("after the log start moved to %d: snapshots %v, want %v", start, got, before[len(before)-2:])
	}
	// Past every snapshot: the newest stays (KIP-360 keeps producer state
	// beyond the log start).
	r.mustProduce(9, 0, 1)
	r.mustProduce(9, 1, 1)
	r.b.bg.Wait()
	before = r.onDisk()
	// Not at the end: DeleteBefore would roll, and the roll snapshot.
	if err := r.p.log.DeleteBefore(r.p.log.EndOffset() - 1); err != nil {
		t.Fatal(err)
	}
	if err := r.p.pruneSnapshots(); err != nil {
		t.Fatal(err)
	}
	if got := r.onDisk(); !slices.Equal(got, before[len(before)-1:]) || got[0] >= r.p.log.StartOffset() {
		t.Errorf("log start %d past every snapshot: %v on disk, want the newest of %v", r.p.log.StartOffset(), got, before)
	}
}

var _ io.ReaderAt = (*countingFile)(nil)
