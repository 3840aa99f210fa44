package core

import (
	"errors"
	"fmt"

	"github.com/jocko/jocko/storage"
	"github.com/jocko/jocko/wire"
)

// appendResult says where a produce landed: the first offset assigned, the
// end offset to wait for, and the append time when the topic uses
// LogAppendTime (-1 otherwise).
type appendResult struct {
	firstOffset  int64
	end          int64
	appendTimeMs int64
}

// errBatchCount refuses an append of other than one batch: a produce is
// applied whole or not at all, and only one batch can be (Kafka allows one
// per partition from Produce v3).
var errBatchCount = errors.New("exactly one record batch per append")

// append writes a producer's validated batch (hdrs describes it and has
// one entry). An idempotent batch is checked against the producer table
// first: a duplicate of a recent batch is not written again and answers
// with its original offsets.
func (p *partition) append(batch []byte, hdrs []wire.BatchHeader) (appendResult, error) {
	if len(hdrs) != 1 || hdrs[0].Size() != len(batch) {
		return appendResult{}, errBatchCount
	}
	cfg := p.config()
	res := appendResult{firstOffset: -1, appendTimeMs: -1}
	now := p.b.env.Clock.Now().UnixMilli()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.err(); err != nil { // under mu: close waits for mu before closing the log
		return res, err
	}
	if cfg.logAppendTime {
		wire.SetLogAppendTime(batch, now)
		res.appendTimeMs = now
	}
	first, end, err := p.appendOne(batch, hdrs[0])
	if err != nil {
		return res, err
	}
	res.firstOffset, res.end = first, end
	return res, nil
}

// appendOne appends a single batch; p.mu is held.
func (p *partition) appendOne(raw []byte, h wire.BatchHeader) (first, end int64, err error) {
	idem := h.ProducerID >= 0 && h.BaseSequence >= 0
	if h.ProducerID >= 0 && !h.Control() {
		// Kafka's ProducerAppendInfo: a transactional batch that would
		// open a transaction needs the coordinator's word (verified, at
		// its epoch); a plain batch cannot join an open one.
		_, open := p.log.OpenTxnStart(h.ProducerID)
		if h.Transactional() && !p.txnOpenAtLocked(h.ProducerID, h.ProducerEpoch) {
			if e, ok := p.verified[h.ProducerID]; !ok || e != h.ProducerEpoch {
				return 0, 0, fmt.Errorf("%w: producer %d epoch %d has no verified transaction on %s-%d", errTxnState, h.ProducerID, h.ProducerEpoch, p.topic, p.index)
			}
		}
		if !h.Transactional() && open {
			return 0, 0, fmt.Errorf("%w: producer %d has a transaction open on %s-%d; a non-transactional batch cannot join it", errTxnState, h.ProducerID, p.topic, p.index)
		}
	}
	var pb producerBatch
	if idem {
		pb = producerBatch{firstSeq: h.BaseSequence, lastSeq: lastSeqOf(h.BaseSequence, h.NumRecords)}
		dup, err := p.producers.check(h.ProducerID, h.ProducerEpoch, pb.firstSeq, pb.lastSeq)
		if err != nil {
			return 0, 0, err
		}
		if dup != nil {
			return dup.firstOffset, dup.lastOffset + 1, nil
		}
	}
	info, err := p.log.Append(raw, p.leaderEpoch.Load())
	if errors.Is(err, storage.ErrBatchTooLarge) || errors.Is(err, storage.ErrStaleEpoch) {
		// The client's batch, or a leadership this broker has already
		// lost: not the disk, so the partition stays up.
		return 0, 0, err
	}
	if errors.Is(err, storage.ErrNoSpace) {
		// A full file system: nothing was written, the log is as it
		// was, and the guard refuses produce until there is room.
		p.b.noteNoSpace()
		return 0, 0, err
	}
	if err != nil {
		p.fail(err)
		return 0, 0, p.err()
	}
	if idem {
		pb.firstOffset, pb.lastOffset, pb.maxTs = info.FirstOffset, info.LastOffset, storedMaxTimestamp(raw)
		p.producers.record(h.ProducerID, h.ProducerEpoch, pb)
	}
	if h.Transactional() {
		delete(p.verified, h.ProducerID) // the transaction is open now: the log says so
	}
	p.afterAppend(int64(h.NumRecords), info.LastOffset+1)
	return info.FirstOffset, info.LastOffset + 1, nil
}

