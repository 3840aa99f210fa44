package storage

import (
	"errors"
	"fmt"
	"slices"

	jio "github.com/jocko/jocko/io"
)

// StartOffset returns the log start offset.
func (l *Log) StartOffset() int64 { return l.start.Load() }

// EndOffset returns the log end offset: the next offset to assign.
func (l *Log) EndOffset() int64 { return l.end.Load() }

// Size returns the bytes of batches on disk in all segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// Segments returns how many segments the log has, the active one included.
func (l *Log) Segments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segs)
}

// SetConfig changes the configuration; it applies from the next call.
func (l *Log) SetConfig(cfg Config) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = cfg.normalized()
}

// lockAll takes the locks of a structural change and checks the log can
// be written. On success the caller must call unlockAll.
func (l *Log) lockAll() error {
	l.opMu.Lock()
	l.mu.Lock()
	if err := l.writable(); err != nil {
		l.unlockAll()
		return err
	}
	return nil
}

func (l *Log) unlockAll() {
	l.mu.Unlock()
	l.opMu.Unlock()
}

// TruncateTo removes every batch at or above offset (follower truncation)
// and makes the cut durable, then drops the epoch-cache entries that
// start at or past the new end. offset must be a batch boundary; at or
// past the end it leaves the batches alone but still drops an entry at the
// end (an epoch this log began as leader without writing to it, which
// would conflict with the new leader's; Kafka does the same). Below the
// log start it empties the log and its epoch cache and restarts it at
// offset.
//
// It is the one structural change that fsyncs with mu held (a follower's
// truncation is rare, and its appends come after it): first the seals of
// rolled segments, so that it cuts only whole, sealed ones, then the cut.
func (l *Log) TruncateTo(offset int64) error {
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	if err := l.lockAll(); err != nil {
		return err
	}
	defer l.unlockAll()
	if offset >= l.end.Load() {
		return l.truncateEpochsEnd(l.end.Load())
	}
	if err := l.finishAllSeals(); err != nil {
		return err
	}
	l.cuts.Add(1) // before any byte goes: readers in flight retry
	if offset < l.start.Load() {
		if err := l.truncateFully(offset); err != nil {
			return l.fail(err)
		}
		return nil
	}
	i := len(l.segs) - 1
	for l.segs[i].base > offset {
		i--
	}
	s := l.segs[i]
	pos, h, err := s.locate(offset)
	if err != nil {
		return err
	}
	if h.baseOffset != offset {
		return fmt.Errorf("%w: truncating to %d inside the batch at %d", ErrInvalidOffset, offset, h.baseOffset)
	}
	if err := l.cutAt(i, pos); err != nil {
		return l.fail(err)
	}
	return l.cutDone(s, offset)
}

// cutDone brings the log's state to a cut (cutAt) that left s, now the
// active segment, ending at end: its transactions, the end, the durable
// end and the epoch cache.
func (l *Log) cutDone(s *segment, end int64) error {
	s.txnFiles = true // a .txnopen of its sealed past goes at its next seal
	txns, err := s.rescanTxns(s.txnStart)
	if err != nil {
		return l.fail(err)
	}
	l.txns = txns
	l.end.Store(end)
	l.durable.Store(min(l.durable.Load(), end))
	// After the durable cut: a crash in between leaves entries past the
	// end, which Open drops.
	return l.truncateEpochsEnd(end)
}

// TruncateCorrupt cuts the log at the bad batch a read reported: at its
// byte position in its segment, trusting no header from there on (a
// flipped base offset, magic or length makes TruncateTo's lookup of the
// offset fail). The intact batches before it are checked again as the
// segment's tail is recovered, and the log ends where they end, which it
// returns. A segment that is gone (retention, a truncation) leaves the log
// as it is; a bad batch below the log start empties the log, which starts
// over there. Like TruncateTo it makes the cut durable and drops the epoch
// entries past the new end.
func (l *Log) TruncateCorrupt(ce *CorruptError) (end int64, err error) {
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	if err := l.lockAll(); err != nil {
		return 0, err
	}
	defer l.unlockAll()
	i := slices.IndexFunc(l.segs, func(s *segment) bool { return s.base == ce.Segment })
	if i < 0 || ce.Offset >= l.end.Load() {
		return l.end.Load(), nil
	}
	if err := l.finishAllSeals(); err != nil {
		return 0, err
	}
	l.cuts.Add(1) // before any byte goes: readers in flight retry
	if start := l.start.Load(); ce.Offset < start {
		// The log start lies past the bad batch's start, maybe inside
		// it: no intact prefix is readable. Start over at the log start.
		if err := l.truncateFully(start); err != nil {
			return 0, l.fail(err)
		}
		return start, nil
	}
	s := l.segs[i]
	pos := min(max(ce.Pos, 0), s.size)
	if err := l.cutAt(i, pos); err != nil {
		return 0, l.fail(err)
	}
	end = s.next
	if err := l.cutDone(s, end); err != nil {
		return 0, err
	}
	return end, nil
}

