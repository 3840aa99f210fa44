package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/afero"
)

// File name suffixes of a segment.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

// segment is one file of batches with its two sparse indexes.
//
// A sealed segment keeps only a read handle on its .log; its index files
// are opened on demand and searched on disk. The active (last) segment
// also holds write handles and its index entries in memory.
//
// Readers use a segment outside the log's lock (see segView), so its read
// handle is reference-counted: the log holds one reference while the
// segment is live, each reader one more, and the handle is closed when
// the last goes. The fields are changed only with the log's mu held
// exclusively (or before publication); readers copy what they need under
// mu.RLock.
type segment struct {
	fs   afero.Fs
	dir  string
	base int64 // offset of its first batch (and its name)
	next int64 // offset after its last batch
	size int64 // bytes of valid batches in the .log

	r         afero.File   // read handle on the .log; closed when refs reaches 0
	refs      atomic.Int32 // the log's reference (until close) plus one per reader
	dead      bool         // close has dropped the log's reference
	serial    bool         // serialize ReadAt on r (see newSegment)
	rmu       sync.Mutex
	w, wi, wt afero.File // write handles (active only)

	entries   []indexEntry // active only: every index entry
	persisted int          // active only: entries already written to the index files
	nIndex    int          // sealed only: entries in the .index file

	maxTs    int64  // largest batch MaxTimestamp (-1 if none)
	maxTsRel uint32 // relative base offset of the first batch with maxTs
	rollMs   int64  // when the segment got its first batch (segment.ms)
	lastBase int64  // base offset of the last batch (-1 if empty)

	// mods counts openWriters and close calls, so that Compact can tell
	// that a sealed segment it read was reopened, truncated or closed
	// since. Changed only with the log's mu held (or before publication).
	mods int

	// Transactions (txn.go): the open ones at base (nil: none known),
	// those at next once rolled (for the seal), the aborted ones whose
	// marker lies here, and whether transaction files may exist.
	txnStart, txnEnd txnState
	aborted          []AbortedTxn
	txnFiles         bool
}

func (s *segment) path(suffix string) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", s.base, suffix))
}

func (s *segment) sealed() bool { return s.w == nil }

// newSegment describes the segment at base. Positional reads are trusted
// to run concurrently only on the OS file system: afero's MemMapFs moves
// a shared file position in ReadAt.
func newSegment(fs afero.Fs, dir string, base int64) *segment {
	_, osfs := fs.(*afero.OsFs)
	s := &segment{fs: fs, dir: dir, base: base, next: base, maxTs: -1, lastBase: -1, serial: !osfs}
	s.refs.Store(1)
	return s
}

// acquire takes a reader's reference. The caller holds the log's mu (read
// or write) and s is in the log's segments, so the log's own reference is
// still there.
func (s *segment) acquire() { s.refs.Add(1) }

// release drops a reference; the last one closes the read handle (its
// error says nothing about the data, which was only read).
func (s *segment) release() {
	if s.refs.Add(-1) == 0 && s.r != nil {
		s.r.Close()
	}
}

// createSegment creates (or empties) the files of a new active segment.
func createSegment(fs afero.Fs, dir string, base int64) (*segment, error) {
	s := newSegment(fs, dir, base)
	if err := s.openWriters(true); err != nil {
		return nil, err
	}
	if err := s.openReader(); err != nil {
		return nil, errors.Join(err, s.close())
	}
	return s, nil
}

// openReader opens the read handle on the .log.
func (s *segment) openReader() error {
	r, err := s.fs.OpenFile(s.path(logSuffix), os.O_RDONLY, 0)
	s.r = r
	return err
}

// openWriters opens the write handles of the segment's three files,
// creating them (and with create set, emptying them).
func (s *segment) openWriters(create bool) error {
	s.mods++
	flag := os.O_RDWR | os.O_CREATE
	if create {
		flag |= os.O_TRUNC
	}
	for _, p := range []struct {
		f      *afero.File
		suffix string
	}{{&s.w, logSuffix}, {&s.wi, indexSuffix}, {&s.wt, timeIndexSuffix}} {
		f, err := s.fs.OpenFile(s.path(p.suffix), flag, 0o644)
		if err != nil {
			return errors.Join(err, s.closeWriters())
		}
		*p.f = f
	}
	return nil
}

// closeWriters closes the write handles and forgets them.
func (s *segment) closeWriters() error {
	var errs []error
	for _, f := range []*afero.File{&s.w, &s.wi, &s.wt} {
		if *f != nil {
			errs = append(errs, (*f).Close())
			*f = nil
		}
	}
	return errors.Join(errs...)
}

// close closes the write handles and drops the log's reference to the
// read handle, which closes once no reader uses it. The caller holds opMu
// (no fsync is using the write handles) or has not published s; a second
// close does nothing more.
func (s *segment) close() error {
	s.mods++
	err := s.closeWriters()
	if !s.dead {
		s.dead = true
		s.release()
	}
	return err
}

