package storage

import (
	"errors"
	"fmt"

	"github.com/jocko/jocko/io/buggify"
)

// Append assigns offsets to already-validated v2 batches (as a producer
// sent them: one or more back to back). It rewrites each batch's
// BaseOffset (consecutive from the log end) and PartitionLeaderEpoch in
// place in batches, appends them to the active segment (rolling first if
// needed) and updates the indexes. It does not fsync (see Sync). A
// leaderEpoch above the log's latest starts a new entry of the epoch
// cache (its checkpoint is rewritten first, durably); a lower one is
// refused with ErrStaleEpoch.
func (l *Log) Append(batches []byte, leaderEpoch int32) (AppendInfo, error) {
	return l.append(batches, leaderEpoch, false)
}

// AppendReplica appends batches whose offsets were already assigned by a
// leader (for followers): the first BaseOffset must equal the log end
// offset and each batch must follow the previous one. The batches are
// stored unchanged. Each batch's PartitionLeaderEpoch feeds the epoch
// cache as in Append: epochs may not decrease (ErrStaleEpoch), and the
// first batch of a higher one starts a new entry.
func (l *Log) AppendReplica(batches []byte) (AppendInfo, error) {
	return l.append(batches, 0, true)
}

// sealingMax bounds the rolled segments waiting for their seal (and
// holding three file handles each) when Sync is rare (flush.messages > 1):
// past it, the append that rolled syncs them before it returns.
const sealingMax = 2

func (l *Log) append(batches []byte, epoch int32, replica bool) (AppendInfo, error) {
	info, backlog, err := l.appendLocked(batches, epoch, replica)
	if err == nil && backlog {
		// Outside mu: appends and reads go on. An error is sticky and
		// reaches the next Sync or Append; this append is in the log.
		l.Sync(info.FirstOffset)
	}
	return info, err
}

// appendLocked is append with mu held; backlog reports that more than
// sealingMax rolled segments wait for their seal.
func (l *Log) appendLocked(batches []byte, epoch int32, replica bool) (_ AppendInfo, backlog bool, _ error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return AppendInfo{}, false, err
	}
	first := l.end.Load()
	nowMs := l.clk.Now().UnixMilli()
	hdrs, err := l.parseBatches(batches, first, replica)
	if err != nil {
		return AppendInfo{}, false, err
	}
	last := hdrs[len(hdrs)-1].lastOffset()
	if int64(len(batches)) > l.cfg.SegmentBytes || last-first > relativeOffsetMax {
		return AppendInfo{}, false, fmt.Errorf("%w: %d bytes, %d offsets, segment.bytes %d", ErrBatchTooLarge, len(batches), last-first+1, l.cfg.SegmentBytes)
	}
	epochs, err := l.epochsAfter(hdrs, epoch, replica)
	if err != nil {
		return AppendInfo{}, false, err
	}
	txnEvs, err := txnEvents(batches, hdrs)
	if err != nil {
		return AppendInfo{}, false, err
	}
	if l.mustRoll(int64(len(batches)), len(hdrs), last, nowMs) ||
		(l.active().size > 0 && buggify.On(buggify.StorageRoll)) {
		if err := l.roll(); err != nil {
			return AppendInfo{}, false, err
		}
		backlog = l.sealsPending() > sealingMax
	}
	info := AppendInfo{FirstOffset: first, LastOffset: last, MaxTimestamp: -1, AppendTimeMs: nowMs}
	pos := int64(0)
	for i := range hdrs {
		h := &hdrs[i]
		if !replica {
			setBaseOffset(batches[pos:], h.baseOffset)
			setLeaderEpoch(batches[pos:], epoch)
		}
		info.MaxTimestamp = max(info.MaxTimestamp, h.maxTimestamp)
		pos += h.size()
	}
	if epochs != nil {
		// The checkpoint first: it may claim an offset a crash loses (Open
		// drops such entries), never lack an epoch the log holds.
		if err := writeEpochFile(l.fs, l.dir, epochs); err != nil {
			if isNoSpace(err) {
				// The old checkpoint stands (it is replaced by a rename).
				return AppendInfo{}, false, fmt.Errorf("%w: epoch checkpoint: %v", ErrNoSpace, err)
			}
			return AppendInfo{}, false, l.fail(err)
		}
	}
	if err := l.active().append(batches, hdrs, l.cfg.IndexIntervalBytes, nowMs); err != nil {
		if errors.Is(err, ErrNoSpace) {
			return AppendInfo{}, false, err
		}
		return AppendInfo{}, false, l.fail(err)
	}
	if epochs != nil {
		l.epochs = epochs
	}
	l.end.Store(last + 1)
	if err := l.applyTxnEvents(txnEvs); err != nil {
		return AppendInfo{}, false, l.fail(err)
	}
	return info, backlog, nil
}

