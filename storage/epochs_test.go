package storage

// Tests of the leader-epoch cache (KIP-101, KIP-279; Kafka's
// LeaderEpochFileCache and its leader-epoch-checkpoint file).

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"pgregory.net/rapid"
)

const epochPath = "/data/p0/" + epochFileName

// replicaBatch is a batch of n records as a leader stamped it.
func replicaBatch(base int64, n int, epoch int32) []byte {
	return withOffset(simpleBatch(n, 10, epochMs, byte('a'+epoch%26)), base, epoch)
}

// appendReplicaT appends one request of batches of n records each, from
// the log end, with the given epochs.
func appendReplicaT(t testing.TB, l *Log, n int, epochs ...int32) {
	t.Helper()
	var req []byte
	off := l.EndOffset()
	for _, e := range epochs {
		req = append(req, replicaBatch(off, n, e)...)
		off += int64(n)
	}
	if _, err := l.AppendReplica(req); err != nil {
		t.Fatalf("AppendReplica %v at %d: %v", epochs, l.EndOffset(), err)
	}
}

// epochLog builds [0, 40): epoch 2 at 0 and 5, epoch 3 at 10, 15 and 20,
// epoch 6 at 25, 30 and 35 (batches of 5 records).
func epochLog(t testing.TB, fs afero.Fs) *Log {
	t.Helper()
	l := openT(t, fs, DefaultConfig(), newMock())
	appendReplicaT(t, l, 5, 2, 2, 3)
	appendReplicaT(t, l, 5, 3, 3, 6, 6, 6)
	return l
}

func checkEpochs(t testing.TB, l *Log, want ...EpochEntry) {
	t.Helper()
	if got := l.Epochs(); !slices.Equal(got, want) {
		t.Fatalf("epochs %v, want %v", got, want)
	}
}

// checkEpochFile checks that the checkpoint holds exactly the cache.
func checkEpochFile(t testing.TB, fs afero.Fs, l *Log) {
	t.Helper()
	b, err := afero.ReadFile(fs, epochPath)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if got, want := fittedCheckpoint(t, b, l.StartOffset()), encodeEpochs(l.Epochs()); string(got) != string(want) {
		t.Fatalf("checkpoint %q (fitted to the log start: %q), cache %q", b, got, want)
	}
}

// fittedCheckpoint is the checkpoint b as Open reads it for a log starting
// at start: retention and DeleteBefore trim the first entries in memory
// only, and leave the file's to Open.
func fittedCheckpoint(t fataler, b []byte, start int64) []byte {
	t.Helper()
	entries, err := decodeEpochs(b)
	if err != nil {
		t.Fatalf("checkpoint %q: %v", b, err)
	}
	entries, _ = epochsTruncatedStart(entries, start)
	return encodeEpochs(entries)
}

// fataler is what testing.TB and *rapid.T share.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// scannedEpochs is the reference: the cache as the batches stored from the
// log start say it must be (each epoch starts at its first batch; the
// first entry is moved up to the log start), plus an entry for an epoch
// begun at the end with no batch yet.
func scannedEpochs(t fataler, l *Log, atEnd *EpochEntry) []EpochEntry {
	t.Helper()
	var want []EpochEntry
	err := l.Batches(0, func(base int64, raw []byte) error {
		h, err := parseBatchHeader(raw)
		if err == nil && (len(want) == 0 || want[len(want)-1].Epoch != h.leaderEpoch) {
			want = append(want, EpochEntry{h.leaderEpoch, base})
		}
		return err
	})
	if err != nil {
		t.Fatalf("Batches: %v", err)
	}
	if len(want) > 0 && want[0].StartOffset < l.StartOffset() {
		want[0].StartOffset = l.StartOffset()
	}
	if atEnd != nil && (len(want) == 0 || want[len(want)-1].Epoch < atEnd.Epoch) {
		want = append(want, *atEnd)
	}
	if len(want) == 0 {
		return nil
	}
	return want
}

