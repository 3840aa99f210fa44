package wire

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// withDeleteHorizon rewrites an uncompressed batch as a first cleaning
// does (KIP-534): the horizon in the base timestamp, the delete-horizon
// flag set, each record's timestamp delta moved to the new base.
func withDeleteHorizon(t testing.TB, batch []byte, horizonMs int64) []byte {
	t.Helper()
	h, err := ParseBatchHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), batch[:BatchHeaderLen]...)
	SetDeleteHorizon(out, horizonMs)
	err = EachRecord(batch[BatchHeaderLen:h.Size()], h, func(r RecordView) {
		if out, err = AppendRecordTimestampDelta(out, r, r.TimestampDelta+h.FirstTimestamp-horizonMs); err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(out[offLength:], uint32(len(out)-offLeaderEpoch))
	return recrc(out)
}

// TestDeleteHorizonKeepsRecordTimestamps (KIP-534): a batch given a
// delete horizon reports it (attributes bit 6, base timestamp), and every
// record keeps its key, value, headers and timestamp, read by Records, by
// a Kafka client's decoder (kmsg: FirstTimestamp + delta) and by the
// follower's validation.
func TestDeleteHorizonKeepsRecordTimestamps(t *testing.T) {
	recs := testRecords(5, 20)
	recs[2].Value = nil // a tombstone
	orig := testBatch(t, CodecNone, recs)
	oh, _ := ParseBatchHeader(orig)
	if _, ok := oh.DeleteHorizonMs(); ok {
		t.Fatal("a fresh batch has a delete horizon")
	}
	const horizon = 1_800_000_000_000 // well past every record
	b := withDeleteHorizon(t, orig, horizon)
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := h.DeleteHorizonMs(); !ok || got != horizon || h.Attributes&0x40 == 0 {
		t.Fatalf("delete horizon %d %v, attributes %#x", got, ok, h.Attributes)
	}
	if h.MaxTimestamp != oh.MaxTimestamp || h.ProducerID != oh.ProducerID || h.BaseSequence != oh.BaseSequence {
		t.Fatal("header fields other than the base timestamp changed")
	}
	if err := CheckCRC(b); err != nil {
		t.Fatal(err)
	}
	if _, err := ValidateBatches(b, ValidateOptions{AllowControl: true, Compacted: true}); err != nil {
		t.Fatalf("a follower refuses the batch: %v", err)
	}
	got, err := Records(b)
	if err != nil {
		t.Fatal(err)
	}
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	rest := kb.Records
	for i, r := range got {
		want := recs[i]
		if h.FirstTimestamp+r.TimestampDelta != oh.FirstTimestamp+want.TimestampDelta {
			t.Fatalf("record %d: timestamp %d, want %d", i, h.FirstTimestamp+r.TimestampDelta, oh.FirstTimestamp+want.TimestampDelta)
		}
		if !bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value) || (r.Value == nil) != (want.Value == nil) || len(r.Headers) != len(want.Headers) {
			t.Fatalf("record %d: %+v, want %+v", i, r, want)
		}
		var kr kmsg.Record
		n, _ := binary.Varint(rest)
		size := int(n) + varintLen(int32(n))
		if err := kr.ReadFrom(rest[:size]); err != nil {
			t.Fatalf("kmsg record %d: %v", i, err)
		}
		rest = rest[size:]
		if kb.FirstTimestamp+kr.TimestampDelta64 != oh.FirstTimestamp+want.TimestampDelta {
			t.Fatalf("kmsg record %d: timestamp %d", i, kb.FirstTimestamp+kr.TimestampDelta64)
		}
	}
}

// TestEachRecordMatchesRecords: EachRecord sees what Records decodes, in
// compacted batches too (offset gaps), and refuses what Records refuses.
func TestEachRecordMatchesRecords(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 6).Draw(t, "records")
		recs := make([]Record, n)
		delta := int32(0)
		for i := range recs {
			delta += int32(rapid.IntRange(1, 3).Draw(t, "gap"))
			recs[i] = Record{
				OffsetDelta:    delta,
				TimestampDelta: rapid.Int64Range(-1000, 1000).Draw(t, "ts"),
				Key:            rapid.SliceOfN(rapid.Byte(), 0, 20).Draw(t, "key"),
			}
			if rapid.Bool().Draw(t, "value") {
				recs[i].Value = rapid.SliceOfN(rapid.Byte(), 0, 200).Draw(t, "v")
			}
		}
		b, err := AppendBatch(nil, Batch{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		if cut := rapid.IntRange(0, 3).Draw(t, "cut"); cut > 0 && len(b) > BatchHeaderLen {
			b = b[:len(b)-cut]
			binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-offLeaderEpoch))
		}
		h, _ := ParseBatchHeader(b)
		want, werr := Records(b)
		var got []RecordView
		gerr := EachRecord(b[BatchHeaderLen:], h, func(r RecordView) { got = append(got, r) })
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("Records: %v, EachRecord: %v", werr, gerr)
		}
		if werr != nil {
			return
		}
		for i, r := range got {
			w := want[i]
			if r.OffsetDelta != w.OffsetDelta || r.TimestampDelta != w.TimestampDelta || !bytes.Equal(r.Key, w.Key) || !bytes.Equal(r.Value, w.Value) || (r.Value == nil) != (w.Value == nil) {
				t.Fatalf("record %d: %+v, want %+v", i, r, w)
			}
			// Re-encoding with the same delta gives the same bytes.
			if again, err := AppendRecordTimestampDelta(nil, r, r.TimestampDelta); err != nil || !bytes.Equal(again, r.Raw) {
				t.Fatalf("record %d re-encodes differently: %v", i, err)
			}
		}
	})
}

// FuzzEachRecord: any bytes as a batch's records, under any header,
// give records or an error, never a panic, and each record re-encodes.
func FuzzEachRecord(f *testing.F) {
	for _, b := range seedBatches(f) {
		if h, err := ParseBatchHeader(b); err == nil && h.Codec() == CodecNone && h.Size() <= len(b) {
			f.Add(b[BatchHeaderLen:h.Size()], h.NumRecords, h.LastOffsetDelta)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, n, last int32) {
		h := BatchHeader{NumRecords: n, LastOffsetDelta: last}
		_ = EachRecord(data, h, func(r RecordView) {
			if _, err := AppendRecordTimestampDelta(nil, r, r.TimestampDelta-12345); err != nil {
				t.Fatalf("a record EachRecord found does not re-encode: %v", err)
			}
		})
	})
}