// afterAppend makes the new records durable and visible: in durable mode the
// flusher fsyncs and then moves the high watermark; in page-cache mode the
// high watermark moves now and the flusher runs every flush.messages records.
func (p *partition) afterAppend(records, end int64) {
	cfg := p.config()
	p.leaderAppended(end)
	if cfg.durable() {
		p.kickFlusher()
		return
	}
	p.unflushed += records
	if p.unflushed >= cfg.flushMessages {
		p.unflushed = 0
		p.kickFlusher()
	}
}

// read returns batches from offset up to the high watermark (or the log end
// for replicas that may read uncommitted data), at most maxBytes but at
// least one batch. The data is in a pooled buffer: the caller hands it back
// with storage.Release once it has been written, or lets the GC have it.
func (p *partition) read(offset int64, maxBytes int, upTo int64) ([]byte, error) {
	if err := p.err(); err != nil {
		return nil, err
	}
	hw := p.highWatermark()
	if upTo >= 0 {
		hw = upTo
	}
	if offset == hw {
		return nil, nil
	}
	if offset > hw && offset <= p.log.EndOffset() {
		return nil, nil // not yet committed: nothing to read yet
	}
	data, err := p.log.ReadPooled(offset, maxBytes, hw)
	if errors.Is(err, storage.ErrClosed) && p.err() != nil {
		return nil, p.err() // closed while reading
	}
	if err != nil && !errors.Is(err, storage.ErrOffsetOutOfRange) {
		return nil, fmt.Errorf("read %s-%d at %d: %w", p.topic, p.index, offset, err)
	}
	return data, err
}

// markVerified records that the transaction coordinator confirmed this
// partition is in the transaction of producer pid at epoch.
func (p *partition) markVerified(pid int64, epoch int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.verified == nil {
		p.verified = map[int64]int16{}
	}
	p.verified[pid] = epoch
}

// needsVerify reports whether a transactional batch of producer pid at
// epoch would open a transaction here, so the coordinator must be asked
// first.
func (p *partition) needsVerify(pid int64, epoch int16) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.txnOpenAtLocked(pid, epoch) {
		return false
	}
	e, ok := p.verified[pid]
	return !ok || e != epoch
}

// txnOpenAtLocked reports whether producer pid has a transaction open here
// at epoch: the log has its data without a marker, written at that epoch.
// A transaction open at an older epoch is the previous one, whose marker
// is still on its way (under transaction.version 2 every transaction has
// a new epoch): a batch of the next one must not join it, or the previous
// transaction's ABORT would take it along (the simulator found exactly
// that: txn-cluster seed 2). p.mu is held.
func (p *partition) txnOpenAtLocked(pid int64, epoch int16) bool {
	if _, open := p.log.OpenTxnStart(pid); !open {
		return false
	}
	e := p.producers.m[pid]
	return e != nil && e.epoch == epoch
}

// appendMarker writes a transaction marker (a COMMIT or ABORT control
// batch) for producer pid at epoch, from the coordinator at coordEpoch,
// as the leader, and returns the end offset to wait for. It is refused
// for an older producer epoch or coordinator (Kafka's appendEndTxnMarker).
func (p *partition) appendMarker(pid int64, epoch int16, coordEpoch int32, commit bool) (int64, error) {
	typ := int16(wire.ControlAbort)
	if commit {
		typ = wire.ControlCommit
	}
	now := p.b.env.Clock.Now().UnixMilli()
	raw := wire.AppendControlBatch(nil, pid, epoch, typ, coordEpoch, now)
	h, err := wire.ParseBatchHeader(raw)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.err(); err != nil {
		return 0, err
	}
	if err := p.producers.checkMarker(pid, epoch, coordEpoch); err != nil {
		return 0, err
	}
	info, err := p.log.Append(raw, p.leaderEpoch.Load())
	if errors.Is(err, storage.ErrStaleEpoch) {
		return 0, err
	}
	if errors.Is(err, storage.ErrNoSpace) {
		p.b.noteNoSpace()
		return 0, err
	}
	if err != nil {
		p.fail(err)
		return 0, p.err()
	}
	p.producers.marker(pid, h.ProducerEpoch, coordEpoch, now)
	delete(p.verified, pid)
	p.afterAppend(1, info.LastOffset+1)
	return info.LastOffset + 1, nil
}