func TestLeaderAppendsRecordEpochs(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, DefaultConfig(), newMock())
	if _, ok := l.LatestEpoch(); ok {
		t.Fatal("a new log has a latest epoch")
	}
	if _, err := fs.Stat(epochPath); err == nil {
		t.Fatal("a new log wrote an empty checkpoint")
	}
	for _, a := range []struct {
		n     int
		epoch int32
	}{{3, 1}, {2, 1}, {1, 3}, {1, 3}, {2, 4}} {
		if _, err := l.Append(simpleBatch(a.n, 10, epochMs, 'x'), a.epoch); err != nil {
			t.Fatalf("Append epoch %d: %v", a.epoch, err)
		}
	}
	checkEpochs(t, l, EpochEntry{1, 0}, EpochEntry{3, 5}, EpochEntry{4, 7})
	checkEpochFile(t, fs, l)
	if e, ok := l.LatestEpoch(); !ok || e != 4 {
		t.Fatalf("latest epoch %d %v", e, ok)
	}
	for epoch, want := range map[int32]int64{1: 0, 3: 5, 4: 7, 2: -1, 5: -1} {
		if got, ok := l.EpochStartOffset(epoch); got != want || ok != (want >= 0) {
			t.Errorf("EpochStartOffset(%d) = %d %v, want %d", epoch, got, ok, want)
		}
	}
	// Each stored batch carries the epoch it was appended in.
	epochs := map[int64]int32{}
	for base, raw := range readAllT(t, l, 0) {
		h, _ := parseBatchHeader(raw)
		epochs[base] = h.leaderEpoch
	}
	if want := map[int64]int32{0: 1, 3: 1, 5: 3, 6: 3, 7: 4}; fmt.Sprint(epochs) != fmt.Sprint(want) {
		t.Fatalf("stored epochs %v, want %v", epochs, want)
	}
}

func TestStaleEpochRefused(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, DefaultConfig(), newMock())
	appendT(t, l, simpleBatch(2, 10, epochMs, 'a')) // epoch 7
	size, before := l.Size(), l.Epochs()
	stale := [][]byte{
		nil, // leader path: Append below
		replicaBatch(2, 1, 6),
		append(replicaBatch(2, 1, 7), replicaBatch(3, 1, 6)...), // decreasing inside one request
		replicaBatch(2, 1, -1),
	}
	if _, err := l.Append(simpleBatch(1, 10, epochMs, 'b'), 6); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("Append in epoch 6 after 7: %v, want ErrStaleEpoch", err)
	}
	if _, err := l.Append(simpleBatch(1, 10, epochMs, 'b'), -1); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("Append in epoch -1: %v, want ErrStaleEpoch", err)
	}
	for i, req := range stale[1:] {
		if _, err := l.AppendReplica(req); !errors.Is(err, ErrStaleEpoch) {
			t.Fatalf("stale replica request %d: %v, want ErrStaleEpoch", i, err)
		}
	}
	if err := l.AssignEpoch(5); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("AssignEpoch(5) after 7: %v", err)
	}
	if l.EndOffset() != 2 || l.Size() != size || !slices.Equal(l.Epochs(), before) {
		t.Fatalf("refused appends changed the log: end %d size %d epochs %v", l.EndOffset(), l.Size(), l.Epochs())
	}
	// Not sticky: the current epoch and later ones still append.
	appendT(t, l, simpleBatch(1, 10, epochMs, 'c'))
	if _, err := l.Append(simpleBatch(1, 10, epochMs, 'd'), 8); err != nil {
		t.Fatal(err)
	}
	checkEpochs(t, l, EpochEntry{7, 0}, EpochEntry{8, 3})
}

