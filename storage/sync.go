package storage

// Sync makes every batch below end durable: an fsync of the active
// segment's .log (sealed segments were fsynced when they were rolled, and
// the directory after each roll). It is a group commit: while one fsync
// runs, later callers wait, and the next fsync covers everything appended
// meanwhile; a caller whose end is already durable returns at once.
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

// syncOnce fsyncs the active segment and advances the durable end to the
// log end seen before the fsync. It holds opMu, not mu, while the fsync
// runs, so appends go on meanwhile.
func (l *Log) syncOnce() error {
	l.opMu.Lock()
	defer l.opMu.Unlock()
	l.mu.RLock()
	if l.closed.Load() {
		l.mu.RUnlock()
		return ErrClosed
	}
	l.closeRetired() // no fsync is running: we hold opMu
	s, end := l.active(), l.end.Load()
	l.mu.RUnlock()
	if s.sealed() {
		// Rolled and fsynced already; only a failed roll leaves the last
		// segment sealed, and that failure is sticky.
		return l.failed()
	}
	if err := s.w.Sync(); err != nil {
		return l.fail(err)
	}
	l.advanceDurable(end)
	return nil
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
