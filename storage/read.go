package storage

import (
	"errors"
	"fmt"
	"github.com/jocko/jocko/io/buggify"
	"math"
	"sort"
)

// batchesChunkBytes is how much Batches reads at a time.
const batchesChunkBytes = 1 << 20

// errStop ends a Batches walk early.
var errStop = errors.New("storage: stop")

// Read returns whole batches starting with the batch that contains offset,
// up to maxBytes, but always at least one whole batch if any is available
// (KIP-74), and never a batch whose base offset is >= upTo (the high
// watermark). A read stops at the end of a segment. offset == end returns
// nothing; offset < start or > end returns ErrOffsetOutOfRange. Every batch
// returned passed its CRC check. The result is a fresh slice.
//
// The log's lock is held only to pick the segment (see segView): the disk
// I/O runs without it, so a big read holds up no append.
func (l *Log) Read(offset int64, maxBytes int, upTo int64) ([]byte, error) {
	return l.read(offset, maxBytes, upTo, nil, false)
}

// readAttemptsMax bounds the retries of a read that a truncation raced.
const readAttemptsMax = 3

// errReadRaced is returned when truncations kept changing the log under a
// read readAttemptsMax times in a row.
var errReadRaced = errors.New("storage: the log was truncated during the read")

// read is Read into buf (reused when big enough), or into a buffer from the
// read pool when buf is too small and pooled is set. A read that a
// truncation (TruncateTo) overlapped may have seen bytes that are gone: it
// is thrown away and done again.
func (l *Log) read(offset int64, maxBytes int, upTo int64, buf []byte, pooled bool) ([]byte, error) {
	for range readAttemptsMax {
		data, raced, err := l.readOnce(offset, maxBytes, upTo, buf, pooled)
		if !raced {
			return data, err
		}
	}
	return nil, errReadRaced
}

// readOnce is one attempt of read; raced reports that a truncation began
// since the segment was picked, and the result must not be used.
func (l *Log) readOnce(offset int64, maxBytes int, upTo int64, buf []byte, pooled bool) (data []byte, raced bool, err error) {
	l.mu.RLock()
	if l.closed.Load() {
		l.mu.RUnlock()
		return nil, false, ErrClosed
	}
	start, end := l.start.Load(), l.end.Load()
	if offset < start || offset > end {
		l.mu.RUnlock()
		return nil, false, ErrOffsetOutOfRange // bare: callers compare it with ==
	}
	if offset == end {
		l.mu.RUnlock()
		return nil, false, nil
	}
	v, err := l.segmentFor(offset).view()
	v.epochs = l.epochs // never changed in place: a snapshot, as true as v.size
	cuts := l.cuts.Load()
	l.mu.RUnlock()
	if err != nil {
		return nil, l.cuts.Load() != cuts, err
	}
	data, fromPool, err := v.read(offset, maxBytes, upTo, buf, pooled)
	v.release()
	if l.cuts.Load() != cuts {
		if fromPool {
			readPool.put(data)
		}
		return nil, true, nil
	}
	return data, false, err
}

// segView is a segment as a reader took it under the log's lock: a
// reference that keeps its read handle open, its size then, and its index
// (the active segment's entries as they were, or a sealed segment's index
// files opened under the lock, so that a compaction swapping the files
// afterwards cannot hand the reader another segment's index). Its I/O needs
// no lock: bytes below size never change, except by a truncation, which
// the reader detects (Log.cuts) and retries.
type segView struct {
	s        *segment
	size     int64
	src      entrySource
	closeSrc func()
	// epochs is the log's leader-epoch cache when the view was taken:
	// every batch below size carries the epoch it names for its offset.
	epochs []EpochEntry
}

// view returns a view of s. The caller holds mu, and releases the view.
func (s *segment) view() (segView, error) {
	src, closeSrc, err := s.entrySource()
	if err != nil {
		return segView{}, err
	}
	s.acquire()
	return segView{s: s, size: s.size, src: src, closeSrc: closeSrc}, nil
}

func (v segView) release() {
	v.closeSrc()
	v.s.release()
}

