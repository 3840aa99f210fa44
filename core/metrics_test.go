package core

import (
	"testing"
	"time"

	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestBatchRecordsCountsWholeBatches: a fetch's records are counted from
// each batch header (compressed batches included), and a batch cut short
// at the end of a fetch's byte limit is not counted.
func TestBatchRecordsCountsWholeBatches(t *testing.T) {
	t.Parallel()
	var data []byte
	for i, n := range []int{3, 1, 5} {
		recs := make([]wire.Record, n)
		for j := range recs {
			recs[j] = wire.Record{Value: []byte("value")}
		}
		var err error
		data, err = wire.AppendBatch(data, wire.Batch{BaseOffset: int64(i * 10), Codec: wire.Codec(i % 2), Records: recs})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := batchRecords(data); got != 9 {
		t.Fatalf("batchRecords = %d, want 9", got)
	}
	if got := batchRecords(data[:len(data)-1]); got != 4 {
		t.Fatalf("batchRecords of a cut last batch = %d, want 4 (the whole batches before it)", got)
	}
	if got := batchRecords(nil); got != 0 {
		t.Fatalf("batchRecords(nil) = %d", got)
	}
}

// recordingMetrics keeps what a test's broker reports.
type recordingMetrics struct {
	errs map[[2]int16]int
}

func (m *recordingMetrics) RequestDone(int16, time.Duration) {}
func (m *recordingMetrics) ResponseError(key, code int16, n int) {
	if m.errs == nil {
		m.errs = map[[2]int16]int{}
	}
	m.errs[[2]int16{key, code}] += n
}
func (m *recordingMetrics) LogSynced(time.Duration, int64) {}

// TestResponseErrorsCountsEachPartition: every partition's error code
// counts once, runs of one code included; code 0 never counts.
func TestResponseErrorsCountsEachPartition(t *testing.T) {
	t.Parallel()
	resp := kmsg.NewPtrProduceResponse()
	for _, codes := range [][]int16{{0, 6, 6}, {6, 3}, {0}} {
		rt := kmsg.NewProduceResponseTopic()
		for _, c := range codes {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.ErrorCode = c
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	m := &recordingMetrics{}
	c := codeCounter{m: m, key: int16(kmsg.Produce)}
	responseErrors(resp, &c)
	c.flush()
	key := int16(kmsg.Produce)
	want := map[[2]int16]int{{key, kerr.NotLeaderForPartition.Code}: 3, {key, kerr.UnknownTopicOrPartition.Code}: 1}
	if len(m.errs) != len(want) {
		t.Fatalf("errors %v, want %v", m.errs, want)
	}
	for k, n := range want {
		if m.errs[k] != n {
			t.Fatalf("errors %v, want %v", m.errs, want)
		}
	}
}

// TestResponseErrorsTransactions: the transaction APIs' codes count, down
// to WriteTxnMarkers' per-partition ones (a marker that cannot be written
// is what an operator looks for).
func TestResponseErrorsTransactions(t *testing.T) {
	t.Parallel()
	wtm := kmsg.NewPtrWriteTxnMarkersResponse()
	rm := kmsg.NewWriteTxnMarkersResponseMarker()
	rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
	rt.Partitions = []kmsg.WriteTxnMarkersResponseMarkerTopicPartition{{ErrorCode: kerr.TransactionCoordinatorFenced.Code}, {}}
	rm.Topics = append(rm.Topics, rt)
	wtm.Markers = append(wtm.Markers, rm)
	end := kmsg.NewPtrEndTxnResponse()
	end.ErrorCode = kerr.ConcurrentTransactions.Code
	m := &recordingMetrics{}
	for _, resp := range []kmsg.Response{wtm, end} {
		c := codeCounter{m: m, key: resp.Key()}
		responseErrors(resp, &c)
		c.flush()
	}
	want := map[[2]int16]int{
		{int16(kmsg.WriteTxnMarkers), kerr.TransactionCoordinatorFenced.Code}: 1,
		{int16(kmsg.EndTxn), kerr.ConcurrentTransactions.Code}:                1,
	}
	if len(m.errs) != len(want) {
		t.Fatalf("errors %v, want %v", m.errs, want)
	}
	for k, n := range want {
		if m.errs[k] != n {
			t.Fatalf("errors %v, want %v", m.errs, want)
		}
	}
}
