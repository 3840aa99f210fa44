package core

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics hears what the broker measures on its hot paths: each request's
// latency and error codes, and each partition fsync. Everything else the
// metrics show (sizes, counts, Raft, groups, lag) already exists in the
// broker and is read when scraped (Broker.Stats). The Prometheus
// implementation lives where the binary is assembled (cmd/jocko), so
// that core builds for wasip1 without it. Methods run on the request and
// fsync paths: they must be quick, and must not block or allocate.
type Metrics interface {
	// RequestDone records one request of API key, served in d: from the
	// moment it was read to the moment its response was written (or,
	// for a request answered with nothing, such as an acks=0 produce,
	// handled).
	RequestDone(key int16, d time.Duration)
	// ResponseError records that a response of API key carried error
	// code (never 0) n times: once per partition, topic or group that
	// has it, or once for a top-level error.
	ResponseError(key, code int16, n int)
	// LogSynced records one fsync of a partition log: how long it took and
	// how many offsets it made durable together (the group commit's batch).
	LogSynced(d time.Duration, records int64)
}

// MetricsAddr is the default metrics listener for a Kafka listener: the
// Kafka port plus three on the same host, beside Raft (plus one) and
// gossip (plus two); a Kafka port of 0 gives port 0 (any free port).
func MetricsAddr(listen string) string {
	return portPlus(listen, 3, "127.0.0.1:9095")
}

// topicStats counts one topic's client traffic on this broker; partitions
// share their topic's, so that the counts outlive a partition's reopening.
// Atomics only: the produce and fetch paths add to them.
type topicStats struct {
	bytesIn, recordsIn, bytesOut, recordsOut atomic.Int64
}

// in counts a produced batch; a nil s (a partition opened without the
// broker's registry, in tests) counts nothing.
func (s *topicStats) in(bytes, records int64) {
	if s != nil {
		s.bytesIn.Add(bytes)
		s.recordsIn.Add(records)
	}
}

// out counts record batches served to a consumer.
func (s *topicStats) out(data []byte) {
	if s != nil {
		s.bytesOut.Add(int64(len(data)))
		s.recordsOut.Add(batchRecords(data))
	}
}

// topicStatsSet holds the per-topic counters by topic name.
type topicStatsSet struct {
	mu     sync.Mutex // guards topics
	topics map[string]*topicStats
}

// get returns topic's counters, created on first use (as a partition
// opens; never on the produce or fetch path).
func (s *topicStatsSet) get(topic string) *topicStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics == nil {
		s.topics = map[string]*topicStats{}
	}
	ts := s.topics[topic]
	if ts == nil {
		ts = &topicStats{}
		s.topics[topic] = ts
	}
	return ts
}

// batchRecords counts the records in a run of record batches (a fetch's
// data), reading each batch's record count from its header and skipping
// its body; a partial batch at the end (a fetch cut at its byte limit)
// is not counted.
func batchRecords(data []byte) int64 {
	const (
		lengthAt    = 8  // after the base offset
		headerSize  = 12 // base offset and length
		recordsAt   = 57 // the record count's place in a v2 batch
		recordsSize = 4
	)
	var n int64
	for len(data) >= recordsAt+recordsSize {
		size := headerSize + int64(int32(binary.BigEndian.Uint32(data[lengthAt:])))
		if size < recordsAt+recordsSize || size > int64(len(data)) {
			break
		}
		n += int64(int32(binary.BigEndian.Uint32(data[recordsAt:])))
		data = data[size:]
	}
	return n
}

// nopMetrics is Metrics that records nothing: the broker's default.
type nopMetrics struct{}

func (nopMetrics) RequestDone(int16, time.Duration) {}
func (nopMetrics) ResponseError(int16, int16, int)  {}
func (nopMetrics) LogSynced(time.Duration, int64)   {}

var _ Metrics = nopMetrics{}
