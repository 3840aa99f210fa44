package wire

import (
	"encoding/binary"
	"errors"
	"testing"
)

// oneRecordBody is the encoded body of a single record, built by hand:
// attributes, timestampDelta, offsetDelta, key, value, headers.
func oneRecordBody(offsetDelta int32, tail ...byte) []byte {
	body := []byte{0, 0}
	body = appendVarint(body, offsetDelta)
	body = append(body, tail...)
	return append(appendVarint(nil, int32(len(body))), body...)
}

// TestValidateErrorCodes checks each rejection maps to the Kafka error
// code a Java broker returns (or the one this broker documents).
func TestValidateErrorCodes(t *testing.T) {
	valid := func(t *testing.T) []byte { return testBatch(t, CodecNone, testRecords(3, 4)) }
	put32 := func(off int, v int32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], uint32(v)); return b }
	}
	withCRC := func(f func([]byte) []byte) func([]byte) []byte {
		return func(b []byte) []byte { return recrc(f(b)) }
	}
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		code   int16
		is     error
	}{
		{"crc", func(b []byte) []byte { b[offCRC] ^= 1; return b }, CodeCorruptMessage, ErrCorruptMessage},
		{"record byte", func(b []byte) []byte { b[len(b)-2] ^= 1; return b }, CodeCorruptMessage, nil},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, CodeCorruptMessage, nil},
		{"truncated header", func(b []byte) []byte { return b[:40] }, CodeCorruptMessage, nil},
		{"stub", func(b []byte) []byte { return b[:10] }, CodeCorruptMessage, nil},
		{"length small", put32(offLength, 10), CodeCorruptMessage, nil},
		{"length negative", put32(offLength, -5), CodeCorruptMessage, nil},
		{"length past end", put32(offLength, 1<<20), CodeCorruptMessage, nil},
		{"magic 1", func(b []byte) []byte { b[offMagic] = 1; return b }, CodeUnsupportedForMessageFormat, ErrUnsupportedMagic},
		{"magic 0", func(b []byte) []byte { b[offMagic] = 0; return b }, CodeUnsupportedForMessageFormat, ErrUnsupportedMagic},
		{"magic 3", func(b []byte) []byte { b[offMagic] = 3; return b }, CodeCorruptMessage, nil},
		{"codec 5", withCRC(func(b []byte) []byte { b[offAttributes+1] |= 5; return b }), CodeUnsupportedCompressionType, ErrUnsupportedCodec},
		{"count high", withCRC(put32(offNumRecords, 4)), CodeInvalidRecord, nil},
		{"count high, delta too", withCRC(func(b []byte) []byte {
			return put32(offLastOffsetDelta, 3)(put32(offNumRecords, 4)(b))
		}), CodeInvalidRecord, ErrInvalidRecord},
		{"count low", withCRC(func(b []byte) []byte {
			return put32(offLastOffsetDelta, 1)(put32(offNumRecords, 2)(b))
		}), CodeInvalidRecord, nil},
		{"count zero", withCRC(func(b []byte) []byte {
			return put32(offLastOffsetDelta, -1)(put32(offNumRecords, 0)(b))
		}), CodeInvalidRecord, nil},
		{"last offset delta", withCRC(put32(offLastOffsetDelta, 5)), CodeInvalidRecord, nil},
		{"producer id", withCRC(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[offProducerID:], ^uint64(1)) // -2
			return b
		}), CodeInvalidRecord, nil},
		{"sequence", withCRC(put32(offBaseSequence, -1)), CodeInvalidRecord, nil},
		{"control", withCRC(func(b []byte) []byte { b[offAttributes+1] |= attrControl; return b }), CodeInvalidRecord, nil},
		{"max timestamp", withCRC(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[offMaxTimestamp:], ^uint64(1)) // -2
			return b
		}), CodeInvalidTimestamp, nil},
		{"empty", func([]byte) []byte { return nil }, CodeInvalidRecord, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ValidateBatches(tt.mutate(valid(t)), ValidateOptions{})
			checkCode(t, err, tt.code, 0)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("%v is not %v", err, tt.is)
			}
		})
	}
}

