package wire

import (
	"bytes"
	"fmt"
	"testing"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

// testRecords returns n records with valueBytes-byte values, a mix of
// null and present keys, and headers on every other record.
func testRecords(n, valueBytes int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		r := &recs[i]
		r.TimestampDelta = int64(i * 3)
		r.Value = bytes.Repeat([]byte{byte('a' + i%26)}, valueBytes)
		if i%3 != 0 {
			r.Key = []byte(fmt.Sprintf("key-%d", i))
		}
		if i%2 == 1 {
			r.Headers = []Header{{Key: "h", Value: []byte("v")}, {Key: "null", Value: nil}}
		}
	}
	return recs
}

// testBatch encodes records as an idempotent producer's batch.
func testBatch(t testing.TB, c Codec, recs []Record) []byte {
	t.Helper()
	b, err := AppendBatch(nil, Batch{
		FirstTimestamp: 1_700_000_000_000,
		MaxTimestamp:   1_700_000_000_000 + int64(len(recs)*3),
		ProducerID:     1000,
		ProducerEpoch:  2,
		BaseSequence:   10,
		Codec:          c,
		Records:        recs,
	})
	if err != nil {
		t.Fatalf("AppendBatch(%s): %v", c, err)
	}
	return b
}

// equalRecords compares records, treating nil and empty slices as
// different (null and empty are different on the wire).
func equalRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Attributes != w.Attributes || g.TimestampDelta != w.TimestampDelta ||
			g.OffsetDelta != int32(i) || !sameBytes(g.Key, w.Key) ||
			!sameBytes(g.Value, w.Value) || len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %d: got %+v, want %+v", i, g, w)
		}
		for j := range w.Headers {
			if g.Headers[j].Key != w.Headers[j].Key || !sameBytes(g.Headers[j].Value, w.Headers[j].Value) {
				t.Fatalf("record %d header %d: got %+v, want %+v", i, j, g.Headers[j], w.Headers[j])
			}
		}
	}
}

// sameBytes is bytes.Equal that also tells null from empty.
func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// checkCode fails unless err is a *BatchError with the code and index.
func checkCode(t *testing.T, err error, code int16, index int) {
	t.Helper()
	be, ok := err.(*BatchError)
	if !ok {
		t.Fatalf("got %T %v, want *BatchError code %d", err, err, code)
	}
	if be.Code != code || be.Index != index {
		t.Fatalf("got code %d index %d (%v), want code %d index %d", be.Code, be.Index, be, code, index)
	}
}