// TestReplicaReplacesUnwrittenEpoch: a broker that began epoch 7 as leader
// and wrote nothing in it follows a new leader whose log goes on in epoch
// 6 from there; the new leader's stamps win. Over batches of a higher
// epoch a lower one is still refused.
func TestReplicaReplacesUnwrittenEpoch(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := epochLog(t, fs) // 2@0 3@10 6@25, end 40
	if err := l.AssignEpoch(7); err != nil {
		t.Fatal(err)
	}
	appendReplicaT(t, l, 5, 6)
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10}, EpochEntry{6, 25})
	checkEpochFile(t, fs, l)
	if err := l.AssignEpoch(9); err != nil {
		t.Fatal(err)
	}
	appendReplicaT(t, l, 5, 8)
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10}, EpochEntry{6, 25}, EpochEntry{8, 45})
	if _, err := l.AppendReplica(replicaBatch(50, 1, 7)); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("epoch 7 after batches of 8: %v, want ErrStaleEpoch", err)
	}
	if err := l.AssignEpoch(9); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendReplica(replicaBatch(50, 1, 7)); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("epoch 7 after batches of 8 and an unwritten 9: %v, want ErrStaleEpoch", err)
	}
	if _, err := l.Append(simpleBatch(1, 10, epochMs, 'l'), 8); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("leader append in 8 after AssignEpoch(9): %v, want ErrStaleEpoch", err)
	}
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10}, EpochEntry{6, 25}, EpochEntry{8, 45}, EpochEntry{9, 50})
}

func TestReplicaAppendsRecordBatchEpochs(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, DefaultConfig(), newMock())
	appendReplicaT(t, l, 5, 2, 2, 3, 5)
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10}, EpochEntry{5, 15})
	appendReplicaT(t, l, 1, 5, 5)
	appendReplicaT(t, l, 2, 7, 9, 9, 10)
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10}, EpochEntry{5, 15},
		EpochEntry{7, 22}, EpochEntry{9, 24}, EpochEntry{10, 28})
	checkEpochFile(t, fs, l)
	// Stored unchanged: the leader's stamps are what Read returns.
	got := readAllT(t, l, 0)
	if h, _ := parseBatchHeader(got[24]); h.leaderEpoch != 9 {
		t.Fatalf("batch at 24 has epoch %d", h.leaderEpoch)
	}
}

// TestEndOffsetForEpoch follows Kafka's LeaderEpochFileCache.endOffsetFor
// (OffsetForLeaderEpoch v2+, KIP-279).
func TestEndOffsetForEpoch(t *testing.T) {
	l := epochLog(t, afero.NewMemMapFs()) // 2@0 3@10 6@25, end 40
	type want struct {
		epoch int32
		end   int64
	}
	check := func(cases map[int32]want) {
		t.Helper()
		for asked, w := range cases {
			if e, end := l.EndOffsetForEpoch(asked); e != w.epoch || end != w.end {
				t.Errorf("EndOffsetForEpoch(%d) = (%d, %d), want (%d, %d)", asked, e, end, w.epoch, w.end)
			}
		}
	}
	check(map[int32]want{
		6:   {6, 40},  // the latest: the log end
		3:   {3, 25},  // a middle epoch: where the next one starts
		2:   {2, 10},  // the first
		4:   {3, 25},  // a gap: the largest epoch below, and its end
		5:   {3, 25},  //
		1:   {1, 0},   // below every epoch: the first entry's start
		0:   {0, 0},   //
		7:   {-1, -1}, // above the latest
		100: {-1, -1}, //
		-1:  {-1, -1}, // UNDEFINED_EPOCH
		-7:  {-1, -1}, //
	})
	// A new leader's epoch, begun at the end with nothing written yet.
	if err := l.AssignEpoch(8); err != nil {
		t.Fatal(err)
	}
	check(map[int32]want{8: {8, 40}, 7: {6, 40}, 6: {6, 40}, 3: {3, 25}, 9: {-1, -1}})
	if err := l.AssignEpoch(8); err != nil { // the same epoch again: nothing
		t.Fatal(err)
	}
	if err := l.AssignEpoch(9); err != nil { // replaces 8, which wrote nothing
		t.Fatal(err)
	}
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10}, EpochEntry{6, 25}, EpochEntry{9, 40})
	// After retention the first entry starts at the log start.
	if err := l.DeleteBefore(12); err != nil {
		t.Fatal(err)
	}
	check(map[int32]want{2: {2, 12}, 1: {1, 12}, 3: {3, 25}, 9: {9, 40}})

	empty := openT(t, afero.NewMemMapFs(), DefaultConfig(), newMock())
	for _, asked := range []int32{-1, 0, 5} {
		if e, end := empty.EndOffsetForEpoch(asked); e != -1 || end != -1 {
			t.Errorf("empty log: EndOffsetForEpoch(%d) = (%d, %d)", asked, e, end)
		}
	}
}

