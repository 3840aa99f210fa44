package storage

// Transactions in the log: what read_committed consumers need.
//
// API for the broker (core), which does not use it yet:
//
//   - Append and AppendReplica recognise transactional batches (attributes
//     bit 4) and transaction markers (control batches, bit 5, whose record
//     key is version int16 + type int16: 0 ABORT, 1 COMMIT). A producer's
//     first transactional batch opens its transaction at that batch's base
//     offset; its marker closes it. A malformed marker is refused
//     (ErrCorrupt) before anything is written.
//   - LastStableOffset(hw) is min(hw, first offset of the earliest open
//     transaction): Fetch's LastStableOffset, the bound of a read_committed
//     fetch, and ListOffsets' latest offset for read_committed.
//   - AbortedTransactions(from, to) lists the aborted transactions that a
//     fetch of [from, to) overlaps (Fetch's AbortedTransactions: producer id
//     and first offset), oldest marker first, as Kafka's
//     Log.collectAbortedTransactions.
//   - OpenTransactions lists the open transactions (DescribeProducers'
//     currentTxnStartOffset).
//
// On disk, each segment with an ABORT marker has a .txnindex file in
// Kafka's format (AbortedTxn: version int16 0, producerId int64,
// firstOffset int64, lastOffset int64, lastStableOffset int64; 34 bytes),
// and each segment whose end leaves transactions open has a .txnopen file
// (Jocko's: the open transactions at the segment's end). Both are written
// and fsynced with the first stage of the segment's seal (sealJob.syncLog),
// so a seal on disk vouches for them; Open reads them for sealed segments
// and rescans the others (the active segment always), rebuilding their
// files. The files go with their segment (retention, DeleteBefore,
// truncation). See txnindex.go.

import (
	"fmt"
	"maps"
	"slices"

	"github.com/jocko/jocko/wire"
)

// attrTransactional marks a batch of a transaction.
const attrTransactional = 0x10

// AbortedTxn is an aborted transaction: Kafka's AbortedTxn. LastOffset is
// the offset of its ABORT marker; LastStableOffset the log's last stable
// offset once the marker was written.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// OpenTxn is a transaction with data in the log and no marker yet.
type OpenTxn struct {
	ProducerID  int64
	FirstOffset int64
}

// txnState maps the producer id of each open transaction to its first
// offset.
type txnState map[int64]int64

// firstOpen is the first offset of the earliest open transaction, or end
// if none is open.
func (t txnState) firstOpen(end int64) int64 {
	for _, f := range t {
		end = min(end, f)
	}
	return end
}

// txnEvent is what one batch does to the transactions: a transactional
// data batch (marker false) or a marker.
type txnEvent struct {
	pid    int64
	offset int64 // base offset of the batch
	marker bool
	abort  bool
}

