package storage

import (
	"fmt"

	jio "github.com/jocko/jocko/io"
)

// Sync makes every batch below end durable: it finishes the seals of the
// segments rolled since the last Sync (their fsyncs, see sealJob), syncs
// the directory if a roll created a file, and fsyncs the active segment's
// .log. It is a group commit: while one fsync runs, later callers wait,
// and the next fsync covers everything appended meanwhile; a caller whose
// end is already durable returns at once.
//
// Errors are sticky: after a failed write or fsync the log refuses Append
// and Sync with the same error until it is reopened (the page cache can no
// longer be trusted to hold what was written).
func (l *Log) Sync(end int64) error {
	end = min(end, l.end.Load())
	l.smu.Lock()
	defer l.smu.Unlock()
	for {
		switch {
		case l.werr != nil:
			return l.werr
		case l.closed.Load():
			return ErrClosed
		case end <= l.durable.Load():
			return nil
		case !l.syncing:
			l.syncing = true
			l.smu.Unlock()
			err := l.syncOnce()
			l.smu.Lock()
			l.syncing = false
			l.scond.Broadcast()
			return err
		}
		if l.waitHook != nil {
			l.waitHook()
		}
		l.scond.Wait()
	}
}

// syncOnce makes durable everything below the log end seen when it starts,
// and advances the durable end to it. It holds opMu, not mu, while the
// fsyncs run, so appends and reads go on meanwhile.
//
// It takes the active .log's write handle, the seal jobs and the end under
// mu, all at one instant: every batch below that end is then in a segment
// sealed before (durable), in one of those jobs, or in the active segment.
// The handles stay open until opMu is released: a roll meanwhile only
// moves the active handle into a new job, and jobs are finished or dropped
// only under opMu. An fsync of a handle that a roll sealed meanwhile is
// harmless, and the next Sync fsyncs it again with the job.
func (l *Log) syncOnce() error {
	l.opMu.Lock()
	defer l.opMu.Unlock()
	l.mu.RLock()
	if l.closed.Load() {
		l.mu.RUnlock()
		return ErrClosed
	}
	w, end := l.active().w, l.end.Load()
	jobs, dir := l.pendingSeals()
	l.mu.RUnlock()
	if err := l.finishSeals(jobs, dir); err != nil {
		return err
	}
	if w == nil {
		// Sealed: only a failed roll leaves the last segment sealed (its
		// job was queued), and that failure is sticky.
		return l.failed()
	}
	if err := w.Sync(); err != nil {
		return l.fail(err)
	}
	if err := l.failed(); err != nil {
		// A write or a seal's fsync failed meanwhile: after a failed fsync
		// a later one may succeed without the data (fsyncgate), so this
		// one proves nothing.
		return err
	}
	l.advanceDurable(end)
	return nil
}

// pendingSeals returns the seal jobs queued so far and whether the
// directory needs a sync, clearing the latter. The caller holds opMu, and
// mu to take them at the same instant as the log end.
func (l *Log) pendingSeals() ([]*sealJob, bool) {
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	dir := l.dirDirty
	l.dirDirty = false
	return l.sealing[:len(l.sealing):len(l.sealing)], dir
}

// finishSeals finishes jobs, the oldest pending ones, then syncs the
// directory if dir is set. A failure is sticky. The caller holds opMu.
func (l *Log) finishSeals(jobs []*sealJob, dir bool) error {
	for i, j := range jobs {
		err := j.finish()
		if err != nil {
			l.forgetSeals(i + 1) // finish closed the handles
			return l.fail(fmt.Errorf("sealing segment %d: %w", j.seg.base, err))
		}
	}
	l.forgetSeals(len(jobs))
	if dir {
		if err := jio.SyncDir(l.fs, l.dir); err != nil {
			return l.fail(err)
		}
	}
	return nil
}

// finishAllSeals finishes every pending seal job (TruncateTo, before it
// cuts sealed segments). The caller holds opMu and mu.
func (l *Log) finishAllSeals() error {
	jobs, dir := l.pendingSeals()
	return l.finishSeals(jobs, dir)
}

// forgetSeals removes the n oldest jobs from the queue.
func (l *Log) forgetSeals(n int) {
	if n == 0 {
		return
	}
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	l.sealing = append(l.sealing[:0:0], l.sealing[n:]...)
}

// takeSeals empties the queue and returns what was in it.
func (l *Log) takeSeals() []*sealJob {
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	jobs := l.sealing
	l.sealing = nil
	return jobs
}

// queueSeal queues a rolled segment's job. The caller holds mu.
func (l *Log) queueSeal(j *sealJob) {
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	l.sealing = append(l.sealing, j)
}

// sealsPending returns how many rolled segments wait for their seal.
func (l *Log) sealsPending() int {
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	return len(l.sealing)
}

// dropSeals drops the jobs of the segments gone says are going (retention,
// DeleteBefore: their files are about to be removed, and their data is
// below the log start). The caller holds opMu.
func (l *Log) dropSeals(gone func(*segment) bool) {
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	kept := l.sealing[:0]
	for _, j := range l.sealing {
		if gone(j.seg) {
			j.drop()
			continue
		}
		kept = append(kept, j)
	}
	clear(l.sealing[len(kept):])
	l.sealing = kept
}

// DurableEnd returns the offset below which everything is fsynced.
func (l *Log) DurableEnd() int64 { return l.durable.Load() }

// advanceDurable raises the durable end to end.
func (l *Log) advanceDurable(end int64) {
	for {
		d := l.durable.Load()
		if end <= d || l.durable.CompareAndSwap(d, end) {
			return
		}
	}
}

// fail records the first write error; every later write gets it.
func (l *Log) fail(err error) error {
	l.smu.Lock()
	defer l.smu.Unlock()
	if l.werr == nil {
		l.werr = err
	}
	return l.werr
}

// failed returns the sticky write error, if any.
func (l *Log) failed() error {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.werr
}

// writable returns why the log refuses writes, if it does.
func (l *Log) writable() error {
	if l.closed.Load() {
		return ErrClosed
	}
	return l.failed()
}