// remove closes the segment and deletes its files, the .log first so
// that a crash leaves at worst orphan index files (removed on open).
func (s *segment) remove() error {
	err := s.close()
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix, txnOpenSuffix} {
		if rerr := s.fs.Remove(s.path(suf)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// track records that a batch with header h now sits at pos, adding an
// index entry when IndexIntervalBytes have passed since the last one.
func (s *segment) track(h batchHeader, pos int64, interval int32, nowMs int64) {
	last := int64(0)
	if n := len(s.entries); n > 0 {
		last = int64(s.entries[n-1].pos)
	}
	if pos > 0 && pos-last >= int64(interval) {
		s.entries = append(s.entries, indexEntry{
			rel: uint32(h.baseOffset - s.base), pos: uint32(pos), tsBefore: s.maxTs,
		})
	}
	if pos == 0 {
		s.rollMs = nowMs
	}
	if h.maxTimestamp > s.maxTs {
		s.maxTs, s.maxTsRel = h.maxTimestamp, uint32(h.baseOffset-s.base)
	}
	s.lastBase = h.baseOffset
	s.next = h.nextOffset()
	s.size = pos + h.size()
}

// append writes batches (already given their offsets) at the end of the
// active segment and updates its indexes. hdrs are their headers.
//
// A full file system (ErrNoSpace) leaves the segment as it was: a partial
// write is cut off and the write position moved back. Index entries that
// do not fit stay in memory for the next flush (the index files are a
// cache; Open rescans the .log past their last entry), so the append
// itself succeeds.
func (s *segment) append(batches []byte, hdrs []batchHeader, interval int32, nowMs int64) error {
	if _, err := s.w.Write(batches); err != nil {
		return undoWrite(s.w, s.size, err)
	}
	pos := s.size
	for _, h := range hdrs {
		s.track(h, pos, interval, nowMs)
		pos = s.size
	}
	if len(s.entries)-s.persisted < indexFlushEntries {
		return nil
	}
	if err := s.flushIndex(); err != nil && !errors.Is(err, ErrNoSpace) {
		return err
	}
	return nil
}

// isNoSpace reports whether err is the file system being full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// undoWrite handles a failed write to f, whose content before it ended at
// size: a full file system is recovered in place (the file cut back to
// size and its position with it) and reported as ErrNoSpace; any other
// error, or a failed repair, is returned as it is (and makes the log fail).
func undoWrite(f afero.File, size int64, err error) error {
	if !isNoSpace(err) {
		return err
	}
	if cerr := cutBack(f, size); cerr != nil {
		return errors.Join(err, cerr)
	}
	return fmt.Errorf("%w: %v", ErrNoSpace, err)
}

// cutBack truncates f to size and moves its write position there.
func cutBack(f afero.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	_, err := f.Seek(size, io.SeekStart)
	return err
}

// indexFlushEntries is how many index entries the active segment keeps
// in memory before it writes them out (one write per file for all): the
// index files are caches, and recovery rescans the .log past the last
// entry written.
const indexFlushEntries = 32

// flushIndex writes the index entries not yet in the index files.
func (s *segment) flushIndex() error {
	fresh := s.entries[s.persisted:]
	if len(fresh) == 0 {
		return nil
	}
	// Where both index files end now: a full file system cuts them back
	// there (undoWrite), and the entries stay unpersisted.
	iEnd, err := s.wi.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	tEnd, err := s.wt.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, len(fresh)*timeEntryLen)
	for _, e := range fresh {
		buf = appendOffsetEntry(buf, e)
	}
	if _, err := s.wi.Write(buf); err != nil {
		return undoWrite(s.wi, iEnd, err)
	}
	buf = buf[:0]
	for _, e := range fresh {
		buf = appendTimeEntry(buf, e.tsBefore, e.rel)
	}
	if _, err := s.wt.Write(buf); err != nil {
		if err := undoWrite(s.wt, tEnd, err); !errors.Is(err, ErrNoSpace) {
			return err
		}
		if cerr := cutBack(s.wi, iEnd); cerr != nil {
			return cerr
		}
		return fmt.Errorf("%w: time index", ErrNoSpace)
	}
	s.persisted = len(s.entries)
	return nil
}

// readAt reads len(b) bytes at off from the .log, failing on a short read.
func (s *segment) readAt(b []byte, off int64) error {
	if s.serial {
		s.rmu.Lock()
		defer s.rmu.Unlock()
	}
	n, err := s.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: short read of %d bytes at %d in %s", ErrCorrupt, len(b), off, s.path(logSuffix))
	}
	return err
}

// header reads and parses the batch header at pos. Caller holds the log's mu.
func (s *segment) header(pos int64) (batchHeader, error) { return s.headerIn(pos, s.size) }

// headerIn is header in a segment of size bytes (a reader's view of it).
func (s *segment) headerIn(pos, size int64) (batchHeader, error) {
	var b [batchHeaderLen]byte
	if pos+batchHeaderLen > size {
		return batchHeader{}, fmt.Errorf("%w: batch header at %d past segment size %d", ErrCorrupt, pos, size)
	}
	if err := s.readAt(b[:], pos); err != nil {
		return batchHeader{}, err
	}
	return parseBatchHeader(b[:])
}
