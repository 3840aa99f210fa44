package wire

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestParseBatchHeaderFields(t *testing.T) {
	b, err := AppendBatch(nil, Batch{
		BaseOffset: 500, PartitionLeaderEpoch: 7, Attributes: attrTransactional,
		FirstTimestamp: 11, MaxTimestamp: 22, ProducerID: 33, ProducerEpoch: 4,
		BaseSequence: 55, Codec: CodecLZ4, Records: testRecords(3, 10),
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := BatchHeader{
		BaseOffset: 500, Length: int32(len(b) - 12), PartitionLeaderEpoch: 7, Magic: 2,
		CRC: h.CRC, Attributes: attrTransactional | int16(CodecLZ4), LastOffsetDelta: 2,
		FirstTimestamp: 11, MaxTimestamp: 22, ProducerID: 33, ProducerEpoch: 4,
		BaseSequence: 55, NumRecords: 3,
	}
	if h != want {
		t.Fatalf("got %+v\nwant %+v", h, want)
	}
	if h.Codec() != CodecLZ4 || !h.Transactional() || h.Control() || h.LogAppendTime() {
		t.Fatalf("attribute accessors wrong for %#x", h.Attributes)
	}
	if h.LastOffset() != 502 || h.NextOffset() != 503 || h.Size() != len(b) {
		t.Fatalf("LastOffset %d NextOffset %d Size %d", h.LastOffset(), h.NextOffset(), h.Size())
	}
	if err := CheckCRC(b); err != nil {
		t.Fatal(err)
	}
}

func TestParseBatchHeaderErrors(t *testing.T) {
	b := testBatch(t, CodecNone, testRecords(1, 1))
	if _, err := ParseBatchHeader(b[:BatchHeaderLen-1]); !errors.Is(err, ErrShortBatch) {
		t.Fatalf("short: got %v", err)
	}
	for _, length := range []int32{-1, 0, batchLengthMin - 1} {
		binary.BigEndian.PutUint32(b[offLength:], uint32(length))
		if _, err := ParseBatchHeader(b); !errors.Is(err, ErrBatchLength) {
			t.Fatalf("length %d: got %v", length, err)
		}
	}
	binary.BigEndian.PutUint32(b[offLength:], batchLengthMin)
	if _, err := ParseBatchHeader(b); err != nil {
		t.Fatalf("length %d (header only): %v", batchLengthMin, err)
	}
}

// Base offset and leader epoch sit before the CRC'd range (KIP-98 layout),
// so rewriting them must keep the batch valid.
func TestSetOutsideCRC(t *testing.T) {
	b := testBatch(t, CodecNone, testRecords(4, 8))
	SetBaseOffset(b, 1<<40)
	SetPartitionLeaderEpoch(b, 9)
	if err := CheckCRC(b); err != nil {
		t.Fatal(err)
	}
	h, _ := ParseBatchHeader(b)
	if h.BaseOffset != 1<<40 || h.PartitionLeaderEpoch != 9 || h.LastOffset() != 1<<40+3 {
		t.Fatalf("got %+v", h)
	}
}

func TestSetLogAppendTime(t *testing.T) {
	b := testBatch(t, CodecSnappy, testRecords(4, 8))
	SetLogAppendTime(b, 1234)
	if err := CheckCRC(b); err != nil {
		t.Fatalf("CRC not recomputed: %v", err)
	}
	h, _ := ParseBatchHeader(b)
	if !h.LogAppendTime() || h.MaxTimestamp != 1234 || h.Codec() != CodecSnappy {
		t.Fatalf("got %+v", h)
	}
	if _, err := ValidateBatches(b, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCheckCRCDetectsEveryByte(t *testing.T) {
	b := testBatch(t, CodecNone, testRecords(2, 4))
	for i := offAttributes; i < len(b); i++ {
		b[i] ^= 0x40
		if err := CheckCRC(b); !errors.Is(err, ErrBadCRC) {
			t.Fatalf("flip at %d: got %v", i, err)
		}
		b[i] ^= 0x40
	}
	if err := CheckCRC(b[:10]); err == nil {
		t.Fatal("CheckCRC accepted 10 bytes")
	}
}

func TestVarintRoundTrip(t *testing.T) {
	for _, v := range []int32{0, 1, -1, 63, -64, 64, 1 << 20, -1 << 31, 1<<31 - 1} {
		b := appendVarint(nil, v)
		got, n := readVarint(b)
		if got != v || n != len(b) || n != varintLen(v) {
			t.Fatalf("varint %d: got %d, n %d of %d", v, got, n, len(b))
		}
	}
	for _, v := range []int64{0, -1, 1 << 40, -1 << 63, 1<<63 - 1} {
		b := appendVarlong(nil, v)
		got, n := readVarlong(b)
		if got != v || n != len(b) || n != varlongLen(v) {
			t.Fatalf("varlong %d: got %d, n %d of %d", v, got, n, len(b))
		}
	}
	// Six bytes, or five carrying bits past 32, are not a varint.
	for _, b := range [][]byte{{0x80, 0x80, 0x80, 0x80, 0x80, 0}, {0xff, 0xff, 0xff, 0xff, 0x1f}, {0x80}} {
		if _, n := readVarint(b); n > 0 {
			t.Fatalf("readVarint(% x) accepted", b)
		}
	}
}
