package core

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Errors of the idempotent producer checks; the produce handler maps them to
// Kafka codes.
var (
	errOutOfOrderSequence = errors.New("out of order sequence number")
	errProducerFenced     = errors.New("invalid producer epoch")
	// errCoordinatorFenced refuses a transaction marker from a
	// coordinator older than the one that wrote the producer's last marker.
	errCoordinatorFenced = errors.New("transaction coordinator fenced")
	// errTxnState refuses a transactional batch that opens a transaction
	// the coordinator did not verify (KIP-890), and a plain idempotent
	// batch from a producer with a transaction open on the partition.
	errTxnState = errors.New("invalid transaction state")
)

// batchesRemembered is how many recent batches per producer are kept for
// duplicate detection; Kafka keeps 5, matching
// max.in.flight.requests.per.connection for idempotent producers.
const batchesRemembered = 5

// producerBatch is what is remembered of one appended idempotent batch.
type producerBatch struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
	// maxTs is the batch's MaxTimestamp as stored: the last batch's is
	// when the producer was last active, as Kafka's
	// ProducerStateEntry.lastTimestamp. Taken from the stored batch, so that
	// the table rebuilt from a snapshot and the log after it is the one the
	// appends built.
	maxTs int64
}

// producerEntry is one producer ID's state on one partition.
type producerEntry struct {
	epoch   int16
	batches []producerBatch // oldest first, 0 to batchesRemembered (none after a marker that bumped the epoch)
	// markerTs is the timestamp of the producer's last transaction marker
	// (math.MinInt64: none since its last batch).
	markerTs int64
	// coordEpoch is the coordinator epoch of its last marker (-1: none
	// seen). A marker from an older coordinator is fenced. Markers
	// replayed from the log after a restart keep the one before (the
	// scan reads headers, which do not carry it).
	coordEpoch int32
}

// lastTs is when the producer was last active: producer.id.expiration.ms
// counts from it (its last batch or marker).
func (e *producerEntry) lastTs() int64 {
	ts := e.markerTs
	if len(e.batches) > 0 {
		ts = max(ts, e.batches[len(e.batches)-1].maxTs)
	}
	return ts
}

// lastSeq is the last sequence the producer wrote at its epoch (-1: none).
func (e *producerEntry) lastSeq() int32 {
	if len(e.batches) == 0 {
		return -1
	}
	return e.batches[len(e.batches)-1].lastSeq
}

// checkMarker decides whether a transaction marker of producer pid at
// epoch from the coordinator at coordEpoch may be written (Kafka's
// ProducerAppendInfo.appendEndTxnMarker): not from an older epoch, nor an
// older coordinator.
func (s *producerState) checkMarker(pid int64, epoch int16, coordEpoch int32) error {
	e := s.m[pid]
	if e == nil {
		return nil
	}
	if epoch < e.epoch {
		return fmt.Errorf("%w: marker of producer %d at epoch %d, which is at %d", errProducerFenced, pid, epoch, e.epoch)
	}
	if coordEpoch >= 0 && coordEpoch < e.coordEpoch {
		return fmt.Errorf("%w: marker of producer %d from coordinator epoch %d, last marker's was %d", errCoordinatorFenced, pid, coordEpoch, e.coordEpoch)
	}
	return nil
}

// marker records a transaction marker stored with timestamp ts: a newer
// epoch starts the producer's sequences over (Kafka's
// maybeUpdateProducerEpoch); coordEpoch < 0 (a replayed marker) keeps the
// known coordinator epoch.
func (s *producerState) marker(pid int64, epoch int16, coordEpoch int32, ts int64) {
	if s.m == nil {
		s.m = map[int64]*producerEntry{}
	}
	e := s.m[pid]
	if e == nil {
		e = &producerEntry{epoch: epoch, coordEpoch: -1}
		s.m[pid] = e
	}
	if epoch > e.epoch {
		e.epoch = epoch
		e.batches = e.batches[:0]
	}
	e.coordEpoch = max(e.coordEpoch, coordEpoch)
	e.markerTs = max(e.markerTs, ts)
}

// producerSummary is one producer as DescribeProducers shows it.
type producerSummary struct {
	ProducerID       int64
	Epoch            int16
	LastSeq          int32
	LastTs           int64
	CoordinatorEpoch int32
}