// read reads the batches from the one holding offset (see Log.read);
// fromPool says data is a pooled buffer.
func (v segView) read(offset int64, maxBytes int, upTo int64, buf []byte, pooled bool) (data []byte, fromPool bool, err error) {
	s := v.s
	pos, h, err := v.locate(offset)
	if err != nil || h.baseOffset >= upTo {
		return nil, false, err
	}
	if pos+h.size() > v.size {
		// Its length field is wrong (outside the CRC): no read would
		// ever return it, nor anything after it.
		return nil, false, &CorruptError{Offset: h.baseOffset, Segment: s.base, Pos: pos,
			Err: fmt.Errorf("%w: batch of %d bytes runs past the segment's end %d", ErrCorrupt, h.size(), v.size)}
	}
	n := min(max(int64(maxBytes), h.size()), v.size-pos, max(readBytesMax, h.size()))
	if buggify.On(buggify.StorageShortRead) {
		n = h.size() // a read is a prefix: one batch is a valid answer
	}
	switch {
	case int64(cap(buf)) >= n:
		buf = buf[:n]
	case pooled:
		buf, fromPool = readPool.get(n), true
	default:
		buf = make([]byte, n)
	}
	p, err := s.checkRead(buf, pos, h.baseOffset, upTo, v.epochs)
	if err != nil {
		if fromPool {
			readPool.put(buf)
		}
		return nil, false, err
	}
	return buf[:p], fromPool, nil
}

// locate is segment.locate on the view.
func (v segView) locate(offset int64) (int64, batchHeader, error) {
	rel := uint32(offset - v.s.base)
	e, err := search(v.src, func(e indexEntry) bool { return e.rel <= rel })
	if err == nil && int64(e.pos) >= max(v.size, 1) {
		e = indexEntry{} // a bad index entry: walk from the segment's start
	}
	if err != nil {
		return 0, batchHeader{}, err
	}
	return v.s.scanTo(e, v.size, offset)
}

// checkRead fills buf from pos and returns how many of its bytes are whole
// batches, consecutive from offset next, below upTo, and intact: a header
// that parses, the expected base offset, the CRC, and the leader epoch the
// log's epoch cache (epochs; none: unchecked) names for that offset. The
// epoch lies outside the CRC's cover, so the cache is what vouches for it:
// a flip there would otherwise reach a follower, which would take a wrong
// epoch into its own cache.
func (s *segment) checkRead(buf []byte, pos, next, upTo int64, epochs []EpochEntry) (int64, error) {
	if err := s.readAt(buf, pos); err != nil {
		return 0, err
	}
	n, p := int64(len(buf)), int64(0)
	skipCRC := buggify.Broken(buggify.SkipReadCRC)
	ei := epochIndex(epochs, next) // the entry covering the batch at next; -1: unchecked
	// corrupt answers the intact batches before a bad one; the bad one
	// itself when it comes first (a read from it).
	corrupt := func(err error) (int64, error) {
		if p > 0 {
			return p, nil
		}
		return 0, &CorruptError{Offset: next, Segment: s.base, Pos: pos + p, Err: err}
	}
	for p+batchHeaderLen <= n {
		bh, err := parseBatchHeader(buf[p:])
		if err != nil {
			return corrupt(err)
		}
		if bh.baseOffset != next {
			return corrupt(fmt.Errorf("%w: batch at offset %d, expected %d", ErrCorrupt, bh.baseOffset, next))
		}
		if bh.baseOffset >= upTo || p+bh.size() > n {
			break
		}
		if !skipCRC {
			if err := checkBatchCRC(buf[p : p+bh.size()]); err != nil {
				return corrupt(err)
			}
		}
		if ei >= 0 {
			for ei+1 < len(epochs) && epochs[ei+1].StartOffset <= bh.baseOffset {
				ei++ // batches come in offset order: walk the cache along
			}
			if e := epochs[ei]; bh.leaderEpoch != e.Epoch {
				return corrupt(fmt.Errorf("%w: batch leader epoch %d, the log's epoch cache says %d from offset %d on",
					ErrCorrupt, bh.leaderEpoch, e.Epoch, e.StartOffset))
			}
		}
		p, next = p+bh.size(), bh.nextOffset()
	}
	return p, nil
}

