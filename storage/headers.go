package storage

import (
	"fmt"

	"github.com/jocko/jocko/wire"
)

// BatchHeaders reads headerChunkBytes at a time while batches are small
// (their headers come many to a read), and headerSkipBytes after a batch
// of that size or more (the next header and maybe a few more), so that a
// log of big batches costs a small read per batch, not its bytes.
const (
	headerChunkBytes = 64 << 10
	headerSkipBytes  = 4 << 10
)

// BatchHeaders calls fn with the header of every batch from the one that
// contains from (or the log start, if later) to the log end, in order,
// without reading the records: what rebuilding state kept in the headers
// needs (the producer table after a restart). Each header is checked for
// shape and for starting where the batch before it ended, not against its
// CRC: sealed segments were fsynced whole when they were sealed, and Open
// CRC-scans the tail of the active one. The log's lock is held per chunk,
// not across fn, which may call the log. An error from fn stops the walk
// and is returned.
func (l *Log) BatchHeaders(from int64, fn func(wire.BatchHeader) error) error {
	buf := make([]byte, headerChunkBytes)
	at := headerPos{base: -1}
	var hdrs []wire.BatchHeader
	for off := from; ; {
		var err error
		hdrs, off, at, err = l.headerChunk(off, at, buf, hdrs[:0])
		if err != nil {
			return err
		}
		if len(hdrs) == 0 {
			return nil
		}
		for _, h := range hdrs {
			if err := fn(h); err != nil {
				return err
			}
		}
	}
}

// headerPos is where the next header of a BatchHeaders walk lies: a
// position in the segment named by base (-1: look it up by offset), and
// how much to read there (0: headerChunkBytes).
type headerPos struct {
	base, pos, read int64
}

// headerChunk reads one chunk of headers from offset off, at the position
// at if it still names the segment that holds off, and returns the headers
// with the offset and position that follow them. No headers: the end.
func (l *Log) headerChunk(off int64, at headerPos, buf []byte, hdrs []wire.BatchHeader) ([]wire.BatchHeader, int64, headerPos, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return nil, off, at, ErrClosed
	}
	end := l.end.Load()
	off = max(off, l.start.Load())
	if off >= end {
		return hdrs, off, at, nil
	}
	s := l.segmentFor(off)
	pos, want := at.pos, off
	if at.base != s.base || pos >= s.size {
		p, h, err := s.locate(off)
		if err != nil {
			return nil, off, at, err
		}
		pos, want = p, h.baseOffset
	}
	n := int64(len(buf))
	if at.read > 0 {
		n = min(n, at.read)
	}
	n = min(n, s.size-pos)
	if err := s.readAt(buf[:n], pos); err != nil {
		return nil, off, at, err
	}
	p, last := int64(0), int64(0)
	for p+batchHeaderLen <= n && want < end {
		h, err := parseBatchHeader(buf[p:])
		if err != nil {
			return nil, off, at, fmt.Errorf("segment %d position %d: %w", s.base, pos+p, err)
		}
		if h.baseOffset != want {
			return nil, off, at, fmt.Errorf("%w: segment %d position %d: batch at offset %d, expected %d", ErrCorrupt, s.base, pos+p, h.baseOffset, want)
		}
		wh, err := wire.ParseBatchHeader(buf[p:])
		if err != nil {
			return nil, off, at, fmt.Errorf("%w: segment %d position %d: %v", ErrCorrupt, s.base, pos+p, err)
		}
		hdrs = append(hdrs, wh)
		p, want, last = p+h.size(), h.nextOffset(), h.size()
	}
	if len(hdrs) == 0 {
		// Less than a header left before the segment's end: its size
		// and its batches disagree.
		return nil, off, at, fmt.Errorf("%w: segment %d position %d: no whole batch header in %d bytes", ErrCorrupt, s.base, pos, n)
	}
	read := int64(headerChunkBytes)
	if last >= headerSkipBytes {
		read = headerSkipBytes
	}
	if pos+p >= s.size {
		return hdrs, max(want, s.next), headerPos{base: -1, read: read}, nil // the next segment
	}
	return hdrs, want, headerPos{base: s.base, pos: pos + p, read: read}, nil
}

// SetRollHook sets fn to run after each roll with the base offset of the
// new active segment: where Kafka snapshots its producer state. fn runs
// with the log's lock held, so it must return at once and must not call
// the log.
func (l *Log) SetRollHook(fn func(base int64)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollHook = fn
}