// producerSummaries lists the partition's producers by id.
func (p *partition) producerSummaries() []producerSummary {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]producerSummary, 0, len(p.producers.m))
	for pid, e := range p.producers.m {
		ts := e.lastTs()
		if ts == math.MinInt64 {
			ts = -1
		}
		out = append(out, producerSummary{ProducerID: pid, Epoch: e.epoch, LastSeq: e.lastSeq(), LastTs: ts, CoordinatorEpoch: e.coordEpoch})
	}
	slices.SortFunc(out, func(a, b producerSummary) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
	return out
}

// producerState is a partition's idempotent producer table: pure logic, fed
// by the append path and by the log scan that rebuilds it after a restart.
type producerState struct {
	m map[int64]*producerEntry
}

// check decides what to do with an incoming batch: a duplicate of a recent
// batch returns it (the caller answers with its original offsets); an epoch
// older than the known one, or a sequence that does not follow the last one,
// is an error. Rules follow Kafka's ProducerAppendInfo.checkSequence.
func (s *producerState) check(pid int64, epoch int16, firstSeq, lastSeq int32) (*producerBatch, error) {
	e := s.m[pid]
	if e == nil {
		return nil, nil // unknown producer (new, or expired): any sequence is accepted
	}
	if epoch < e.epoch {
		return nil, fmt.Errorf("%w: producer %d epoch %d is older than %d", errProducerFenced, pid, epoch, e.epoch)
	}
	if epoch > e.epoch {
		if firstSeq != 0 {
			return nil, fmt.Errorf("%w: new epoch %d of producer %d must start at sequence 0, got %d", errOutOfOrderSequence, epoch, pid, firstSeq)
		}
		return nil, nil
	}
	for i := range e.batches {
		if pb := &e.batches[i]; pb.firstSeq == firstSeq && pb.lastSeq == lastSeq {
			dup := *pb
			return &dup, nil
		}
	}
	if len(e.batches) == 0 {
		return nil, nil
	}
	last := e.batches[len(e.batches)-1].lastSeq
	if !inSequence(last, firstSeq) {
		return nil, fmt.Errorf("%w: producer %d expected sequence %d, got %d", errOutOfOrderSequence, pid, nextSeq(last), firstSeq)
	}
	return nil, nil
}

// record remembers an appended batch (called after check accepted it, and
// while replaying the log).
func (s *producerState) record(pid int64, epoch int16, b producerBatch) {
	if s.m == nil {
		s.m = map[int64]*producerEntry{}
	}
	e := s.m[pid]
	if e == nil {
		e = &producerEntry{epoch: epoch, markerTs: math.MinInt64, coordEpoch: -1}
		s.m[pid] = e
	}
	if epoch != e.epoch {
		e.epoch = epoch
		e.batches = e.batches[:0]
	}
	if len(e.batches) == batchesRemembered {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:batchesRemembered-1]
	}
	e.batches = append(e.batches, b)
}

// expire forgets the producers whose last batch is expirationMs or more
// older than nowMs (Kafka's producer.id.expiration.ms, removeExpiredProducers);
// expirationMs <= 0 keeps them all. A forgotten producer is unknown again:
// its next batch is accepted at any sequence.
func (s *producerState) expire(nowMs, expirationMs int64) int {
	if expirationMs <= 0 {
		return 0
	}
	n := 0
	for pid, e := range s.m {
		if e.lastTs() <= nowMs-expirationMs {
			delete(s.m, pid)
			n++
		}
	}
	return n
}

// truncate forgets batches at or above offset (after a log truncation).
func (s *producerState) truncate(offset int64) {
	for pid, e := range s.m {
		n := 0
		for _, b := range e.batches {
			if b.lastOffset < offset {
				e.batches[n] = b
				n++
			}
		}
		e.batches = e.batches[:n]
		if n == 0 {
			delete(s.m, pid)
		}
	}
}

func inSequence(last, next int32) bool { return next == nextSeq(last) }

func nextSeq(last int32) int32 {
	if last == math.MaxInt32 {
		return 0
	}
	return last + 1
}

// lastSeqOf is the last sequence of a batch whose first is first and whose
// record count is n; sequences wrap at MaxInt32 as Kafka's do.
func lastSeqOf(first int32, n int32) int32 {
	l := int64(first) + int64(n) - 1
	if l > math.MaxInt32 {
		l -= math.MaxInt32 + 1
	}
	return int32(l)
}