// Bytes after the last whole batch are a second, broken batch.
func TestValidateTrailingGarbage(t *testing.T) {
	b := append(testBatch(t, CodecNone, testRecords(3, 4)), 1, 2, 3)
	_, err := ValidateBatches(b, ValidateOptions{})
	checkCode(t, err, CodeCorruptMessage, 1)
}

// TestValidateRecordErrors damages the single record of a batch.
func TestValidateRecordErrors(t *testing.T) {
	kv := []byte{2, 'k', 2, 'v'} // key "k", value "v"
	tests := []struct {
		name string
		body []byte
		code int16
	}{
		{"ok", oneRecordBody(0, append(kv, 0)...), 0},
		{"null key and value", oneRecordBody(0, 1, 1, 0), 0},
		{"offset delta", oneRecordBody(1, append(kv, 0)...), CodeInvalidRecord},
		{"key past record", oneRecordBody(0, 20, 'k', 2, 'v', 0), CodeCorruptMessage},
		{"key length -2", oneRecordBody(0, 3, 2, 'v', 0), CodeCorruptMessage},
		{"header count -1", oneRecordBody(0, append(kv, 1)...), CodeCorruptMessage},
		{"header count high", oneRecordBody(0, append(kv, 2)...), CodeCorruptMessage},
		{"null header key", oneRecordBody(0, append(kv, 2, 1, 1)...), CodeCorruptMessage},
		{"bytes after record", oneRecordBody(0, append(kv, 0, 9)...), CodeCorruptMessage},
		{"record length past end", append([]byte{40}, oneRecordBody(0, append(kv, 0)...)[1:]...), CodeCorruptMessage},
		{"record length tiny", []byte{2, 0, 0}, CodeCorruptMessage},
		{"bad varint", append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, kv...), CodeCorruptMessage},
		{"two records for one", append(oneRecordBody(0, 1, 1, 0), oneRecordBody(1, 1, 1, 0)...), CodeInvalidRecord},
		{"no records", nil, CodeInvalidRecord},
	}
	base := testBatch(t, CodecNone, testRecords(1, 1))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := rebuildBatch(t, base, tt.body)
			_, err := ValidateBatches(b, ValidateOptions{})
			_, rerr := Records(b)
			if tt.code == 0 {
				if err != nil || rerr != nil {
					t.Fatalf("ValidateBatches: %v, Records: %v", err, rerr)
				}
				return
			}
			checkCode(t, err, tt.code, 0)
			checkCode(t, rerr, tt.code, 0)
		})
	}
}

// Compressed data that does not decompress is a corrupt message.
func TestValidateBadCompressedData(t *testing.T) {
	for _, c := range allCodecs[1:] {
		b := testBatch(t, c, testRecords(3, 50))
		b = rebuildBatch(t, b, []byte("definitely not compressed data"))
		_, err := ValidateBatches(b, ValidateOptions{})
		checkCode(t, err, CodeCorruptMessage, 0)
		if _, err := Records(b); err == nil {
			t.Fatalf("%s: Records accepted garbage", c)
		}
	}
}

func TestControlBatchAllowed(t *testing.T) {
	b, err := AppendBatch(nil, Batch{
		Attributes: attrControl | attrTransactional, ProducerID: 5, BaseSequence: -1,
		Records: []Record{{Key: []byte{0, 0, 0, 0}, Value: []byte{0, 0, 0, 0, 0, 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A transaction marker carries its producer with no sequence (-1), as
	// Kafka's EndTransactionMarker batches do; Kafka's LogValidator checks
	// the sequence only for client appends, which may not send control
	// batches at all.
	if _, err := ValidateBatches(b, ValidateOptions{AllowControl: true}); err != nil {
		t.Fatalf("marker of producer 5 with base sequence -1: %v", err)
	}
	if _, err := ValidateBatches(b, ValidateOptions{}); err == nil {
		t.Fatal("control batch accepted from a client")
	}
	b, _ = AppendBatch(nil, Batch{Attributes: attrControl, ProducerID: -1, BaseSequence: -1,
		Records: []Record{{Key: []byte{0, 0, 0, 0}}}})
	if _, err := ValidateBatches(b, ValidateOptions{AllowControl: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Records(b); err != nil {
		t.Fatal(err)
	}
}
