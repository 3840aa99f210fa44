package wire

import "testing"

// TestRecordsAcceptsCompactedBatches: log compaction leaves batches with
// gaps in their offset deltas; Records must read them (a coordinator
// reloading a compacted __consumer_offsets does), while ValidateBatches, on
// the produce path, must still refuse them.
func TestRecordsAcceptsCompactedBatches(t *testing.T) {
	b, err := AppendBatch(nil, Batch{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Codec: CodecNone,
		Records: []Record{{OffsetDelta: 0, Key: []byte("a")}, {OffsetDelta: 3, Key: []byte("b")}, {OffsetDelta: 7, Key: []byte("c")}}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := Records(b)
	if err != nil {
		t.Fatalf("Records on a compacted batch: %v", err)
	}
	if len(recs) != 3 || recs[1].OffsetDelta != 3 || string(recs[2].Key) != "c" {
		t.Fatalf("Records = %+v", recs)
	}
	if _, err := ValidateBatches(b, ValidateOptions{}); err == nil {
		t.Fatal("ValidateBatches accepted a batch with offset gaps from a producer")
	}
	// Deltas going backwards or past LastOffsetDelta are still corrupt.
	bad, _ := AppendBatch(nil, Batch{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		Records: []Record{{OffsetDelta: 5}, {OffsetDelta: 2}}})
	if _, err := Records(bad); err == nil {
		t.Fatal("Records accepted decreasing offset deltas")
	}
}
