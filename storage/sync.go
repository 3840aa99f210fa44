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
// runs, so appends and reads go on meanwhile.
//
// It takes the active .log's write handle under mu and fsyncs that handle,
// never the segment: a concurrent roll seals the segment (nil-ing s.w
// under mu) while the fsync runs. The handle stays open until opMu is
// released: seal only moves it into retired, which is closed under opMu,
// and every change that closes a segment's files holds opMu. An fsync of
// a handle that a roll sealed meanwhile is harmless: end is at most that
// segment's end, which the roll made durable.
func (l *Log) syncOnce() error {
	l.opMu.Lock()
	defer l.opMu.Unlock()
	l.mu.RLock() // for segs, the active segment's w, and retired (see below)
	if l.closed.Load() {
		l.mu.RUnlock()
		return ErrClosed
	}
	// This changes retired under the read lock alone: everyone else who
	// touches retired (roll, the structural changes, Close) holds mu
	// exclusively, and no fsync is using a retired handle: we hold opMu.
	l.closeRetired()
	w, end := l.active().w, l.end.Load()
	l.mu.RUnlock()
	if w == nil {
		// Sealed: only a failed roll leaves the last segment sealed (it
		// was fsynced), and that failure is sticky.
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