func TestTruncateToDropsEpochs(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := epochLog(t, fs)
	if err := l.TruncateTo(30); err != nil {
		t.Fatal(err)
	}
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10}, EpochEntry{6, 25})
	if err := l.TruncateTo(25); err != nil {
		t.Fatal(err)
	}
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10})
	checkEpochFile(t, fs, l)
	if e, end := l.EndOffsetForEpoch(3); e != 3 || end != 25 {
		t.Fatalf("after truncation epoch 3 ends at (%d, %d), want (3, 25)", e, end)
	}
	// A follower may then take a lower epoch than the one it cut.
	appendReplicaT(t, l, 5, 4)
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10}, EpochEntry{4, 25})
	if err := l.TruncateTo(10); err != nil {
		t.Fatal(err)
	}
	checkEpochs(t, l, EpochEntry{2, 0})
	l.Close()
	l = openT(t, fs, DefaultConfig(), newMock())
	checkEpochs(t, l, EpochEntry{2, 0})
}

// TestTruncateToDropsUnwrittenEpoch: a broker that began an epoch as
// leader and wrote nothing in it must forget it when it follows another
// leader, even though its log is not cut (Kafka's truncateTo does the same).
func TestTruncateToDropsUnwrittenEpoch(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := epochLog(t, fs)
	if err := l.AssignEpoch(7); err != nil {
		t.Fatal(err)
	}
	checkEpochFile(t, fs, l)
	if err := l.TruncateTo(45); err != nil {
		t.Fatal(err)
	}
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10}, EpochEntry{6, 25})
	checkEpochFile(t, fs, l)
	if l.EndOffset() != 40 {
		t.Fatalf("end %d", l.EndOffset())
	}
}

func TestTruncateBelowStartEmptiesEpochs(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := epochLog(t, fs)
	if err := l.DeleteBefore(20); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(5); err != nil {
		t.Fatal(err)
	}
	checkEpochs(t, l)
	if _, err := fs.Stat(epochPath); err == nil {
		t.Fatal("checkpoint left after the log was emptied")
	}
	l.Close()
	l = openT(t, fs, DefaultConfig(), newMock())
	checkEpochs(t, l)
	if _, err := l.Append(simpleBatch(1, 10, epochMs, 'n'), 1); err != nil {
		t.Fatalf("emptied log refuses epoch 1: %v", err)
	}
	checkEpochs(t, l, EpochEntry{1, 5})
}

func TestDeleteBeforeMovesFirstEpoch(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := epochLog(t, fs)
	for _, c := range []struct {
		offset int64
		want   []EpochEntry
	}{
		{0, []EpochEntry{{2, 0}, {3, 10}, {6, 25}}},
		{7, []EpochEntry{{2, 7}, {3, 10}, {6, 25}}},
		{10, []EpochEntry{{3, 10}, {6, 25}}},
		{12, []EpochEntry{{3, 12}, {6, 25}}},
		{25, []EpochEntry{{6, 25}}},
		{40, []EpochEntry{{6, 40}}}, // an empty log keeps its latest epoch
	} {
		if err := l.DeleteBefore(c.offset); err != nil {
			t.Fatal(err)
		}
		checkEpochs(t, l, c.want...)
		checkEpochFile(t, fs, l)
	}
	if e, end := l.EndOffsetForEpoch(6); e != 6 || end != 40 {
		t.Fatalf("EndOffsetForEpoch(6) on the emptied log: (%d, %d)", e, end)
	}
	appendT(t, l, simpleBatch(1, 10, epochMs, 'z')) // epoch 7 replaces 6 at 40
	checkEpochs(t, l, EpochEntry{7, 40})
	// A restart forgets an epoch that starts at the log end, whatever the
	// reason (Kafka's log loading does the same): here the log is [40, 41).
	if err := l.DeleteBefore(41); err != nil {
		t.Fatal(err)
	}
	checkEpochs(t, l, EpochEntry{7, 41})
	l.Close()
	l = openT(t, fs, DefaultConfig(), newMock())
	checkEpochs(t, l)
	checkEpochFile(t, fs, l)
}