// CorruptError is a batch that failed its checks where a read found it: a
// CRC that does not match, a header that does not parse, or a base offset
// out of sequence (a bit flipped on disk, or a torn write). Offset is the
// first offset the log cannot vouch for: the bad batch's base offset as the
// batches before it say it must be (the segment's base when its index is
// bad). Everything below Offset read back intact; truncating the log to
// Offset removes the bad batch and keeps the rest. It wraps ErrCorrupt.
type CorruptError struct {
	Offset  int64
	Segment int64 // the segment's base offset
	Pos     int64 // the bad batch's byte position in the segment; -1 if unknown
	Err     error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("segment %d position %d (offset %d): %v", e.Segment, e.Pos, e.Offset, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// segmentFor returns the segment that holds offset (the last one whose
// base is <= offset). Caller holds mu.
func (l *Log) segmentFor(offset int64) *segment {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset })
	return l.segs[max(i-1, 0)]
}

// locate returns the position and header of the batch holding offset.
// Caller holds mu.
func (s *segment) locate(offset int64) (int64, batchHeader, error) {
	e, err := s.floorEntry(offset)
	if err != nil {
		return 0, batchHeader{}, err
	}
	return s.scanTo(e, s.size, offset)
}

// scanTo walks the batch headers of a segment of size bytes from index
// entry e to the batch holding offset.
func (s *segment) scanTo(e indexEntry, size, offset int64) (int64, batchHeader, error) {
	pos, want := int64(e.pos), s.base+int64(e.rel)
	for pos < size {
		h, err := s.headerIn(pos, size)
		if err == nil && h.baseOffset != want {
			err = fmt.Errorf("%w: batch at offset %d, expected %d", ErrCorrupt, h.baseOffset, want)
		}
		if errors.Is(err, ErrCorrupt) {
			if pos == int64(e.pos) && e.pos != 0 {
				// The index entry or the batch it points at is bad: walk
				// from the segment's start, which names the bad batch.
				return s.scanTo(indexEntry{}, size, offset)
			}
			return 0, h, &CorruptError{Offset: want, Segment: s.base, Pos: pos, Err: err}
		}
		if err != nil {
			return 0, h, err
		}
		if h.nextOffset() > offset {
			return pos, h, nil
		}
		if pos+h.size() > size {
			// Its length field is wrong (outside the CRC): blame it, not
			// whatever offset the walk would have looked for next.
			return 0, h, &CorruptError{Offset: want, Segment: s.base, Pos: pos,
				Err: fmt.Errorf("%w: batch of %d bytes runs past the segment's end %d", ErrCorrupt, h.size(), size)}
		}
		pos, want = pos+h.size(), h.nextOffset()
	}
	return 0, batchHeader{}, &CorruptError{Offset: want, Segment: s.base, Pos: pos,
		Err: fmt.Errorf("%w: offset %d not found in segment %d", ErrCorrupt, offset, s.base)}
}

// Batches calls fn for every batch from the one containing from (or the
// log start, if later) to the end, in order. raw is valid only during the
// call; fn may call other methods of the log. An error from fn stops the
// walk and is returned. Each chunk is read as Read does, without the lock.
func (l *Log) Batches(from int64, fn func(baseOffset int64, raw []byte) error) error {
	var buf []byte
	for off := from; ; {
		off = max(off, l.start.Load())
		if off >= l.end.Load() {
			return nil // the end: also when a batch runs past it (only the ReuseOffsetAfterRestart bug does that)
		}
		chunk, err := l.read(off, batchesChunkBytes, math.MaxInt64, buf, false)
		if errors.Is(err, ErrOffsetOutOfRange) && (off < l.start.Load() || off >= l.end.Load()) {
			continue // retention or a truncation moved the bounds meanwhile
		}
		if err != nil || len(chunk) == 0 {
			return err
		}
		buf = chunk
		for p := int64(0); p < int64(len(chunk)); {
			h, err := parseBatchHeader(chunk[p:])
			if err != nil {
				return err
			}
			if err := fn(h.baseOffset, chunk[p:p+h.size()]); err != nil {
				return err
			}
			p, off = p+h.size(), h.nextOffset()
		}
	}
}

