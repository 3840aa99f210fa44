package storage

import (
	"errors"
	"os"

	jio "github.com/jocko/jocko/io"
)

// cleanSegment writes the cleaned copy of a segment to .cleaned.tmp files
// and returns it (not yet open) with the number of records removed; nil if
// nothing would be removed (the temporary files are then gone).
func (l *Log) cleanSegment(sn segSnap, rule *keepRule) (*segment, int64, error) {
	l.mu.RLock()
	interval, rollMs := l.cfg.IndexIntervalBytes, sn.s.rollMs
	l.mu.RUnlock()
	w, err := newSegWriter(l.fs, l.dir, sn.base, interval, &l.cmp.bw)
	if err != nil {
		return nil, 0, err
	}
	var removed int64
	err = l.readSegment(sn, func(raw []byte, h batchHeader) error {
		n, err := rule.filter(raw, h, w)
		removed += n
		return err
	})
	if err == nil && removed == 0 && !w.rewrote {
		w.abort()
		return nil, 0, nil
	}
	var ns *segment
	if err == nil {
		ns, err = w.finish(sn, rollMs)
	}
	if err != nil {
		w.abort()
		return nil, 0, err
	}
	return ns, removed, nil
}

// swapSegment replaces the old segment's files with the cleaned ones and
// the old segment with ns in the log. It holds opMu throughout, so no
// truncation, deletion, close or fsync touches the files meanwhile, and mu
// only to check the segment and to switch to ns: in between, readers
// still use the old segment's open .log handle, which a rename does not
// disturb, and scan it instead of opening its index files by name.
func (l *Log) swapSegment(sn segSnap, ns *segment) error {
	l.opMu.Lock()
	defer l.opMu.Unlock()
	l.mu.Lock()
	err := l.writable()
	if err == nil {
		err = l.checkSnap(sn)
	}
	if err != nil {
		l.mu.Unlock()
		(&segWriter{ns: ns}).removeTemp()
		return err
	}
	old := sn.s
	old.nIndex = 0
	l.mu.Unlock()
	if err := replaceSegmentFiles(ns); err != nil {
		return l.fail(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	i := l.segIndex(old)
	if i < 0 {
		panic("storage: segment " + old.path(logSuffix) + " left the log while Compact held opMu")
	}
	l.segs[i] = ns
	ns.txnStart, ns.aborted, ns.txnFiles = old.txnStart, old.aborted, old.txnFiles
	old.close() // only a read handle; its error says nothing about the data
	return nil
}

// replaceSegmentFiles puts the cleaned files of ns in place of the old
// ones, in an order that leaves a whole segment after a crash at any
// point: the old indexes go first (so they never describe the new .log),
// then the .log is renamed over (the commit point), then the new indexes
// come in. Missing indexes are rebuilt on open. It opens ns's reader.
func replaceSegmentFiles(ns *segment) error {
	fs, dir := ns.fs, ns.dir
	for _, suf := range []string{indexSuffix, timeIndexSuffix} {
		if err := fs.Remove(ns.path(suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := jio.SyncDir(fs, dir); err != nil {
		return err
	}
	if err := fs.Rename(ns.path(logSuffix+cleanedSuffix), ns.path(logSuffix)); err != nil {
		return err
	}
	if err := jio.SyncDir(fs, dir); err != nil {
		return err
	}
	for _, suf := range []string{indexSuffix, timeIndexSuffix} {
		if err := fs.Rename(ns.path(suf+cleanedSuffix), ns.path(suf)); err != nil {
			return err
		}
	}
	if err := jio.SyncDir(fs, dir); err != nil {
		return err
	}
	return ns.openReader()
}
