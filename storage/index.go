package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/afero"
)

// Index file formats. The two files are written in lockstep: entry i of
// the .index and entry i of the .timeindex name the same batch. A sealed
// segment's .timeindex ends with two more entries: (max timestamp,
// relative offset of the batch holding it) and (max timestamp, relative
// end offset).
const (
	offsetEntryLen = 8  // relative offset uint32, position uint32
	timeEntryLen   = 12 // max timestamp before the batch int64, relative offset uint32
	sealEntries    = 2
)

// indexEntry says that the batch with relative base offset rel starts at
// byte pos, and that every batch before it has MaxTimestamp <= tsBefore.
// The implicit entry {0, 0, -1} is never stored.
type indexEntry struct {
	rel, pos uint32
	tsBefore int64
}

func appendOffsetEntry(b []byte, e indexEntry) []byte {
	b = binary.BigEndian.AppendUint32(b, e.rel)
	return binary.BigEndian.AppendUint32(b, e.pos)
}

func appendTimeEntry(b []byte, ts int64, rel uint32) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	return binary.BigEndian.AppendUint32(b, rel)
}

func decodeTimeEntry(b []byte) (ts int64, rel uint32) {
	return int64(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint32(b[8:])
}

// readIndexFile returns the content of an index file; a missing or
// oversized file reads as empty (the index is rebuilt).
func readIndexFile(fs afero.Fs, path string) ([]byte, error) {
	fi, err := fs.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.Size() > indexFileBytesMax {
		return nil, nil
	}
	return afero.ReadFile(fs, path)
}

// zipEntries returns the longest prefix of the index files whose entries
// agree with each other, increase, and point inside a log of logSize.
func zipEntries(oi, ti []byte, logSize int64) []indexEntry {
	n := min(len(oi)/offsetEntryLen, len(ti)/timeEntryLen)
	entries := make([]indexEntry, 0, n)
	prev := indexEntry{tsBefore: -1}
	for i := range n {
		o := oi[i*offsetEntryLen:]
		e := indexEntry{rel: binary.BigEndian.Uint32(o), pos: binary.BigEndian.Uint32(o[4:])}
		ts, rel := decodeTimeEntry(ti[i*timeEntryLen:])
		e.tsBefore = ts
		if rel != e.rel || e.rel <= prev.rel || e.pos <= prev.pos || ts < prev.tsBefore ||
			int64(e.pos) >= logSize || e.rel > relativeOffsetMax {
			break
		}
		entries = append(entries, e)
		prev = e
	}
	return entries
}

// loadSeal checks in O(1) that a sealed segment's index files are whole
// and that it ends at nextBase, and loads its seal. ok is false when the
// index must be rebuilt.
func (s *segment) loadSeal(nextBase int64) (ok bool, err error) {
	fs := s.fs
	oi, err := fs.Stat(s.path(indexSuffix))
	if err != nil {
		return false, nil
	}
	ti, err := fs.Stat(s.path(timeIndexSuffix))
	if err != nil {
		return false, nil
	}
	n := oi.Size() / offsetEntryLen
	if oi.Size()%offsetEntryLen != 0 || ti.Size() != (n+sealEntries)*timeEntryLen || oi.Size() > indexFileBytesMax {
		return false, nil
	}
	f, err := fs.Open(s.path(timeIndexSuffix))
	if err != nil {
		return false, err
	}
	defer f.Close()
	var b [sealEntries * timeEntryLen]byte
	if _, err := f.ReadAt(b[:], n*timeEntryLen); err != nil {
		return false, nil
	}
	maxTs, maxRel := decodeTimeEntry(b[:])
	ts2, endRel := decodeTimeEntry(b[timeEntryLen:])
	if ts2 != maxTs || s.base+int64(endRel) != nextBase || maxRel >= endRel || (s.size == 0) != (endRel == 0) {
		return false, nil
	}
	s.next, s.maxTs, s.maxTsRel, s.nIndex = nextBase, maxTs, maxRel, int(n)
	s.lastBase = -1 // unknown for a sealed segment; only the active one needs it
	return true, nil
}

// entrySource gives indexed access to a segment's index entries.
type entrySource interface {
	count() int
	at(i int) (indexEntry, error)
}

type memEntries []indexEntry

func (m memEntries) count() int                   { return len(m) }
func (m memEntries) at(i int) (indexEntry, error) { return m[i], nil }

// fileEntries reads a sealed segment's entries from its index files.
type fileEntries struct {
	oi, ti afero.File
	n      int
}

func (f fileEntries) count() int { return f.n }

func (f fileEntries) at(i int) (indexEntry, error) {
	var o [offsetEntryLen]byte
	var t [timeEntryLen]byte
	if _, err := f.oi.ReadAt(o[:], int64(i)*offsetEntryLen); err != nil {
		return indexEntry{}, fmt.Errorf("%w: reading index entry %d: %v", ErrCorrupt, i, err)
	}
	if _, err := f.ti.ReadAt(t[:], int64(i)*timeEntryLen); err != nil {
		return indexEntry{}, fmt.Errorf("%w: reading time index entry %d: %v", ErrCorrupt, i, err)
	}
	e := indexEntry{rel: binary.BigEndian.Uint32(o[:]), pos: binary.BigEndian.Uint32(o[4:])}
	ts, rel := decodeTimeEntry(t[:])
	if rel != e.rel {
		return indexEntry{}, fmt.Errorf("%w: index entry %d: offset %d, time index says %d", ErrCorrupt, i, e.rel, rel)
	}
	e.tsBefore = ts
	return e, nil
}

// entries returns the segment's index entries and a function to release
// them. A sealed segment's files are opened for the duration.
func (s *segment) entrySource() (entrySource, func(), error) {
	fs := s.fs
	if !s.sealed() || s.nIndex == 0 {
		return memEntries(s.entries), func() {}, nil
	}
	oi, err := fs.Open(s.path(indexSuffix))
	if err != nil {
		return nil, nil, err
	}
	ti, err := fs.Open(s.path(timeIndexSuffix))
	if err != nil {
		oi.Close()
		return nil, nil, err
	}
	return fileEntries{oi: oi, ti: ti, n: s.nIndex}, func() { oi.Close(); ti.Close() }, nil
}

// search returns the last entry for which below holds (below must hold
// for a prefix of the entries), or the implicit first entry.
func search(src entrySource, below func(indexEntry) bool) (indexEntry, error) {
	lo, hi := 0, src.count()
	found := indexEntry{tsBefore: -1}
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		e, err := src.at(mid)
		if err != nil {
			return indexEntry{}, err
		}
		if below(e) {
			found, lo = e, mid+1
		} else {
			hi = mid
		}
	}
	return found, nil
}

// floorEntry finds where to start looking for the batch holding offset.
func (s *segment) floorEntry(offset int64) (indexEntry, error) {
	src, release, err := s.entrySource()
	if err != nil {
		return indexEntry{}, err
	}
	defer release()
	rel := uint32(offset - s.base)
	e, err := search(src, func(e indexEntry) bool { return e.rel <= rel })
	if err == nil && int64(e.pos) >= max(s.size, 1) {
		err = fmt.Errorf("%w: index entry position %d past segment size %d", ErrCorrupt, e.pos, s.size)
	}
	return e, err
}

// timeEntry finds where to start looking for the first record with a
// timestamp >= ts: every batch before the entry is older than ts.
func (s *segment) timeEntry(ts int64) (indexEntry, error) {
	src, release, err := s.entrySource()
	if err != nil {
		return indexEntry{}, err
	}
	defer release()
	return search(src, func(e indexEntry) bool { return e.tsBefore < ts })
}