// RestartAt empties the log and its epoch cache and restarts it at offset,
// which must lie past its end: a follower that fell behind its leader's
// log start (DeleteRecords, retention) has nothing the leader still holds,
// and starts over there (Kafka's truncateFullyAndStartAt).
func (l *Log) RestartAt(offset int64) error {
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	if err := l.lockAll(); err != nil {
		return err
	}
	defer l.unlockAll()
	if offset <= l.end.Load() {
		return fmt.Errorf("%w: restarting at %d, not past the end %d", ErrInvalidOffset, offset, l.end.Load())
	}
	if err := l.finishAllSeals(); err != nil {
		return err
	}
	l.cuts.Add(1) // before any byte goes: readers in flight retry
	if err := l.truncateFully(offset); err != nil {
		return l.fail(err)
	}
	return nil
}

// cutAt removes the segments after segs[i] (newest first), truncates
// segs[i] at pos, makes it the active segment and fsyncs the result.
func (l *Log) cutAt(i int, pos int64) error {
	removed := false
	for j := len(l.segs) - 1; j > i; j-- {
		s := l.segs[j]
		l.segs = l.segs[:j]
		if err := s.remove(); err != nil {
			return err
		}
		removed = true
	}
	s := l.segs[i]
	if s.sealed() {
		if err := s.openWriters(false); err != nil {
			return err
		}
	}
	if err := s.w.Truncate(pos); err != nil {
		return err
	}
	if _, err := s.recoverTail(l.cfg.IndexIntervalBytes, false, l.clk.Now().UnixMilli()); err != nil {
		return err
	}
	if err := s.w.Sync(); err != nil {
		return err
	}
	if removed {
		return jio.SyncDir(l.fs, l.dir)
	}
	return nil
}

// truncateFully empties the log and its epoch cache and restarts it at
// offset. The checkpoint is removed first; the start file's directory
// sync makes that durable before any segment goes, so a crash leaves
// either the old log with its checkpoint or no checkpoint (rebuilt by a
// scan of whatever log is left).
func (l *Log) truncateFully(offset int64) error {
	if err := l.removeEpochFile(); err != nil {
		return err
	}
	if err := writeStartFile(l.fs, l.dir, offset); err != nil {
		return err
	}
	for j := len(l.segs) - 1; j >= 0; j-- {
		s := l.segs[j]
		l.segs = l.segs[:j]
		if err := s.remove(); err != nil {
			return err
		}
	}
	s, err := createSegment(l.fs, l.dir, offset)
	if err != nil {
		return err
	}
	l.segs = append(l.segs, s)
	l.txns = txnState{}
	if err := jio.SyncDir(l.fs, l.dir); err != nil {
		return err
	}
	l.start.Store(offset)
	l.end.Store(offset)
	l.durable.Store(offset)
	return nil
}

// DeleteBefore advances the log start offset to offset (DeleteRecords),
// durably, and deletes the whole segments below it; the active segment is
// rolled first if it lies entirely below offset. The epoch cache keeps the
// epoch in force at offset, moved to start there, and the later ones.
//
// The start file is written (and fsynced) and the files removed and the
// directory synced without the log's locks: only the change to the
// segment list holds them, so appends, reads and syncs go on.
func (l *Log) DeleteBefore(offset int64) error {
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	// The bounds cannot move back meanwhile: only TruncateTo moves the end
	// down, and adminMu keeps it out.
	if offset > l.end.Load() {
		return ErrOffsetOutOfRange
	}
	if offset <= l.start.Load() {
		return nil
	}
	if err := writeStartFile(l.fs, l.dir, offset); err != nil {
		if isNoSpace(err) {
			// The old start file stands (it is replaced by a rename):
			// nothing moved, and a later call may succeed.
			return fmt.Errorf("%w: log start file: %v", ErrNoSpace, err)
		}
		return l.fail(err)
	}
	if err := l.lockAll(); err != nil {
		return err
	}
	l.start.Store(offset)
	l.truncateEpochsStart()
	rolled := int64(-1)
	if a := l.active(); a.size > 0 && a.next <= offset {
		if err := l.roll(); err != nil {
			l.unlockAll()
			return err
		}
		rolled = l.end.Load()
	}
	gone := l.detachSegments(func(s *segment) bool { return s.next <= offset })
	if err := l.unlockDetached(gone); err != nil {
		return err
	}
	return errors.Join(l.removeSegments(gone), l.syncRolled(rolled))
}

// EnforceRetention rolls the active segment if segment.ms has passed, then
// deletes the oldest segments (never the active one) that are past
// retention.ms, that keep the log above retention.bytes, or that lie below
// the log start. It returns how many segments it deleted. The files are
// removed and the directory synced after the log's locks are released. On
// an idle log it also finishes the seals that wait for the next Sync
// (sealIdle).
func (l *Log) EnforceRetention() (int, error) {
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	if err := l.lockAll(); err != nil {
		return 0, err
	}
	nowMs := l.clk.Now().UnixMilli()
	rolled := int64(-1)
	if a := l.active(); a.size > 0 && nowMs-a.rollMs > l.cfg.SegmentMs {
		if err := l.roll(); err != nil {
			l.unlockAll()
			return 0, err
		}
		rolled = l.end.Load()
	}
	var total int64
	for _, s := range l.segs {
		total += s.size
	}
	start, cfg := l.start.Load(), l.cfg
	gone := l.detachSegments(func(s *segment) bool {
		ts := s.maxTs
		if ts < 0 {
			ts = s.rollMs
		}
		if s.next <= start ||
			(cfg.RetentionMs >= 0 && nowMs-ts > cfg.RetentionMs) ||
			(cfg.RetentionBytes >= 0 && total-s.size >= cfg.RetentionBytes) {
			total -= s.size
			return true
		}
		return false
	})
	if err := l.unlockDetached(gone); err != nil {
		return 0, err
	}
	return len(gone.segs), errors.Join(l.removeSegments(gone), l.syncRolled(rolled), l.sealIdle())
}

