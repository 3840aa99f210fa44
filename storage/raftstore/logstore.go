// Package raftstore holds hashicorp/raft's three stores - the log, the
// stable key/value store and the snapshot store - on an afero.Fs, so that
// the simulator's crashable file system sits under Raft exactly as the real
// disk does. Durability points are explicit fsyncs: StoreLogs, every
// StableStore Set, and a snapshot's Close.
package raftstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/spf13/afero"

	jio "github.com/jocko/jocko/io"
)

// segmentBytesDefault is the size at which the log rolls to a new segment
// file. Head compaction after a snapshot can only drop whole segments, so
// this is kept small: the metadata log is small.
const segmentBytesDefault = 4 << 20

var (
	_ raft.LogStore          = (*LogStore)(nil)
	_ raft.MonotonicLogStore = (*LogStore)(nil)
)

// ErrClosed is returned by a store used after Close.
var ErrClosed = errors.New("raftstore: store closed")

// LogStore is a raft.LogStore of append-only segment files. Each segment
// is named after the index of its first entry and holds framed entries
// (see entry.go) with consecutive indexes; the segments together hold
// consecutive indexes too. An in-memory index maps every entry to its file
// position. StoreLogs returns only after fsync.
//
// Writers (StoreLogs, DeleteRange) are serialised by wmu; readers (GetLog,
// FirstIndex, LastIndex) take mu shared and only ever see entries that are
// already durable. A failed write or fsync is sticky: the store refuses
// further writes until it is reopened, which recovers from the disk.
type LogStore struct {
	fs           afero.Fs
	dir          string
	segmentBytes int64

	wmu  sync.Mutex // serialises writers
	werr error      // sticky write error, guarded by wmu

	mu     sync.RWMutex // guards the fields below
	segs   []*segment
	first  uint64 // first live index; may be above segs[0].base after head compaction
	last   uint64
	closed bool
}

// segment is one file of the log.
type segment struct {
	base    uint64 // index of the first entry in the file
	path    string
	f       afero.File
	offsets []int64 // offsets[i] is where entry base+i starts
	size    int64   // durable, indexed bytes
}

func (s *segment) lastIndex() uint64 { return s.base + uint64(len(s.offsets)) - 1 }

// entryEnd returns the end offset of entry i of the segment.
func (s *segment) entryEnd(i int) int64 {
	if i+1 < len(s.offsets) {
		return s.offsets[i+1]
	}
	return s.size
}

func segmentName(base uint64) string { return fmt.Sprintf("%020d.log", base) }

// parseSegmentName returns the base index of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	var base uint64
	if len(name) != 24 || filepath.Ext(name) != ".log" {
		return 0, false
	}
	if _, err := fmt.Sscanf(name, "%020d.log", &base); err != nil {
		return 0, false
	}
	return base, segmentName(base) == name
}

// NewLogStore opens (creating if needed) the log in dir and recovers it:
// a torn or corrupt tail of the last segment is truncated away; corruption
// anywhere else is an error, because it would lose committed entries.
func NewLogStore(fs afero.Fs, dir string) (*LogStore, error) {
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftstore: create log dir: %w", err)
	}
	l := &LogStore{fs: fs, dir: dir, segmentBytes: segmentBytesDefault}
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, err
	}
	return l, nil
}

// IsMonotonic implements raft.MonotonicLogStore: the store never holds a
// gap between indexes, so raft clears it after installing a snapshot.
func (l *LogStore) IsMonotonic() bool { return true }

// FirstIndex implements raft.LogStore; 0 means empty.
func (l *LogStore) FirstIndex() (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, ErrClosed
	}
	return l.first, nil
}

// LastIndex implements raft.LogStore; 0 means empty.
func (l *LogStore) LastIndex() (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, ErrClosed
	}
	return l.last, nil
}

// GetLog implements raft.LogStore. It returns raft.ErrLogNotFound for an
// index outside [FirstIndex, LastIndex].
func (l *LogStore) GetLog(index uint64, out *raft.Log) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	if len(l.segs) == 0 || index < l.first || index > l.last {
		return raft.ErrLogNotFound
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > index }) - 1
	seg := l.segs[i]
	n := int(index - seg.base)
	start, end := seg.offsets[n], seg.entryEnd(n)
	buf := make([]byte, end-start)
	if _, err := seg.f.ReadAt(buf, start); err != nil {
		return fmt.Errorf("raftstore: read entry %d from %s: %w", index, seg.path, err)
	}
	used, err := decodeEntry(buf, out)
	if err != nil {
		return fmt.Errorf("raftstore: entry %d in %s at %d: %w", index, seg.path, start, err)
	}
	if used != len(buf) || out.Index != index {
		return fmt.Errorf("raftstore: %s at %d: expected entry %d (%d bytes), found %d (%d bytes)",
			seg.path, start, index, len(buf), out.Index, used)
	}
	return nil
}

