package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"

	"github.com/spf13/afero"

	jio "github.com/jocko/jocko/io"
)

// File name suffixes of a segment's transaction files (see txn.go).
const (
	txnIndexSuffix = ".txnindex"
	txnOpenSuffix  = ".txnopen"
)

// abortedEntryLen is the size of Kafka's AbortedTxn entry (version 0).
const abortedEntryLen = 34

// txnFileBytesMax bounds what Open reads of a transaction file.
const txnFileBytesMax = 64 << 20

func appendAbortedEntry(b []byte, a AbortedTxn) []byte {
	be := binary.BigEndian
	b = be.AppendUint16(b, 0)
	b = be.AppendUint64(b, uint64(a.ProducerID))
	b = be.AppendUint64(b, uint64(a.FirstOffset))
	b = be.AppendUint64(b, uint64(a.LastOffset))
	return be.AppendUint64(b, uint64(a.LastStableOffset))
}

func encodeAborted(as []AbortedTxn) []byte {
	var b []byte
	for _, a := range as {
		b = appendAbortedEntry(b, a)
	}
	return b
}

// decodeAborted parses a .txnindex of a segment [base, next).
func decodeAborted(b []byte, base, next int64) ([]AbortedTxn, error) {
	if len(b)%abortedEntryLen != 0 {
		return nil, fmt.Errorf("%w: transaction index of %d bytes", ErrCorrupt, len(b))
	}
	be := binary.BigEndian
	var out []AbortedTxn
	for ; len(b) > 0; b = b[abortedEntryLen:] {
		a := AbortedTxn{
			ProducerID:       int64(be.Uint64(b[2:])),
			FirstOffset:      int64(be.Uint64(b[10:])),
			LastOffset:       int64(be.Uint64(b[18:])),
			LastStableOffset: int64(be.Uint64(b[26:])),
		}
		if v := be.Uint16(b); v != 0 || a.LastOffset < base || a.LastOffset >= next ||
			a.FirstOffset > a.LastOffset || (len(out) > 0 && a.LastOffset <= out[len(out)-1].LastOffset) {
			return nil, fmt.Errorf("%w: transaction index entry %+v (version %d) in segment [%d, %d)", ErrCorrupt, a, v, base, next)
		}
		out = append(out, a)
	}
	return out, nil
}