func TestRetentionMovesFirstEpoch(t *testing.T) {
	fs := afero.NewMemMapFs()
	cfg := smallConfig()
	l := openT(t, fs, cfg, newMock())
	for i := range 12 { // about three batches a segment
		l.Append(simpleBatch(2, 500, epochMs, 'r'), int32(i/3))
	}
	if len(l.segs) < 4 {
		t.Fatalf("only %d segments", len(l.segs))
	}
	cfg.RetentionBytes = l.Size() / 2
	l.SetConfig(cfg)
	if n, err := l.EnforceRetention(); err != nil || n == 0 {
		t.Fatalf("EnforceRetention deleted %d: %v", n, err)
	}
	want := scannedEpochs(t, l, nil)
	checkEpochs(t, l, want...)
	if want[0].StartOffset != l.StartOffset() {
		t.Fatalf("first entry %v, log start %d", want[0], l.StartOffset())
	}
	checkEpochFile(t, fs, l)
}

func TestEpochCheckpointSurvivesReopen(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := epochLog(t, fs)
	if b, _ := afero.ReadFile(fs, epochPath); string(b) != "0\n3\n2 0\n3 10\n6 25\n" {
		t.Fatalf("checkpoint %q", b)
	}
	l.Close()
	l = openT(t, fs, DefaultConfig(), newMock())
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10}, EpochEntry{6, 25})
	if _, err := l.Append(simpleBatch(1, 10, epochMs, 's'), 5); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("reopened log took epoch 5 after 6: %v", err)
	}
}

// TestEpochsAfterLostTail: the checkpoint names an epoch whose batches a
// crash lost (the checkpoint is written before them); Open drops it.
func TestEpochsAfterLostTail(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := epochLog(t, fs)
	l.Close()
	// Cut the .log inside the batch at 25, the first of epoch 6, as a torn
	// write leaves it.
	batch := int64(len(replicaBatch(0, 5, 2)))
	f, err := fs.OpenFile("/data/p0/00000000000000000000.log", 2, 0) // O_RDWR
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(5*batch + batch/2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l = openT(t, fs, DefaultConfig(), newMock())
	if l.EndOffset() != 25 {
		t.Fatalf("recovered end %d, want 25", l.EndOffset())
	}
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10})
	checkEpochFile(t, fs, l) // rewritten: a later append must not revive 6@25
	appendReplicaT(t, l, 5, 3, 3)
	l.Close()
	l = openT(t, fs, DefaultConfig(), newMock())
	checkEpochs(t, l, EpochEntry{2, 0}, EpochEntry{3, 10})
}

// TestEpochsAfterCrash: batches of a new epoch appended but not fsynced
// are lost or torn by a crash in many ways; the recovered cache always
// matches the batches that are left.
func TestEpochsAfterCrash(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 8))
		disk := newCrashFS()
		l := openT(t, disk, smallConfig(), newMock())
		appendReplicaT(t, l, 3, 1, 1, 2)
		if err := l.Sync(l.EndOffset()); err != nil {
			t.Fatal(err)
		}
		for e := int32(3); e < 6; e++ {
			l.Append(simpleBatch(1+rng.IntN(3), 10+rng.IntN(200), epochMs, 'c'), e)
		}
		disk.Crash(rng)
		l = openT(t, disk, smallConfig(), newMock())
		checkEpochs(t, l, scannedEpochs(t, l, nil)...)
		checkEpochFile(t, disk, l)
		if l.EndOffset() < 9 {
			t.Fatalf("seed %d: synced batches lost: end %d", seed, l.EndOffset())
		}
		l.Close()
	}
}

