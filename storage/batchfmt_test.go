package storage

import (
	"github.com/jocko/jocko/wire"

	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/spf13/afero"
)

// FuzzRecoverSegment feeds arbitrary bytes as the active segment (and its
// index) to Open: recovery must never fail or panic on a damaged tail, and
// must serve only whole, CRC-valid, contiguous batches afterwards.
func FuzzRecoverSegment(f *testing.F) {
	var valid []byte
	for i := range 3 {
		valid = append(valid, withOffset(simpleBatch(2, 20, epochMs, 'x'), int64(2*i), 0)...)
	}
	f.Add(valid, []byte{})
	f.Add(valid[:len(valid)-7], []byte{0, 0, 0, 2, 0, 0, 0, 100})
	f.Add(append(valid, 0, 0, 0), []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, log, index []byte) {
		fs := afero.NewMemMapFs()
		afero.WriteFile(fs, "/data/p0/00000000000000000000.log", log, 0o644)
		afero.WriteFile(fs, "/data/p0/00000000000000000000.index", index, 0o644)
		l, err := Open(fs, "/data/p0", smallConfig(), newMock())
		if err != nil {
			t.Fatalf("Open on a damaged segment: %v", err)
		}
		defer l.Close()
		next := int64(0)
		err = l.Batches(0, func(base int64, raw []byte) error {
			if base != next {
				t.Fatalf("batch at %d, expected %d", base, next)
			}
			if err := checkBatchCRC(raw); err != nil {
				t.Fatalf("served a batch failing its CRC: %v", err)
			}
			h, _ := parseBatchHeader(raw)
			next = h.nextOffset()
			return nil
		})
		if err != nil || next != l.EndOffset() {
			t.Fatalf("Batches reached %d of end %d: %v", next, l.EndOffset(), err)
		}
		if _, err := l.Append(simpleBatch(1, 1, epochMs, 'y'), 0); err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
	})
}

func TestParseBatchHeader(t *testing.T) {
	b := withOffset(buildBatch(epochMs, []testRecord{{0, []byte("a")}, {7, nil}, {3, nil}}), 42, 5)
	h, err := parseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.baseOffset != 42 || h.leaderEpoch != 5 || h.magic != 2 || h.lastOffsetDelta != 2 ||
		h.firstTimestamp != epochMs || h.maxTimestamp != epochMs+7 || h.numRecords != 3 ||
		h.size() != int64(len(b)) || h.nextOffset() != 45 {
		t.Fatalf("parsed %+v", h)
	}
	if err := checkBatchCRC(b); err != nil {
		t.Fatalf("CRC of a good batch: %v", err)
	}
	for name, mutate := range map[string]func([]byte){
		"magic":  func(b []byte) { b[16] = 1 },
		"length": func(b []byte) { b[8], b[9], b[10], b[11] = 0, 0, 0, 10 },
		"delta":  func(b []byte) { b[23] = 0x80 },
	} {
		c := bytes.Clone(b)
		mutate(c)
		if _, err := parseBatchHeader(c); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: parse gave %v, want ErrCorrupt", name, err)
		}
	}
	c := bytes.Clone(b)
	c[len(c)-1] ^= 1
	if err := checkBatchCRC(c); !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped bit passed the CRC: %v", err)
	}
	if _, err := parseBatchHeader(b[:60]); err == nil {
		t.Error("60-byte header parsed")
	}
}

func TestWalkRecordTimes(t *testing.T) {
	b := buildBatch(epochMs, []testRecord{{0, nil}, {9, []byte("xyz")}, {4, nil}})
	var got []int64
	walk := func(b []byte) {
		got = got[:0]
		if err := walkRecordTimes(b, func(d int32, ts int64) bool {
			got = append(got, int64(d), ts-epochMs)
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	walk(b)
	if want := []int64{0, 0, 1, 9, 2, 4}; !slices.Equal(got, want) {
		t.Fatalf("create time: %v, want %v", got, want)
	}
	b[22] |= attrLogAppendTime // outside the CRC check here: the walker does not check it
	walk(b)
	if want := []int64{0, 9, 1, 9, 2, 9}; !slices.Equal(got, want) {
		t.Fatalf("log append time: %v, want %v", got, want)
	}
	// A compressed batch is decoded record by record.
	gz, err := wire.AppendBatch(nil, wire.Batch{
		FirstTimestamp: epochMs, MaxTimestamp: epochMs + 9, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		Codec:   wire.CodecGzip,
		Records: []wire.Record{{TimestampDelta: 0}, {TimestampDelta: 9, OffsetDelta: 1}, {TimestampDelta: 4, OffsetDelta: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	walk(gz)
	if want := []int64{0, 0, 1, 9, 2, 4}; !slices.Equal(got, want) {
		t.Fatalf("compressed: %v, want %v", got, want)
	}
}

// FuzzWalkRecordTimes: the record walker must reject, not panic on, any
// bytes (it runs on stored batches that passed their CRC, which a buggy
// producer could still fill with nonsense).
func FuzzWalkRecordTimes(f *testing.F) {
	f.Add(buildBatch(epochMs, []testRecord{{0, nil}, {9, []byte("xyz")}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = walkRecordTimes(b, func(int32, int64) bool { return true })
	})
}
