package wire

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRoundTripEveryCodec(t *testing.T) {
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			recs := testRecords(40, 100)
			b := testBatch(t, c, recs)
			hs, err := ValidateBatches(b, ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(hs) != 1 || hs[0].NumRecords != 40 || hs[0].LastOffsetDelta != 39 || hs[0].Codec() != c {
				t.Fatalf("headers %+v", hs)
			}
			got, err := Records(b)
			if err != nil {
				t.Fatal(err)
			}
			equalRecords(t, got, recs)
		})
	}
}

// Records must not alias the batch: the broker may reuse the request
// buffer while the records live on.
func TestRecordsDoNotAliasBatch(t *testing.T) {
	b := testBatch(t, CodecNone, testRecords(3, 5))
	got, err := Records(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0
	}
	equalRecords(t, got, testRecords(3, 5))
}

func TestValidateSeveralBatches(t *testing.T) {
	var b []byte
	for _, c := range allCodecs {
		b = append(b, testBatch(t, c, testRecords(5, 20))...)
	}
	hs, err := ValidateBatches(b, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != len(allCodecs) {
		t.Fatalf("%d headers, want %d", len(hs), len(allCodecs))
	}
	b[len(b)-1] ^= 1 // damage the last batch only
	_, err = ValidateBatches(b, ValidateOptions{})
	checkCode(t, err, CodeCorruptMessage, len(allCodecs)-1)
}

// TestValidateKmsgRecordBatch encodes a batch with kmsg's RecordBatch and
// Record codecs, independently of AppendBatch.
func TestValidateKmsgRecordBatch(t *testing.T) {
	var raw []byte
	for i := 0; i < 3; i++ {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: []byte{byte(i)}}
		if i != 1 {
			r.Key = []byte("k")
		}
		r.Headers = []kmsg.Header{{Key: "trace", Value: []byte("abc")}}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // minus the one-byte zero length
		raw = r.AppendTo(raw)
	}
	rb := kmsg.RecordBatch{
		Magic: 2, LastOffsetDelta: 2, FirstTimestamp: 100, MaxTimestamp: 102,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 3, Records: raw,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32.MakeTable(crc32.Castagnoli)))

	if _, err := ValidateBatches(b, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := Records(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Key != nil || string(got[2].Key) != "k" || got[2].Value[0] != 2 ||
		got[2].TimestampDelta != 2 || got[0].Headers[0].Key != "trace" || string(got[0].Headers[0].Value) != "abc" {
		t.Fatalf("got %+v", got)
	}
}

// TestValidateXerialSnappy builds the xerial framing the Java producer
// writes (SnappyOutputStream: header, then [int32 len][block] chunks).
func TestValidateXerialSnappy(t *testing.T) {
	recs := testRecords(30, 300)
	raw, _ := appendRecords(nil, recs, true)
	framed := append([]byte{}, xerialMagic...)
	framed = binary.BigEndian.AppendUint32(framed, 1)
	framed = binary.BigEndian.AppendUint32(framed, 1)
	for rest := raw; len(rest) > 0; {
		n := min(len(rest), 1024) // several chunks
		block := s2.EncodeSnappy(nil, rest[:n])
		framed = binary.BigEndian.AppendUint32(framed, uint32(len(block)))
		framed = append(framed, block...)
		rest = rest[n:]
	}
	b := rebuildBatch(t, testBatch(t, CodecSnappy, recs), framed)
	if _, err := ValidateBatches(b, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := Records(b)
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, recs)
}

// rebuildBatch replaces the records section of batch, fixing Length and CRC.
func rebuildBatch(t *testing.T, batch, body []byte) []byte {
	t.Helper()
	b := append(append([]byte{}, batch[:BatchHeaderLen]...), body...)
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crcTable))
	return b
}

// recrc recomputes the CRC after a test edits CRC'd header fields.
func recrc(b []byte) []byte {
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crcTable))
	return b
}

func TestValidateTimestamps(t *testing.T) {
	const now = 1_700_000_000_000
	b := testBatch(t, CodecLZ4, testRecords(10, 10)) // timestamps now .. now+27
	ok := []ValidateOptions{
		{NowMs: now},
		{NowMs: now, TimestampBeforeMaxMs: 1, TimestampAfterMaxMs: 27},
		{NowMs: now + 50, TimestampBeforeMaxMs: 50},
	}
	for _, opt := range ok {
		if _, err := ValidateBatches(b, opt); err != nil {
			t.Fatalf("%+v: %v", opt, err)
		}
	}
	bad := []ValidateOptions{
		{NowMs: now, TimestampAfterMaxMs: 26},       // last record too far ahead
		{NowMs: now + 51, TimestampBeforeMaxMs: 50}, // first record too old
	}
	for _, opt := range bad {
		_, err := ValidateBatches(b, opt)
		checkCode(t, err, CodeInvalidTimestamp, 0)
		if !errors.Is(err, ErrInvalidTimestamp) {
			t.Fatalf("%v does not unwrap to ErrInvalidTimestamp", err)
		}
	}
	// A LogAppendTime batch is judged by its MaxTimestamp.
	SetLogAppendTime(b, now+1000)
	if _, err := ValidateBatches(b, bad[0]); err == nil {
		t.Fatal("LogAppendTime batch past the limit accepted")
	}
	if _, err := ValidateBatches(b, ValidateOptions{NowMs: now + 1000, TimestampAfterMaxMs: 1}); err != nil {
		t.Fatal(err)
	}
}

// A zip bomb must fail against DecompressedBytesMax, not exhaust memory.
func TestValidateDecompressedBound(t *testing.T) {
	for _, c := range allCodecs[1:] {
		b := testBatch(t, c, testRecords(1, 1<<20))
		_, err := ValidateBatches(b, ValidateOptions{DecompressedBytesMax: 64 << 10})
		checkCode(t, err, CodeCorruptMessage, 0)
		if !errors.Is(err, ErrCorruptMessage) {
			t.Fatalf("%s: %v", c, err)
		}
		if _, err := ValidateBatches(b, ValidateOptions{DecompressedBytesMax: 2 << 20}); err != nil {
			t.Fatalf("%s under the bound: %v", c, err)
		}
	}
}
