package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/spf13/afero"
	"pgregory.net/rapid"

	"github.com/jocko/jocko/wire"
)

// kv is one keyed record to append; a nil key or value is null.
type kv struct{ key, value []byte }

// keyedBatch encodes records as one v2 batch with codec, no producer.
func keyedBatch(t interface{ Fatal(...any) }, ts int64, codec wire.Codec, recs []kv) []byte {
	rs := make([]wire.Record, len(recs))
	for i, r := range recs {
		rs[i] = wire.Record{TimestampDelta: int64(i), Key: r.key, Value: r.value}
	}
	b, err := wire.AppendBatch(nil, wire.Batch{
		FirstTimestamp: ts, MaxTimestamp: ts + int64(len(recs)) - 1,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Codec: codec, Records: rs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cRec is one record as stored: where it is and its encoding.
type cRec struct {
	off  int64
	key  []byte
	null bool
	// horizon is the delete horizon of its batch, -1 for none (for a
	// tombstone, the model's: when it may go).
	horizon int64
	// raw is the record's bytes, length included, with its timestamp
	// delta made absolute (from 0, not from its batch's base timestamp,
	// which a delete horizon replaces).
	raw []byte
}

// canonRecord is r's encoding with its timestamp delta made absolute.
func canonRecord(t interface{ Fatalf(string, ...any) }, r wire.RecordView, firstTs int64) []byte {
	b, err := wire.AppendRecordTimestampDelta(nil, r, firstTs+r.TimestampDelta)
	if err != nil {
		t.Fatalf("re-encoding a record: %v", err)
	}
	return b
}

// batchRecords reads the records of a batch as cRecs.
func batchRecords(t interface{ Fatalf(string, ...any) }, raw []byte, fn func(cRec)) error {
	h, err := wireHeader(raw)
	if err != nil {
		return err
	}
	hz, ok := h.DeleteHorizonMs()
	if !ok {
		hz = -1
	}
	return eachRecord(raw, h, func(r wire.RecordView) {
		fn(cRec{h.BaseOffset + int64(r.OffsetDelta), bytes.Clone(r.Key), r.Value == nil, hz, canonRecord(t, r, h.FirstTimestamp)})
	})
}

// logRecords reads every record from the log start, checking that batches
// follow each other without holes up to the log end.
func logRecords(t interface{ Fatalf(string, ...any) }, l *Log) ([]cRec, map[int64][]byte) {
	var out []cRec
	batches := map[int64][]byte{}
	next := int64(-1)
	err := l.Batches(l.StartOffset(), func(base int64, raw []byte) error {
		h, err := parseBatchHeader(raw)
		if err != nil {
			return err
		}
		if next >= 0 && base != next {
			return fmt.Errorf("batch at %d follows one ending at %d", base, next)
		}
		next = h.nextOffset()
		batches[base] = bytes.Clone(raw)
		return batchRecords(t, raw, func(r cRec) {
			if r.off >= l.StartOffset() {
				out = append(out, r)
			}
		})
	})
	if err != nil {
		t.Fatalf("reading the log: %v", err)
	}
	if next >= 0 && next != l.EndOffset() {
		t.Fatalf("batches end at %d, log end %d", next, l.EndOffset())
	}
	return out, batches
}

// checkReads reads at every offset of the log, so that the index of each
// segment is used, and checks each read starts with the batch holding it.
func checkReads(t interface{ Fatalf(string, ...any) }, l *Log) {
	for off := l.StartOffset(); off < l.EndOffset(); off++ {
		got, err := l.Read(off, 0, 1<<62)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		h, err := parseBatchHeader(got)
		if err != nil || h.baseOffset > off || h.nextOffset() <= off {
			t.Fatalf("Read(%d) starts with the batch [%d, %d): %v", off, h.baseOffset, h.nextOffset(), err)
		}
	}
}

// compactModel applies what a Compact at nowMs promises to recs: below
// cleanedTo, keep a keyed record only if it is the latest of its key
// there, and a tombstone only until a Compact at or past its delete
// horizon, which the first Compact that keeps it sets to nowMs +
// retentionMs (KIP-534).
func compactModel(recs []cRec, cleanedTo, nowMs, retentionMs int64) []cRec {
	latest := map[string]int64{}
	for _, r := range recs {
		if r.off < cleanedTo && r.key != nil {
			latest[string(r.key)] = r.off
		}
	}
	var out []cRec
	for _, r := range recs {
		if r.off < cleanedTo {
			if r.key == nil || latest[string(r.key)] != r.off || r.null && r.horizon >= 0 && nowMs >= r.horizon {
				continue
			}
			if r.null && r.horizon < 0 {
				r.horizon = nowMs + retentionMs
			}
		}
		out = append(out, r)
	}
	return out
}

// sameRecords compares records by offset and bytes (timestamps made
// absolute), and tombstones by delete horizon too.
func sameRecords(t interface{ Fatalf(string, ...any) }, what string, got, want []cRec) {
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d\ngot  %v\nwant %v", what, len(got), len(want), offsets(got), offsets(want))
	}
	for i := range got {
		if got[i].off != want[i].off || !bytes.Equal(got[i].raw, want[i].raw) {
			t.Fatalf("%s: record %d at offset %d, want offset %d (or its bytes differ)", what, i, got[i].off, want[i].off)
		}
		if want[i].null && got[i].horizon != want[i].horizon {
			t.Fatalf("%s: tombstone at %d: delete horizon %d, want %d", what, got[i].off, got[i].horizon, want[i].horizon)
		}
	}
}

func offsets(recs []cRec) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.off
	}
	return out
}