// encodeOpen encodes the open transactions (a .txnopen): version int16 0,
// count int32, (producer id int64, first offset int64) each, CRC32C of
// what precedes. None: no bytes (no file).
func encodeOpen(t txnState) []byte {
	if len(t) == 0 {
		return nil
	}
	be := binary.BigEndian
	b := be.AppendUint16(nil, 0)
	b = be.AppendUint32(b, uint32(len(t)))
	for pid, first := range t {
		b = be.AppendUint64(b, uint64(pid))
		b = be.AppendUint64(b, uint64(first))
	}
	return be.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeOpen(b []byte, next int64) (txnState, error) {
	be := binary.BigEndian
	t := txnState{}
	if len(b) == 0 {
		return t, nil
	}
	if len(b) < 10 || crc32.Checksum(b[:len(b)-4], castagnoli) != be.Uint32(b[len(b)-4:]) ||
		be.Uint16(b) != 0 || int64(be.Uint32(b[2:]))*16 != int64(len(b)-10) {
		return nil, fmt.Errorf("%w: open-transactions file of %d bytes fails its checks", ErrCorrupt, len(b))
	}
	for p := 6; p < len(b)-4; p += 16 {
		pid, first := int64(be.Uint64(b[p:])), int64(be.Uint64(b[p+8:]))
		if first < 0 || first >= next {
			return nil, fmt.Errorf("%w: open transaction of %d at %d, segment ends at %d", ErrCorrupt, pid, first, next)
		}
		t[pid] = first
	}
	return t, nil
}

// readTxnFile reads a transaction file; missing reads as empty.
func readTxnFile(fs afero.Fs, path string) ([]byte, error) {
	fi, err := fs.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.Size() > txnFileBytesMax {
		return nil, fmt.Errorf("%w: %s of %d bytes", ErrCorrupt, path, fi.Size())
	}
	return afero.ReadFile(fs, path)
}

// writeAbortedEntry writes aborted entry i of the active segment to its
// .txnindex, without an fsync (the seal makes the file durable).
func (s *segment) writeAbortedEntry(i int) error {
	s.txnFiles = true
	f, err := s.fs.OpenFile(s.path(txnIndexSuffix), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(appendAbortedEntry(nil, s.aborted[i]), int64(i)*abortedEntryLen)
	return errors.Join(err, f.Close())
}

// loadTxnFiles loads a sealed segment's transaction files, which its seal
// vouches for: its aborted list, and the open transactions at its end.
// start is the open transactions at its base. A file that fails its checks
// is an error wrapping ErrCorrupt: the segment is rescanned.
func (s *segment) loadTxnFiles(start txnState) (txnState, error) {
	ib, err := readTxnFile(s.fs, s.path(txnIndexSuffix))
	if err != nil {
		return nil, err
	}
	ob, err := readTxnFile(s.fs, s.path(txnOpenSuffix))
	if err != nil {
		return nil, err
	}
	aborted, err := decodeAborted(ib, s.base, s.next)
	if err != nil {
		return nil, err
	}
	end, err := decodeOpen(ob, s.next)
	if err != nil {
		return nil, err
	}
	s.aborted, s.txnStart, s.txnFiles = aborted, start.clone(), len(ib)+len(ob) > 0
	return end, nil
}

// rescanTxns rebuilds the segment's aborted list from its batches, from
// the open transactions at its base (start, not changed), rewrites its
// .txnindex (unsynced: a cache until the seal) and returns the open
// transactions at its end.
func (s *segment) rescanTxns(start txnState) (txnState, error) {
	state := start.clone()
	if state == nil {
		state = txnState{}
	}
	aborted, err := s.scanTxns(state)
	if err != nil {
		return nil, err
	}
	s.aborted, s.txnStart = aborted, start.clone()
	for _, suf := range []string{txnIndexSuffix, txnOpenSuffix} {
		if _, err := s.fs.Stat(s.path(suf)); err == nil {
			s.txnFiles = true // stale ones go at the seal (txnSeal.write)
		}
	}
	if len(aborted) == 0 && !s.txnFiles {
		return state, nil
	}
	s.txnFiles = true
	if len(aborted) == 0 {
		err := s.fs.Remove(s.path(txnIndexSuffix))
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		return state, err
	}
	return state, afero.WriteFile(s.fs, s.path(txnIndexSuffix), encodeAborted(aborted), 0o644)
}

// scanTxns walks the headers of the segment's batches, reading only each
// batch's header (and a transactional batch whole: markers are small), up
// to a tail that does not parse, applies their transaction events to
// state and returns the aborted transactions. Hopping from header to
// header keeps a restart's reads of the active segment to its headers:
// recovery has already read (and CRC-checked) its tail.
func (s *segment) scanTxns(state txnState) ([]AbortedTxn, error) {
	var aborted []AbortedTxn
	var hdr [batchHeaderLen]byte
	for pos := int64(0); pos+batchHeaderLen <= s.size; {
		if err := s.readAt(hdr[:], pos); err != nil {
			return nil, err
		}
		h, err := parseBatchHeader(hdr[:])
		if err != nil || h.size() <= 0 {
			// Only a tail that recovery kept unchecked (the
			// skip-torn-tail broken variant) ends so; recoverTail has
			// checked everything else.
			return aborted, nil
		}
		if h.attributes&attrTransactional != 0 {
			if pos+h.size() > s.size {
				return aborted, nil // the same unchecked tail
			}
			b := make([]byte, h.size())
			if err := s.readAt(b, pos); err != nil {
				return nil, err
			}
			ev, ok, err := txnEventOf(b, h.baseOffset)
			if err != nil {
				return nil, err
			}
			if a, done := state.apply(ev); ok && done {
				aborted = append(aborted, a)
			}
		}
		pos += h.size()
	}
	return aborted, nil
}

// txnSeal is a rolled segment's transaction files, written by its seal job
// before the seal entries (sealJob.sealIndex): a seal on disk vouches for
// them.
type txnSeal struct {
	index, open []byte
	had         bool // the segment may have such files already
}

// write writes the files durably (and removes those left empty), with
// the directory synced if a name changed.
func (t txnSeal) write(s *segment) error {
	dirty := false
	for _, f := range []struct {
		suffix string
		data   []byte
	}{{txnIndexSuffix, t.index}, {txnOpenSuffix, t.open}} {
		switch {
		case len(f.data) > 0:
			if err := jio.WriteFileSynced(s.fs, s.path(f.suffix), f.data); err != nil {
				return err
			}
			dirty = true
		case t.had:
			if err := s.fs.Remove(s.path(f.suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			dirty = true
		}
	}
	if dirty {
		return jio.SyncDir(s.fs, s.dir)
	}
	return nil
}