func TestEpochsRebuiltByScan(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	for i := range 16 {
		l.Append(simpleBatch(2, 400, epochMs, 'b'), int32(i/3*2))
	}
	if err := l.DeleteBefore(7); err != nil {
		t.Fatal(err)
	}
	want := l.Epochs()
	if len(l.segs) < 3 || len(want) < 4 {
		t.Fatalf("%d segments, epochs %v", len(l.segs), want)
	}
	l.Close()
	for name, content := range map[string]string{
		"missing":   "",
		"garbage":   "garbage",
		"empty":     "-",
		"count":     "0\n2\n0 0\n",
		"version":   "1\n0\n",
		"order":     "0\n2\n4 10\n2 20\n",
		"torn":      "0\n2\n0 0\n2 1",
		"negative":  "0\n1\n-1 0\n",
		"two space": "0\n1\n0  0\n",
	} {
		switch content {
		case "":
			fs.Remove(epochPath)
		case "-":
			afero.WriteFile(fs, epochPath, nil, 0o644)
		default:
			afero.WriteFile(fs, epochPath, []byte(content), 0o644)
		}
		l = openT(t, fs, smallConfig(), newMock())
		if got := l.Epochs(); !slices.Equal(got, want) {
			t.Fatalf("%s checkpoint: rebuilt %v, want %v", name, got, want)
		}
		checkEpochFile(t, fs, l)
		l.Close()
	}
}

func TestDecodeEpochs(t *testing.T) {
	good := map[string][]EpochEntry{
		"0\n0\n":               {},
		"0\n1\n5 0\n":          {{5, 0}},
		"0\n2\n0 3\n7 900\n":   {{0, 3}, {7, 900}},
		"0\n1\n2147483647 1\n": {{2147483647, 1}},
	}
	for in, want := range good {
		got, err := decodeEpochs([]byte(in))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("decode %q = %v %v, want %v", in, got, err, want)
		}
		if enc := encodeEpochs(want); string(enc) != in {
			t.Errorf("encode %v = %q, want %q", want, enc, in)
		}
	}
	for _, in := range []string{
		"", "0", "0\n", "0\n0", "0\n1\n", "0\n0\n\n", "0\n1\n1 2 3\n", "0\n1\n1\n",
		"0\n1\n2147483648 1\n", "0\n2\n1 5\n2 5\n", "0\n2\n1 5\n1 6\n", "0\n1\n1 -5\n",
		"0\n-1\n", "x\n0\n", "0\n1\n 1 2\n",
	} {
		if _, err := decodeEpochs([]byte(in)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decode %q: %v, want ErrCorrupt", in, err)
		}
	}
}

// TestEpochFileBeforeBatches fails each file operation of an append that
// starts a new epoch, a truncation and a deletion, with and without a
// crash: the recovered cache always matches the batches left, so the
// checkpoint never lacks an epoch the log holds.
func TestEpochFileBeforeBatches(t *testing.T) {
	work := func(fs afero.Fs) error {
		l, err := Open(fs, "/data/p0", smallConfig(), newMock())
		if err != nil {
			return err
		}
		defer l.Close()
		for e := int32(1); e <= 4; e++ {
			if _, err := l.Append(simpleBatch(2, 300, epochMs, 'f'), e); err != nil {
				return err
			}
			if _, err := l.Append(simpleBatch(2, 300, epochMs, 'g'), e); err != nil {
				return err
			}
			if err := l.Sync(l.EndOffset()); err != nil {
				return err
			}
		}
		if err := l.TruncateTo(10); err != nil {
			return err
		}
		if err := l.DeleteBefore(3); err != nil {
			return err
		}
		if err := l.AssignEpoch(9); err != nil {
			return err
		}
		_, err = l.Append(simpleBatch(1, 10, epochMs, 'h'), 9)
		return err
	}
	count := &faultFS{Fs: newCrashFS()}
	if err := work(count); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= count.ops; i++ {
		for _, crash := range []bool{false, true} {
			disk := newCrashFS()
			ffs := &faultFS{Fs: disk, failAt: i}
			// A read fault may come back as corrupt data, wrapped as text.
			if err := work(ffs); err != nil && !strings.Contains(err.Error(), errInjected.Error()) {
				t.Fatalf("op %d (%s): %v", i, ffs.failed, err)
			}
			if crash {
				disk.Crash(rand.New(rand.NewPCG(uint64(i), 9)))
			}
			l := openT(t, disk, smallConfig(), newMock())
			if got, want := l.Epochs(), scannedEpochs(t, l, nil); !slices.Equal(got, want) {
				t.Fatalf("op %d (%s), crash %v: epochs %v, batches say %v", i, ffs.failed, crash, got, want)
			}
			l.Close()
		}
	}
}