// compactMachine drives a log with keyed appends and compactions against
// the list of records it must hold.
type compactMachine struct {
	disk *crashFS
	clk  *testClock
	l    *Log
	cfg  Config
	recs []cRec // the model
}

func (s *compactMachine) reopen(t *rapid.T) {
	l, err := Open(s.disk, "/data/p0", s.cfg, s.clk)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.l = l
}

func (s *compactMachine) append(t *rapid.T) {
	n := rapid.IntRange(1, 5).Draw(t, "records")
	recs := make([]kv, n)
	for i := range recs {
		k := rapid.IntRange(-1, 7).Draw(t, "key")
		if k >= 0 {
			recs[i].key = fmt.Appendf(nil, "k%d", k)
		}
		if rapid.IntRange(0, 4).Draw(t, "tombstone") > 0 {
			recs[i].value = bytes.Repeat([]byte{byte(k)}, rapid.IntRange(0, 80).Draw(t, "size"))
		}
	}
	codec := rapid.SampledFrom([]wire.Codec{wire.CodecNone, wire.CodecNone, wire.CodecSnappy, wire.CodecZstd}).Draw(t, "codec")
	b := keyedBatch(t, s.clk.Now().UnixMilli(), codec, recs)
	info, err := s.l.Append(b, 1)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	base := int64(binary.BigEndian.Uint64(b)) // Append may have set it
	err = batchRecords(t, b, func(r cRec) {
		r.off += info.FirstOffset - base
		s.recs = append(s.recs, r)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *compactMachine) compact(t *rapid.T) {
	cc := CompactConfig{
		DeleteRetentionMs:  rapid.Int64Range(0, 3000).Draw(t, "deleteRetentionMs"),
		MinCompactionLagMs: rapid.SampledFrom([]int64{0, 0, 500, 2000}).Draw(t, "minLagMs"),
		MinCleanableRatio:  rapid.SampledFrom([]float64{0, 0.5, 0.9}).Draw(t, "ratio"),
	}
	end, nowMs := s.l.EndOffset(), s.clk.Now().UnixMilli()
	st, err := s.l.Compact(cc)
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if s.l.EndOffset() != end {
		t.Fatalf("Compact moved the log end from %d to %d", end, s.l.EndOffset())
	}
	if st.CleanedTo < 0 {
		return
	}
	s.l.mu.RLock()
	active := s.l.active().base
	boundary := false
	for _, sg := range s.l.segs {
		boundary = boundary || sg.base == st.CleanedTo
		if sg.base < st.CleanedTo && cc.MinCompactionLagMs > 0 && sg.maxTs > nowMs-cc.MinCompactionLagMs {
			t.Fatalf("segment %d (max ts %d) cleaned within the lag", sg.base, sg.maxTs)
		}
	}
	s.l.mu.RUnlock()
	if !boundary || st.CleanedTo > active || cc.MinCompactionLagMs == 0 && st.CleanedTo != active {
		t.Fatalf("cleaned to %d; active segment at %d, lag %d", st.CleanedTo, active, cc.MinCompactionLagMs)
	}
	s.recs = compactModel(s.recs, st.CleanedTo, nowMs, cc.DeleteRetentionMs)
}

func (s *compactMachine) check(t *rapid.T) {
	got, _ := logRecords(t, s.l)
	sameRecords(t, "log vs model", got, s.recs)
	checkReads(t, s.l)
}

// TestCompactMatchesModel: random keyed appends (tombstones, keyless
// records, compressed batches), rolls, compactions with random settings,
// reads, restarts and crashes, checked after each step against a model
// where compaction keeps, below the cleaned-to offset, only each key's
// latest record and unexpired tombstones, at their original offsets.
func TestCompactMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := &compactMachine{disk: newCrashFS(), clk: newMock()}
		s.cfg = Config{
			SegmentBytes:       rapid.Int64Range(1024, 2500).Draw(t, "segmentBytes"),
			SegmentMs:          1 << 40,
			RetentionBytes:     -1,
			RetentionMs:        -1,
			IndexIntervalBytes: rapid.Int32Range(1, 400).Draw(t, "indexInterval"),
		}
		s.reopen(t)
		t.Repeat(map[string]func(*rapid.T){
			"append":  s.append,
			"compact": s.compact,
			"":        s.check,
			"advance": func(t *rapid.T) {
				s.clk.Add(time.Duration(rapid.IntRange(0, 2000).Draw(t, "advanceMs")) * time.Millisecond)
			},
			"roll": func(t *rapid.T) {
				s.l.mu.Lock()
				err := s.l.roll()
				s.l.mu.Unlock()
				if err != nil {
					t.Fatalf("roll: %v", err)
				}
			},
			"read": func(t *rapid.T) {
				off := rapid.Int64Range(s.l.StartOffset(), s.l.EndOffset()).Draw(t, "offset")
				got, err := s.l.Read(off, rapid.IntRange(0, 3000).Draw(t, "maxBytes"), 1<<62)
				if err != nil {
					t.Fatalf("Read(%d): %v", off, err)
				}
				if len(got) > 0 {
					h, _ := parseBatchHeader(got)
					if h.baseOffset > off || h.nextOffset() <= off {
						t.Fatalf("Read(%d) starts with the batch [%d, %d)", off, h.baseOffset, h.nextOffset())
					}
				}
			},
			"reopen": func(t *rapid.T) {
				if err := s.l.Close(); err != nil {
					t.Fatal(err)
				}
				s.reopen(t)
			},
			"syncCrash": func(t *rapid.T) {
				if err := s.l.Sync(s.l.EndOffset()); err != nil {
					t.Fatal(err)
				}
				s.disk.Crash(newRand(rapid.Uint64().Draw(t, "seed")))
				s.reopen(t)
			},
		})
	})
}