// syncRolled finishes the seal of a segment that retention or DeleteBefore
// rolled, ending at end (-1: none), through the group commit: with no
// appends after it, no flusher would, and a crash would leave it to be
// scanned at the next Open. It runs without the log's locks.
func (l *Log) syncRolled(end int64) error {
	if end < 0 {
		return nil
	}
	err := l.Sync(end)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// detached is what detachSegments took out of the log, for
// removeSegments: the segments, oldest first, and the seal jobs of those
// among them rolled since the last Sync.
type detached struct {
	segs []*segment
	jobs []*sealJob
}

// detachSegments takes the oldest segments out of the log while del says
// so, never the active one, moves the log start up to the first segment
// left (and the first epoch-cache entry with it), and takes their seal
// jobs out of the queue. The caller holds opMu and mu.
func (l *Log) detachSegments(del func(*segment) bool) detached {
	n := 0
	for n < len(l.segs)-1 && del(l.segs[n]) {
		n++
	}
	if n == 0 {
		return detached{}
	}
	d := detached{segs: slices.Clone(l.segs[:n])}
	l.segs = append(l.segs[:0:0], l.segs[n:]...)
	d.jobs = l.takeSealsOf(d.segs)
	l.start.Store(max(l.start.Load(), l.segs[0].base))
	l.truncateEpochsStart()
	return d
}

// unlockDetached releases the locks of a structural change that detached
// d, mu first: it keeps opMu while it fsyncs the .logs of the detached
// segments rolled since the last Sync and not yet durable (opMu keeps
// syncOnce from advancing the durable end meanwhile). Open trusts that
// every segment but the last is whole, and drops all that follow a torn
// one; a deletion is not durable before the directory sync, so a crash may
// bring a deleted segment back, and it must then be whole. Usually there
// is nothing to fsync: the next Sync after a roll does it.
func (l *Log) unlockDetached(d detached) error {
	l.mu.Unlock()
	defer l.opMu.Unlock()
	durable := l.durable.Load()
	var err error
	for _, j := range d.jobs {
		if err == nil && !j.logSynced && durable < j.next {
			err = j.syncLog()
		}
		j.drop()
	}
	if err != nil {
		return l.fail(err)
	}
	return nil
}

// removeSegments deletes detached segments and makes that durable. No lock
// is needed: nothing finds them any more (a reader still using one keeps
// its read handle until it is done). The files go oldest first, and none
// after a failure: a segment left behind a hole would make Open drop
// everything after it. What a failure leaves is whole (see unlockDetached)
// and found again by the next Open.
func (l *Log) removeSegments(d detached) error {
	if len(d.segs) == 0 {
		return nil
	}
	var err error
	for i, s := range d.segs {
		if err = s.remove(); err != nil {
			for _, s := range d.segs[i+1:] {
				s.close()
			}
			break
		}
	}
	if err == nil {
		err = jio.SyncDir(l.fs, l.dir)
	}
	if l.closed.Load() {
		return nil // removed (or closed) meanwhile: the files no longer matter here
	}
	return err
}

// Close closes the log's files. It does not fsync what was appended: what
// Sync did not make durable may be lost in a crash either way. It does
// finish the seals of segments rolled since the last Sync (their fsyncs),
// so that the next Open finds them sealed instead of scanning them. Later
// calls return ErrClosed.
func (l *Log) Close() error { return l.close(true) }

// Remove closes the log and deletes its directory.
func (l *Log) Remove() error {
	if err := l.close(false); err != nil {
		return err
	}
	return l.fs.RemoveAll(l.dir)
}

// close is Close; seal says whether to finish pending seals first.
func (l *Log) close(seal bool) error {
	l.opMu.Lock()
	defer l.opMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Swap(true) {
		return nil
	}
	var err error
	if a := l.active(); !a.sealed() && l.failed() == nil {
		err = a.flushIndex() // spares the next Open a longer scan
	}
	if seal && l.failed() == nil {
		err = errors.Join(err, l.finishAllSeals())
		if a := l.active(); err == nil && !a.sealed() {
			// A clean close: the next Open need not write the active
			// segment again (makeDurable).
			err = l.writeDurableFile(a)
		}
	}
	err = errors.Join(err, l.closeFiles()) // drops what is left of the seal jobs
	l.smu.Lock()
	l.scond.Broadcast()
	l.smu.Unlock()
	return err
}