// TestEpochsConcurrentReads runs the queries against appends that start
// new epochs (run with -race).
func TestEpochsConcurrentReads(t *testing.T) {
	l := openT(t, afero.NewMemMapFs(), DefaultConfig(), newMock())
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				es := l.Epochs()
				for i := 1; i < len(es); i++ {
					if es[i].Epoch <= es[i-1].Epoch || es[i].StartOffset <= es[i-1].StartOffset {
						t.Errorf("epochs out of order: %v", es)
						return
					}
				}
				if e, ok := l.LatestEpoch(); ok {
					if got, end := l.EndOffsetForEpoch(e); got < 0 || end < 0 {
						t.Errorf("EndOffsetForEpoch(latest %d) = (%d, %d)", e, got, end)
						return
					}
				}
				time.Sleep(time.Microsecond) // let the writer in (a read loop, not a wait)
			}
		}()
	}
	for e := range int32(200) {
		if _, err := l.Append(simpleBatch(1, 10, epochMs, 'k'), e/2); err != nil {
			t.Error(err)
			break
		}
	}
	close(stop)
	wg.Wait()
	if e, _ := l.LatestEpoch(); e != 99 {
		t.Fatalf("latest epoch %d", e)
	}
}

// epochMachine drives a log through random appends (leader and replica),
// AssignEpoch, truncations, deletions, retention, restarts and crashes,
// and checks after each step that the cache is what the stored batches
// say and that the checkpoint holds it.
type epochMachine struct {
	disk  *crashFS
	clk   *testClock
	cfg   Config
	l     *Log
	atEnd *EpochEntry // an epoch begun by AssignEpoch with no batch yet
}

func (s *epochMachine) reopen(t *rapid.T) {
	l, err := Open(s.disk, "/data/p0", s.cfg, s.clk)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s.l, s.atEnd = l, nil
}

func (s *epochMachine) epochDraw(t *rapid.T) int32 {
	latest, _ := s.l.LatestEpoch()
	return max(latest, 0) + rapid.Int32Range(0, 2).Draw(t, "epochStep")
}

// appended records that batches went in: an epoch begun at the end now
// has one (a leader's append), or was replaced (a replica's).
func (s *epochMachine) appended() { s.atEnd = nil }

func (s *epochMachine) check(t *rapid.T) {
	got, start := s.l.Epochs(), s.l.StartOffset()
	if start == s.l.EndOffset() {
		// No batch left to say which epoch the log is in: it may keep
		// one entry at the start (the epoch in force there) or none.
		if len(got) > 1 || len(got) == 1 && got[0].StartOffset != start {
			t.Fatalf("empty log at %d has epochs %v", start, got)
		}
	} else if want := scannedEpochs(t, s.l, s.atEnd); !slices.Equal(got, want) {
		t.Fatalf("epochs %v, batches [%d, %d) say %v", got, start, s.l.EndOffset(), want)
	}
	b, err := afero.ReadFile(s.disk, epochPath)
	switch {
	case err != nil && len(got) > 0:
		t.Fatalf("no checkpoint for %v: %v", got, err)
	case err == nil && string(fittedCheckpoint(t, b, start)) != string(encodeEpochs(got)):
		t.Fatalf("checkpoint %q, cache %v", b, got)
	}
}

