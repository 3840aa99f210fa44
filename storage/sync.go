package storage

import (
	"time"

	jio "github.com/jocko/jocko/io"
)

// Sync makes every batch below end durable: it fsyncs the active
// segment's .log, and what rolls since the last Sync left (see sealJob):
// the .logs of the rolled segments, and the directory, which makes the new
// files' names durable. It is a group commit: while one fsync runs, later callers wait,
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
// whose .log was fsynced before, in one of those jobs, or in the active
// segment. It fsyncs the active .log, the directory (if a roll created a
// file) and the .log of each job not yet durable in parallel (fsyncs of
// different files share the disk's flushes), and the index seals of the
// jobs whose .log already is durable alongside: a roll costs the acks that
// wait for this Sync about one fsync, not five in a row. The handles stay
// open until opMu is released: a roll meanwhile only moves the active
// handle into a new job, and jobs are finished or dropped only under opMu.
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
	hook := l.syncHook
	l.mu.RUnlock()
	if w == nil {
		// Sealed: only a failed roll leaves the last segment sealed (its
		// job was queued), and that failure is sticky.
		return l.failed()
	}
	tasks := []func() error{w.Sync}
	if dir {
		tasks = append(tasks, func() error { return jio.SyncDir(l.fs, l.dir) })
	}
	durable := l.durable.Load()
	var sealed []*sealJob
	for _, j := range jobs {
		if j.logSynced || durable >= j.next {
			// Its .log was fsynced (with the job, or as the active
			// segment before the roll): the seal entries may go.
			j.logSynced = true
			sealed = append(sealed, j)
			tasks = append(tasks, j.sealIndex)
		} else {
			tasks = append(tasks, j.syncLog)
		}
	}
	var began time.Time
	if hook != nil {
		began = l.clk.Now()
	}
	err := parallel(tasks)
	l.forgetSeals(sealed) // sealIndex closed their handles, also on an error
	if err != nil {
		return l.fail(err)
	}
	if err := l.failed(); err != nil {
		// A write or a seal's fsync failed meanwhile: after a failed fsync
		// a later one may succeed without the data (fsyncgate), so this
		// one proves nothing.
		return err
	}
	l.advanceDurable(end)
	if hook != nil {
		hook(l.clk.Since(began), end-durable)
	}
	return nil
}

// SetSyncHook sets fn to hear of each fsync that made the log durable up
// to a new end: how long the fsyncs took and how many offsets they made
// durable together (the group commit's batch). fn runs on the syncing
// goroutine and must be quick; set it before the log is used.
func (l *Log) SetSyncHook(fn func(d time.Duration, records int64)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.syncHook = fn
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