// parseBatches checks every batch of a request and returns their headers
// with the base offsets they get (for a replica, the ones they carry).
func (l *Log) parseBatches(b []byte, next int64, replica bool) ([]batchHeader, error) {
	hdrs := l.hdrs[:0]
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: no record batches to append", ErrCorrupt)
	}
	for pos := int64(0); pos < int64(len(b)); {
		h, err := parseBatchHeader(b[pos:])
		if err != nil {
			return nil, err
		}
		end := pos + h.size()
		if end > int64(len(b)) {
			return nil, fmt.Errorf("%w: batch at byte %d claims %d bytes, %d left", ErrCorrupt, pos, h.size(), int64(len(b))-pos)
		}
		if err := checkBatchCRC(b[pos:end]); err != nil {
			return nil, err
		}
		if replica && h.baseOffset != next {
			return nil, fmt.Errorf("%w: replica batch at offset %d, log expects %d", ErrInvalidOffset, h.baseOffset, next)
		}
		h.baseOffset = next
		next = h.nextOffset()
		hdrs = append(hdrs, h)
		pos = end
	}
	l.hdrs = hdrs
	return hdrs, nil
}

// mustRoll reports whether n more bytes in nb batches ending at offset
// last would overflow the active segment, or it is too old.
func (l *Log) mustRoll(n int64, nb int, last, nowMs int64) bool {
	s := l.active()
	if s.size == 0 {
		return false
	}
	return s.size+n > l.cfg.SegmentBytes ||
		len(s.entries)+nb > l.cfg.indexEntriesMax() ||
		last-s.base > relativeOffsetMax ||
		nowMs-s.rollMs > l.cfg.SegmentMs
}

// roll starts a new active segment at the log end. The old segment is sealed in
// memory only (segment.detach): its fsyncs, its seal entries and the
// directory sync that makes the new file's name durable are left to the
// next Sync, outside mu, so no append waits for them. The durable end
// passes the old segment's end only once that Sync has done them. An empty
// active segment is not rolled. Caller holds mu.
//
// The new segment's files are created before the old one is detached, so
// a full file system (ErrNoSpace) leaves the log as it was.
func (l *Log) roll() error {
	if l.active().size == 0 {
		return nil // a new segment would be this one, files and all
	}
	s, err := createSegment(l.fs, l.dir, l.end.Load())
	if err != nil {
		if isNoSpace(err) {
			// Whatever files were made are empty and not yet known.
			s = newSegment(l.fs, l.dir, l.end.Load())
			if rerr := s.remove(); rerr == nil {
				return fmt.Errorf("%w: new segment: %v", ErrNoSpace, err)
			}
		}
		return l.fail(err)
	}
	l.active().txnEnd = l.txns.clone()
	s.txnStart = l.txns.clone()
	job, err := l.active().detach()
	if err != nil {
		if errors.Is(err, ErrNoSpace) && s.remove() == nil {
			return err
		}
		s.remove()
		return l.fail(err)
	}
	l.queueSeal(job)
	l.segs = append(l.segs, s)
	l.sealMu.Lock()
	l.dirDirty = true
	l.sealMu.Unlock()
	if l.rollHook != nil {
		l.rollHook(s.base)
	}
	return nil
}