// Close releases the segment files. The store is unusable afterwards.
func (l *LogStore) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.closeFiles()
}

func (l *LogStore) closeFiles() error {
	var errs []error
	for _, s := range l.segs {
		if s.f != nil {
			errs = append(errs, s.f.Close())
		}
	}
	l.segs = nil
	return errors.Join(errs...)
}

// recover lists the segment files and rebuilds the in-memory index.
func (l *LogStore) recover() error {
	infos, err := afero.ReadDir(l.fs, l.dir)
	if err != nil {
		return fmt.Errorf("raftstore: list %s: %w", l.dir, err)
	}
	var bases []uint64
	for _, fi := range infos {
		if base, ok := parseSegmentName(fi.Name()); ok && !fi.IsDir() {
			bases = append(bases, base)
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	for i, base := range bases {
		isLast := i == len(bases)-1
		seg, err := l.openSegment(base, isLast)
		if err != nil {
			return err
		}
		if seg == nil { // empty last segment, removed
			continue
		}
		if len(l.segs) > 0 && seg.base != l.last+1 {
			seg.f.Close()
			return fmt.Errorf("raftstore: segment %s starts at %d, expected %d", seg.path, seg.base, l.last+1)
		}
		if len(l.segs) == 0 {
			l.first = seg.base
		}
		l.segs = append(l.segs, seg)
		l.last = seg.lastIndex()
	}
	return nil
}

// openSegment scans one segment file. A bad frame in the last segment is a
// torn write and is truncated away; anywhere else it is an error. An empty
// last segment is removed and reported as nil.
func (l *LogStore) openSegment(base uint64, isLast bool) (*segment, error) {
	path := filepath.Join(l.dir, segmentName(base))
	data, err := afero.ReadFile(l.fs, path)
	if err != nil {
		return nil, fmt.Errorf("raftstore: read %s: %w", path, err)
	}
	seg := &segment{base: base, path: path}
	var e raft.Log
	var off int64
	var bad error
	for off < int64(len(data)) {
		n, err := decodeEntry(data[off:], &e)
		if err == nil && e.Index != base+uint64(len(seg.offsets)) {
			err = fmt.Errorf("%w: entry %d where %d was expected", errBadFrame, e.Index, base+uint64(len(seg.offsets)))
		}
		if err != nil {
			bad = err
			break
		}
		seg.offsets = append(seg.offsets, off)
		off += int64(n)
	}
	seg.size = off
	if bad != nil && !isLast {
		return nil, fmt.Errorf("raftstore: %s at %d: %w", path, off, bad)
	}
	if len(seg.offsets) == 0 {
		if !isLast {
			return nil, fmt.Errorf("raftstore: %s holds no entries", path)
		}
		return nil, l.removeFile(path)
	}
	if seg.f, err = l.fs.OpenFile(path, os.O_RDWR, 0); err != nil {
		return nil, fmt.Errorf("raftstore: open %s: %w", path, err)
	}
	if off < int64(len(data)) {
		if err := truncateSync(seg.f, off); err != nil {
			seg.f.Close()
			return nil, fmt.Errorf("raftstore: truncate torn tail of %s at %d: %w", path, off, err)
		}
	}
	if isLast {
		// Write the segment being appended to again and fsync it: after a
		// failed fsync Linux keeps its pages readable but never writes
		// them (a later fsync skips them), so entries read back here
		// might not be durable. Written again, they are. (Only the last
		// segment can hold such pages: a failed write or sync makes the
		// store refuse every later one, so it never rolled past them;
		// rewritten at each open, it is durable before the next roll.)
		if _, err := seg.f.WriteAt(data[:off], 0); err != nil {
			seg.f.Close()
			return nil, fmt.Errorf("raftstore: rewrite %s: %w", path, err)
		}
		if err := seg.f.Sync(); err != nil {
			seg.f.Close()
			return nil, fmt.Errorf("raftstore: sync %s: %w", path, err)
		}
	}
	return seg, nil
}

// removeFile removes path and makes the removal durable.
func (l *LogStore) removeFile(path string) error {
	if err := l.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("raftstore: remove %s: %w", path, err)
	}
	return jio.SyncDir(l.fs, l.dir)
}

func truncateSync(f afero.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}