// OffsetForTime returns the first offset at or after the log start whose
// record timestamp is >= ts, and that record's timestamp; ok is false if
// there is none. Compressed batches are decoded to find the exact record.
func (l *Log) OffsetForTime(ts int64) (offset, timestamp int64, ok bool, err error) {
	l.mu.RLock()
	if l.closed.Load() {
		l.mu.RUnlock()
		return 0, 0, false, ErrClosed
	}
	start := l.start.Load()
	var from int64 = -1
	for _, s := range l.segs {
		if s.maxTs >= ts && s.next > start {
			e, err := s.timeEntry(ts)
			if err != nil {
				l.mu.RUnlock()
				return 0, 0, false, err
			}
			from = max(s.base+int64(e.rel), start)
			break
		}
	}
	l.mu.RUnlock()
	if from < 0 {
		return 0, 0, false, nil
	}
	err = l.Batches(from, func(base int64, raw []byte) error {
		h, err := parseBatchHeader(raw)
		if err != nil || h.maxTimestamp < ts {
			return err
		}
		werr := walkRecordTimes(raw, func(delta int32, rts int64) bool {
			if o := base + int64(delta); o >= start && rts >= ts {
				offset, timestamp, ok = o, rts, true
			}
			return !ok
		})
		if werr == nil && ok {
			return errStop
		}
		return werr
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return offset, timestamp, ok, err
}

// MaxTimestamp returns the offset and timestamp of the first record with
// the largest timestamp (ListOffsets -3); ok is false for an empty log.
func (l *Log) MaxTimestamp() (offset, timestamp int64, ok bool, err error) {
	l.mu.RLock()
	if l.closed.Load() {
		l.mu.RUnlock()
		return 0, 0, false, ErrClosed
	}
	start := l.start.Load()
	var best *segment
	for _, s := range l.segs {
		if s.next > start && s.size > 0 && (best == nil || s.maxTs > best.maxTs) {
			best = s
		}
	}
	if best == nil {
		l.mu.RUnlock()
		return 0, 0, false, nil
	}
	from, stop, target := max(best.base+int64(best.maxTsRel), start), best.next, best.maxTs
	l.mu.RUnlock()
	err = l.Batches(from, func(base int64, raw []byte) error {
		h, err := parseBatchHeader(raw)
		if err != nil {
			return err
		}
		if base >= stop {
			return errStop
		}
		if h.maxTimestamp != target {
			return nil
		}
		offset, timestamp, ok = base, target, true
		werr := walkRecordTimes(raw, func(delta int32, rts int64) bool {
			if rts == target {
				offset = base + int64(delta)
				return false
			}
			return true
		})
		if werr != nil {
			return werr
		}
		return errStop
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return offset, timestamp, ok, err
}

// Scrub checks about len(buf) bytes of batches from offset from (the log
// start, if from is below it) as a read does (headers, sequence and CRCs;
// at least one whole batch, within one segment). It returns the offset to
// go on from (the log end once the walk reaches it) and how many bytes it
// checked. A bad batch is a *CorruptError. buf is the caller's scratch
// space: a batch bigger than it is read into a buffer of its own.
func (l *Log) Scrub(from int64, buf []byte) (next int64, checked int, err error) {
	for range readAttemptsMax {
		from = max(from, l.start.Load())
		end := l.end.Load()
		if from >= end {
			return end, 0, nil
		}
		data, err := l.read(from, len(buf), math.MaxInt64, buf[:0:len(buf)], false)
		if errors.Is(err, ErrOffsetOutOfRange) {
			continue // retention or a truncation moved the bounds meanwhile
		}
		if err != nil {
			return from, 0, err
		}
		next := from
		for p := 0; p < len(data); {
			h, err := parseBatchHeader(data[p:])
			if err != nil {
				return from, p, err // read checked it
			}
			p, next = p+int(h.size()), h.nextOffset()
		}
		if next == from {
			return end, 0, nil // nothing readable here: do not spin
		}
		return next, len(data), nil
	}
	return from, 0, errReadRaced
}