func TestEpochsMatchBatches(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := &epochMachine{disk: newCrashFS(), clk: newMock()}
		s.cfg = Config{SegmentBytes: 1024, RetentionBytes: -1, RetentionMs: -1, IndexIntervalBytes: 100}
		s.reopen(t)
		t.Repeat(map[string]func(*rapid.T){
			"": s.check,
			"append": func(t *rapid.T) {
				e := s.epochDraw(t)
				b := simpleBatch(rapid.IntRange(1, 4).Draw(t, "n"), rapid.IntRange(0, 150).Draw(t, "size"), epochMs, 'm')
				if _, err := s.l.Append(b, e); err != nil {
					t.Fatalf("Append epoch %d: %v", e, err)
				}
				s.appended()
			},
			"appendReplica": func(t *rapid.T) {
				// From the latest epoch with batches: possibly below one
				// begun at the end with none, which the leader's replaces.
				var req []byte
				off, e := s.l.EndOffset(), int32(0)
				if es := scannedEpochs(t, s.l, nil); len(es) > 0 {
					e = es[len(es)-1].Epoch
				}
				e += rapid.Int32Range(0, 2).Draw(t, "epochStep")
				for i := range rapid.IntRange(1, 3).Draw(t, "batches") {
					if i > 0 {
						e += rapid.Int32Range(0, 1).Draw(t, "epochStep")
					}
					n := rapid.IntRange(1, 3).Draw(t, "n")
					req = append(req, replicaBatch(off, n, e)...)
					off += int64(n)
				}
				if _, err := s.l.AppendReplica(req); err != nil {
					t.Fatalf("AppendReplica: %v", err)
				}
				s.appended()
			},
			"assign": func(t *rapid.T) {
				e := s.epochDraw(t)
				if err := s.l.AssignEpoch(e); err != nil {
					t.Fatalf("AssignEpoch(%d): %v", e, err)
				}
				if latest := scannedEpochs(t, s.l, nil); len(latest) == 0 || latest[len(latest)-1].Epoch < e {
					s.atEnd = &EpochEntry{e, s.l.EndOffset()}
				}
			},
			"truncate": func(t *rapid.T) {
				var bounds []int64
				s.l.Batches(0, func(base int64, _ []byte) error { bounds = append(bounds, base); return nil })
				bounds = append(bounds, s.l.EndOffset(), s.l.EndOffset()+3, max(s.l.StartOffset()-1, 0))
				off := rapid.SampledFrom(bounds).Draw(t, "truncateTo")
				if err := s.l.TruncateTo(off); err != nil {
					t.Fatalf("TruncateTo(%d): %v", off, err)
				}
				s.atEnd = nil
			},
			"deleteBefore": func(t *rapid.T) {
				off := rapid.Int64Range(s.l.StartOffset(), s.l.EndOffset()).Draw(t, "deleteBefore")
				if err := s.l.DeleteBefore(off); err != nil {
					t.Fatalf("DeleteBefore(%d): %v", off, err)
				}
			},
			"retention": func(t *rapid.T) {
				cfg := s.cfg
				cfg.RetentionBytes = rapid.Int64Range(100, 3000).Draw(t, "retentionBytes")
				s.l.SetConfig(cfg)
				if _, err := s.l.EnforceRetention(); err != nil {
					t.Fatalf("EnforceRetention: %v", err)
				}
				s.l.SetConfig(s.cfg)
			},
			"sync": func(t *rapid.T) {
				if err := s.l.Sync(s.l.EndOffset()); err != nil {
					t.Fatal(err)
				}
			},
			"reopen": func(t *rapid.T) {
				if err := s.l.Close(); err != nil {
					t.Fatal(err)
				}
				s.reopen(t)
			},
			"crash": func(t *rapid.T) {
				s.disk.Crash(rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 0)))
				s.reopen(t)
			},
		})
	})
}
