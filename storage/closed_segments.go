package storage

// SegmentInfo describes one closed segment, for retention decided outside
// the log (the broker's disk budget, core/disk_retention.go), which then
// deletes a prefix of the log with DeleteBefore(Next).
type SegmentInfo struct {
	Base  int64 // its first offset still in the log (the log start for the first segment)
	Next  int64 // the offset after its last batch: DeleteBefore(Next) deletes it and all before it
	Bytes int64 // bytes of batches in its .log
	// MaxTimestamp is its newest batch's MaxTimestamp, or when it got its
	// first batch if it has none: how old its data is.
	MaxTimestamp int64
}

// ClosedSegments lists the segments but the active one, oldest first.
// The active segment is never deleted by retention: it is where appends
// go.
func (l *Log) ClosedSegments() []SegmentInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	start := l.start.Load()
	out := make([]SegmentInfo, 0, len(l.segs)-1)
	for _, s := range l.segs[:len(l.segs)-1] {
		if s.next <= start {
			continue // below the start: EnforceRetention removes it
		}
		ts := s.maxTs
		if ts < 0 {
			ts = s.rollMs
		}
		out = append(out, SegmentInfo{Base: max(s.base, start), Next: s.next, Bytes: s.size, MaxTimestamp: ts})
	}
	return out
}

// DeleteSegmentsBefore deletes the closed segments that end at or before
// offset, oldest first (never the active one), and returns how many it
// deleted; the log start moves up to the first segment left. Like
// EnforceRetention, and unlike DeleteBefore, it writes nothing: the start
// after a crash is the first segment Open finds, so it works on a full
// file system, which is when the broker's disk budget needs it most.
func (l *Log) DeleteSegmentsBefore(offset int64) (int, error) {
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	if err := l.lockAll(); err != nil {
		return 0, err
	}
	gone := l.detachSegments(func(s *segment) bool { return s.next <= offset })
	if err := l.unlockDetached(gone); err != nil {
		return 0, err
	}
	return len(gone.segs), l.removeSegments(gone)
}
