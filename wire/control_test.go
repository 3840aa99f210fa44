package wire

import (
	"errors"
	"testing"
)

// TestControlRecordRoundTrip: a transaction marker (Kafka's control batch:
// key version+type, value version+coordinatorEpoch) encodes as a
// transactional control batch and parses back.
func TestControlRecordRoundTrip(t *testing.T) {
	for _, typ := range []int16{ControlAbort, ControlCommit} {
		b := AppendControlBatch(nil, 42, 3, typ, 7, 1000)
		h, err := ParseBatchHeader(b)
		if err != nil || !h.Control() || !h.Transactional() || h.ProducerID != 42 || h.ProducerEpoch != 3 || h.NumRecords != 1 {
			t.Fatalf("header %+v, %v", h, err)
		}
		if err := CheckCRC(b); err != nil {
			t.Fatal(err)
		}
		c, err := ParseControlRecord(b)
		if err != nil || c.Type != typ || c.CoordinatorEpoch != 7 {
			t.Fatalf("marker %+v, %v", c, err)
		}
	}
}

// TestControlRecordRejects: a data batch, or a control batch whose key is
// too short, is not a marker.
func TestControlRecordRejects(t *testing.T) {
	data, err := AppendBatch(nil, Batch{Records: []Record{{Key: []byte("k"), Value: []byte("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseControlRecord(data); !errors.Is(err, ErrControlRecord) {
		t.Fatalf("data batch: %v", err)
	}
	short, err := AppendBatch(nil, Batch{Attributes: attrControl | attrTransactional, Records: []Record{{Key: []byte{0}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseControlRecord(short); !errors.Is(err, ErrControlRecord) {
		t.Fatalf("short key: %v", err)
	}
	if _, err := ParseControlRecord(data[:10]); !errors.Is(err, ErrControlRecord) {
		t.Fatalf("short batch: %v", err)
	}
}

// FuzzParseControlRecord: no input panics the marker decoder.
func FuzzParseControlRecord(f *testing.F) {
	f.Add(AppendControlBatch(nil, 1, 0, ControlCommit, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) { ParseControlRecord(b) })
}
