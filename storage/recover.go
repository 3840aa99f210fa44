package storage

import (
	"errors"
	"fmt"
	"io"
)

// readBatch reads the whole batch at pos, which must end at or before
// limit, and checks its header and CRC. Damage is reported as ErrCorrupt;
// anything else is an I/O error. buf is reused when big enough.
func (s *segment) readBatch(pos, limit int64, buf []byte) (batchHeader, []byte, error) {
	if pos+batchHeaderLen > limit {
		return batchHeader{}, nil, fmt.Errorf("%w: %d bytes left at %d, less than a batch header", ErrCorrupt, limit-pos, pos)
	}
	var hb [batchHeaderLen]byte
	if err := s.readAt(hb[:], pos); err != nil {
		return batchHeader{}, nil, err
	}
	h, err := parseBatchHeader(hb[:])
	if err != nil {
		return h, nil, err
	}
	if pos+h.size() > limit {
		return h, nil, fmt.Errorf("%w: batch of %d bytes at %d runs past %d", ErrCorrupt, h.size(), pos, limit)
	}
	if int64(cap(buf)) < h.size() {
		buf = make([]byte, h.size())
	}
	buf = buf[:h.size()]
	if err := s.readAt(buf, pos); err != nil {
		return h, nil, err
	}
	if err := checkBatchCRC(buf); err != nil {
		return h, nil, err
	}
	return h, buf, nil
}

// recoverTail makes s the active segment after a restart or a truncation:
// it loads the index entries that agree with the .log, CRC-scans from the
// last entry whose batch checks out to the end of the file, and truncates
// a torn or corrupt tail (unless keepTornTail: the skip-torn-tail broken variant). clean reports that
// the whole file was valid. s must have its write handles open.
func (s *segment) recoverTail(indexInterval int32, keepTornTail bool, nowMs int64) (clean bool, err error) {
	fi, err := s.w.Stat()
	if err != nil {
		return false, err
	}
	logSize := fi.Size()
	from, err := s.loadTrustedEntries(logSize)
	if err != nil {
		return false, err
	}
	s.next, s.size, s.maxTs, s.maxTsRel, s.lastBase = s.base+int64(from.rel), int64(from.pos), from.tsBefore, 0, -1
	s.maxTsRel = s.maxTsHint()
	pos := s.size
	var buf []byte
	for pos < logSize {
		h, raw, err := s.readBatch(pos, logSize, buf)
		if errors.Is(err, ErrCorrupt) || (err == nil && h.baseOffset != s.next) ||
			(err == nil && h.lastOffset()-s.base > relativeOffsetMax) {
			break // torn or corrupt tail: everything from pos goes
		}
		if err != nil {
			return false, err
		}
		buf = raw
		s.track(h, pos, indexInterval, nowMs)
		pos = s.size
	}
	clean = pos == logSize
	if err := s.setRollTime(nowMs); err != nil {
		return false, err
	}
	if !clean && !keepTornTail {
		if err := s.w.Truncate(pos); err != nil {
			return false, err
		}
	}
	writeAt := pos
	if keepTornTail { // the skip-torn-tail broken variant
		writeAt, s.size = logSize, logSize
	}
	return clean, s.resetWriters(writeAt)
}

// loadTrustedEntries reads the index files, keeps the entries that agree
// with each other and the .log, drops trailing entries whose batch fails
// its checks, and returns the last one kept (or the implicit first).
func (s *segment) loadTrustedEntries(logSize int64) (indexEntry, error) {
	fs := s.fs
	oi, err := readIndexFile(fs, s.path(indexSuffix))
	if err != nil {
		return indexEntry{}, err
	}
	ti, err := readIndexFile(fs, s.path(timeIndexSuffix))
	if err != nil {
		return indexEntry{}, err
	}
	entries := zipEntries(oi, ti, logSize)
	for len(entries) > 0 {
		e := entries[len(entries)-1]
		h, _, err := s.readBatch(int64(e.pos), logSize, nil)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			return indexEntry{}, err
		}
		if err == nil && h.baseOffset == s.base+int64(e.rel) {
			break
		}
		entries = entries[:len(entries)-1]
	}
	s.entries, s.persisted = entries, len(entries)
	if len(entries) == 0 {
		return indexEntry{tsBefore: -1}, nil
	}
	return entries[len(entries)-1], nil
}

// maxTsHint returns where to start looking for the batch with s.maxTs when
// it lies before the last index entry: just before the first entry that
// already has it in its tsBefore.
func (s *segment) maxTsHint() uint32 {
	hint := uint32(0)
	for _, e := range s.entries {
		if e.tsBefore >= s.maxTs {
			break
		}
		hint = e.rel
	}
	return hint
}

// setRollTime sets when the segment counts as started for segment.ms: the
// first batch's timestamp if it is sane, else now.
func (s *segment) setRollTime(nowMs int64) error {
	s.rollMs = nowMs
	if s.size == 0 {
		return nil
	}
	var hb [batchHeaderLen]byte
	if err := s.readAt(hb[:], 0); err != nil {
		return err
	}
	if h, err := parseBatchHeader(hb[:]); err == nil && h.maxTimestamp >= 0 && h.maxTimestamp < nowMs {
		s.rollMs = h.maxTimestamp
	}
	return nil
}

// resetWriters cuts the index files to the entries already persisted,
// positions every write handle at its end and writes the new entries.
func (s *segment) resetWriters(logEnd int64) error {
	oiLen, tiLen := int64(s.persisted)*offsetEntryLen, int64(s.persisted)*timeEntryLen
	if err := s.wi.Truncate(oiLen); err != nil {
		return err
	}
	if err := s.wt.Truncate(tiLen); err != nil {
		return err
	}
	for _, p := range []struct {
		f interface {
			Seek(int64, int) (int64, error)
		}
		at int64
	}{{s.w, logEnd}, {s.wi, oiLen}, {s.wt, tiLen}} {
		if _, err := p.f.Seek(p.at, io.SeekStart); err != nil {
			return err
		}
	}
	return s.flushIndex()
}

// makeDurable writes the segment's bytes [0, size) again and fsyncs them.
// After a restart the page cache may hold bytes that never reached the
// disk and never will: Linux marks the pages a failed fsync was asked to
// write clean, so a later fsync skips them (PostgreSQL's "fsyncgate"),
// and a broker that trusted them would acknowledge records after a hole
// that the next power cut opens. Written again, the pages are dirty, and
// the fsync makes them durable before anything new is appended. Open does
// this for every segment without a seal, unless the log was closed
// cleanly with that segment synced (durableFileName).
func (s *segment) makeDurable() error {
	buf := make([]byte, min(s.size, 1<<20))
	for pos := int64(0); pos < s.size; {
		n := min(int64(len(buf)), s.size-pos)
		if err := s.readAt(buf[:n], pos); err != nil {
			return err
		}
		if _, err := s.w.WriteAt(buf[:n], pos); err != nil {
			return err
		}
		pos += n
	}
	return s.w.Sync()
}