// txnEventOf returns the event of the batch b whose base offset is off, if
// it is part of a transaction. A marker that does not parse is ErrCorrupt;
// a control batch of another type (Kafka reserves them) is no event.
func txnEventOf(b []byte, off int64) (txnEvent, bool, error) {
	wh, err := wire.ParseBatchHeader(b)
	if err != nil {
		return txnEvent{}, false, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if !wh.Transactional() {
		return txnEvent{}, false, nil
	}
	ev := txnEvent{pid: wh.ProducerID, offset: off}
	if wh.Control() {
		c, err := wire.ParseControlRecord(b)
		if err != nil {
			return txnEvent{}, false, fmt.Errorf("%w: offset %d: %v", ErrCorrupt, off, err)
		}
		if c.Type != wire.ControlAbort && c.Type != wire.ControlCommit {
			return txnEvent{}, false, nil
		}
		ev.marker, ev.abort = true, c.Type == wire.ControlAbort
	}
	return ev, true, nil
}

// apply changes t by ev and returns the aborted transaction an ABORT
// marker completes. As Kafka, a marker with no open transaction completes
// one that starts at the marker.
func (t txnState) apply(ev txnEvent) (AbortedTxn, bool) {
	first, open := t[ev.pid]
	if !ev.marker {
		if !open {
			t[ev.pid] = ev.offset
		}
		return AbortedTxn{}, false
	}
	if !open {
		first = ev.offset
	}
	delete(t, ev.pid)
	if !ev.abort {
		return AbortedTxn{}, false
	}
	return AbortedTxn{ProducerID: ev.pid, FirstOffset: first, LastOffset: ev.offset,
		LastStableOffset: t.firstOpen(ev.offset + 1)}, true
}

// txnEvents returns the events of batches (whose headers, with their
// offsets, are hdrs), checking the markers, before they are written.
func txnEvents(batches []byte, hdrs []batchHeader) ([]txnEvent, error) {
	var evs []txnEvent
	pos := int64(0)
	for _, h := range hdrs {
		if h.attributes&attrTransactional != 0 {
			ev, ok, err := txnEventOf(batches[pos:pos+h.size()], h.baseOffset)
			if err != nil {
				return nil, err
			}
			if ok {
				evs = append(evs, ev)
			}
		}
		pos += h.size()
	}
	return evs, nil
}

// applyTxnEvents records appended events in the log's state and the
// active segment's aborted list and .txnindex. The caller holds mu. The
// file write is a cache (the seal rewrites and fsyncs it; Open rescans the
// active segment), so its failure, other than a full disk, fails the log
// as an index write does.
func (l *Log) applyTxnEvents(evs []txnEvent) error {
	s := l.active()
	for _, ev := range evs {
		if a, ok := l.txns.apply(ev); ok {
			s.aborted = append(s.aborted, a)
			if err := s.writeAbortedEntry(len(s.aborted) - 1); err != nil && !isNoSpace(err) {
				return err
			}
		}
	}
	return nil
}

// LastStableOffset returns min(hw, the first offset of the earliest open
// transaction): no read_committed consumer reads at or past it.
func (l *Log) LastStableOffset(hw int64) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.txns.firstOpen(hw)
}

// OpenTxnStart returns the first offset of producer pid's open
// transaction, if it has one.
func (l *Log) OpenTxnStart(pid int64) (int64, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	first, ok := l.txns[pid]
	return first, ok
}

// OpenTransactions returns the open transactions, by first offset.
func (l *Log) OpenTransactions() []OpenTxn {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]OpenTxn, 0, len(l.txns))
	for pid, f := range l.txns {
		out = append(out, OpenTxn{ProducerID: pid, FirstOffset: f})
	}
	slices.SortFunc(out, func(a, b OpenTxn) int {
		if a.FirstOffset != b.FirstOffset {
			return int(a.FirstOffset - b.FirstOffset)
		}
		return int(a.ProducerID - b.ProducerID)
	})
	return out
}

// AbortedTransactions returns the aborted transactions whose data may lie
// in [from, to): those with LastOffset >= from and FirstOffset < to, in
// the order of their markers. It looks at the segments from the one that
// holds from, and stops after the first segment with an entry whose
// LastStableOffset >= to (no transaction that began before to was open
// then), as Kafka's collectAbortedTransactions.
func (l *Log) AbortedTransactions(from, to int64) []AbortedTxn {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.abortedLocked(from, to)
}

// abortedLocked is AbortedTransactions; l.mu is held.
func (l *Log) abortedLocked(from, to int64) []AbortedTxn {
	var out []AbortedTxn
	for _, s := range l.segs {
		if s.next <= from {
			continue // its markers all lie below from
		}
		done := false
		for _, a := range s.aborted {
			if a.LastOffset >= from && a.FirstOffset < to {
				out = append(out, a)
			}
			done = done || a.LastStableOffset >= to
		}
		if done {
			break
		}
	}
	return out
}

// clone copies the open transactions (a new segment's txnStart).
func (t txnState) clone() txnState { return maps.Clone(t) }