// TestCompactKeepsLatestPerKey is a worked example: three generations of
// ten keys, a tombstone for k0, and the last batch left in the active
// segment.
func TestCompactKeepsLatestPerKey(t *testing.T) {
	clk := newMock()
	cfg := smallConfig()
	cfg.SegmentBytes = 1024
	l := openT(t, afero.NewMemMapFs(), cfg, clk)
	defer l.Close()
	for gen := range 3 {
		for k := range 10 {
			appendT(t, l, keyedBatch(t, clk.Now().UnixMilli(), wire.CodecNone, []kv{{fmt.Appendf(nil, "k%d", k), fmt.Appendf(nil, "v%d-%d", k, gen)}}))
		}
	}
	appendT(t, l, keyedBatch(t, clk.Now().UnixMilli(), wire.CodecNone, []kv{{[]byte("k0"), nil}}))
	l.mu.Lock()
	if err := l.roll(); err != nil {
		t.Fatal(err)
	}
	l.mu.Unlock()
	appendT(t, l, keyedBatch(t, clk.Now().UnixMilli(), wire.CodecLZ4, []kv{{[]byte("k1"), []byte("active")}}))
	before, end := l.Size(), l.EndOffset()
	st, err := l.Compact(CompactConfig{DeleteRetentionMs: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := logRecords(t, l)
	var desc []string
	for _, r := range got {
		desc = append(desc, fmt.Sprintf("%d:%s:%v", r.off, r.key, r.null))
	}
	want := "[21:k1:false 22:k2:false 23:k3:false 24:k4:false 25:k5:false 26:k6:false 27:k7:false 28:k8:false 29:k9:false 30:k0:true 31:k1:false]"
	if fmt.Sprint(desc) != want || l.EndOffset() != end || l.Size() >= before || st.SegmentsRewritten == 0 {
		t.Fatalf("after Compact (%+v): %v, end %d (was %d), size %d (was %d)\nwant %s", st, desc, l.EndOffset(), end, l.Size(), before, want)
	}
	// Past delete.retention.ms the tombstone goes; a clean log is left alone
	// under a high dirty ratio.
	clk.Add(2 * time.Second)
	if st, err := l.Compact(CompactConfig{DeleteRetentionMs: 1000, MinCleanableRatio: 0.5}); err != nil || st.CleanedTo != -1 {
		t.Fatalf("clean log: %+v, %v", st, err)
	}
	if _, err := l.Compact(CompactConfig{DeleteRetentionMs: 1000}); err != nil {
		t.Fatal(err)
	}
	got, _ = logRecords(t, l)
	if len(got) != 10 || got[len(got)-2].off != 29 {
		t.Fatalf("tombstone not removed: %v", offsets(got))
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[int64]V) []int64 {
	ks := make([]int64, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0)) }

// TestCompactKeepsLastBatchOfProducer: a batch emptied by compaction is
// dropped (its offsets covered by an empty batch without producer),
// except the last batch of a producer ID, kept empty with its producer
// fields so its sequence survives (as Kafka does, KAFKA-5443).
func TestCompactKeepsLastBatchOfProducer(t *testing.T) {
	clk := newMock()
	l := openT(t, afero.NewMemMapFs(), smallConfig(), clk)
	defer l.Close()
	for seq := range int32(2) {
		b, err := wire.AppendBatch(nil, wire.Batch{
			FirstTimestamp: epochMs, MaxTimestamp: epochMs, ProducerID: 7, ProducerEpoch: 1, BaseSequence: seq * 2,
			Codec: wire.CodecGzip, Records: []wire.Record{{Key: []byte("k"), Value: []byte("a")}, {Key: []byte("k"), Value: []byte("b")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		appendT(t, l, b)
	}
	appendT(t, l, keyedBatch(t, epochMs, wire.CodecNone, []kv{{[]byte("k"), []byte("last")}}))
	l.mu.Lock()
	if err := l.roll(); err != nil {
		t.Fatal(err)
	}
	l.mu.Unlock()
	if _, err := l.Compact(CompactConfig{}); err != nil {
		t.Fatal(err)
	}
	_, batches := logRecords(t, l)
	var desc []string
	for _, base := range sortedKeys(batches) {
		h, err := wire.ParseBatchHeader(batches[base])
		if err != nil {
			t.Fatal(err)
		}
		desc = append(desc, fmt.Sprintf("[%d,%d] n=%d pid=%d seq=%d codec=%d", base, h.LastOffset(), h.NumRecords, h.ProducerID, h.BaseSequence, h.Codec()))
	}
	want := "[[0,1] n=0 pid=-1 seq=-1 codec=0 [2,3] n=0 pid=7 seq=2 codec=0 [4,4] n=1 pid=-1 seq=-1 codec=0]"
	if fmt.Sprint(desc) != want {
		t.Fatalf("batches after Compact:\n%v\nwant\n%s", desc, want)
	}
}

// TestCompactTombstoneRetentionFromFirstCleaning (KIP-534): a tombstone
// whose timestamp is older than delete.retention.ms is kept for
// delete.retention.ms after the first cleaning that kept it, so that a
// consumer lagging by less than that still sees the delete. That cleaning
// sets the batch's delete horizon (attributes bit 6, the base timestamp),
// which survives a restart; the record keeps its timestamp; the first
// cleaning at the horizon drops the tombstone.
func TestCompactTombstoneRetentionFromFirstCleaning(t *testing.T) {
	const day = 24 * time.Hour
	clk := newMock()
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), clk)
	defer func() { l.Close() }()
	old := clk.Now().Add(-2 * day).UnixMilli() // the producer's timestamp, two days back
	appendT(t, l, keyedBatch(t, old, wire.CodecNone, []kv{{[]byte("k"), []byte("v")}, {[]byte("gone"), []byte("v")}}))
	appendT(t, l, keyedBatch(t, old, wire.CodecSnappy, []kv{{[]byte("other"), []byte("v")}, {[]byte("gone"), nil}}))
	l.mu.Lock()
	if err := l.roll(); err != nil {
		t.Fatal(err)
	}
	l.mu.Unlock()
	cc := CompactConfig{DeleteRetentionMs: day.Milliseconds()}
	firstClean := clk.Now().UnixMilli()
	if _, err := l.Compact(cc); err != nil {
		t.Fatal(err)
	}
	tombstone := func() (cRec, bool) {
		recs, _ := logRecords(t, l)
		for _, r := range recs {
			if string(r.key) == "gone" {
				return r, r.null
			}
		}
		return cRec{}, false
	}
	r, ok := tombstone()
	if !ok {
		t.Fatal("a tombstone two days old was dropped by the first cleaning, with delete.retention.ms of one day")
	}
	if want := firstClean + day.Milliseconds(); r.horizon != want {
		t.Fatalf("delete horizon %d, want the first cleaning's time plus delete.retention.ms, %d", r.horizon, want)
	}
	data, err := l.Read(r.off, 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := wire.Records(data)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := wire.ParseBatchHeader(data)
	if got := h.FirstTimestamp + recs[len(recs)-1].TimestampDelta; got != old+1 {
		t.Fatalf("the tombstone's timestamp reads %d, want %d", got, old+1)
	}
	clk.Add(day - time.Minute)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, fs, smallConfig(), clk)
	if _, err := l.Compact(cc); err != nil {
		t.Fatal(err)
	}
	if _, ok := tombstone(); !ok {
		t.Fatal("the tombstone was dropped before its delete horizon")
	}
	clk.Add(time.Minute)
	if _, err := l.Compact(cc); err != nil {
		t.Fatal(err)
	}
	if _, ok := tombstone(); ok {
		t.Fatal("the tombstone is still there at its delete horizon")
	}
	if got, _ := logRecords(t, l); len(got) != 2 {
		t.Fatalf("%d records left, want k and other", len(got))
	}
}
