package raftstore

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"

	jio "github.com/jocko/jocko/io"
)

// StoreLog implements raft.LogStore.
func (l *LogStore) StoreLog(e *raft.Log) error {
	return l.StoreLogs([]*raft.Log{e})
}

// StoreLogs implements raft.LogStore. The entries must have consecutive
// indexes and follow LastIndex; an entry at or below LastIndex (but not
// below FirstIndex) replaces that entry and everything after it. The
// entries are durable (fsynced) when StoreLogs returns nil.
func (l *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	for i := 1; i < len(logs); i++ {
		if logs[i].Index != logs[i-1].Index+1 {
			return fmt.Errorf("raftstore: StoreLogs: index %d follows %d", logs[i].Index, logs[i-1].Index)
		}
	}
	if err := l.makeRoomFor(logs[0].Index); err != nil {
		return err
	}
	var buf []byte
	for _, e := range logs {
		var err error
		if buf, err = appendEntry(buf, e); err != nil {
			return err
		}
	}
	seg, err := l.activeSegment(logs[0].Index, int64(len(buf)))
	if err != nil {
		return l.fail(err)
	}
	if _, err := seg.f.WriteAt(buf, seg.size); err != nil {
		return l.fail(fmt.Errorf("raftstore: write %s: %w", seg.path, err))
	}
	if err := seg.f.Sync(); err != nil {
		return l.fail(fmt.Errorf("raftstore: sync %s: %w", seg.path, err))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	off := seg.size
	for _, e := range logs {
		seg.offsets = append(seg.offsets, off)
		off += int64(frameSize(e))
	}
	seg.size = off
	if l.first == 0 {
		l.first = logs[0].Index
	}
	l.last = logs[len(logs)-1].Index
	return nil
}

// writable reports the sticky error or closed state. wmu must be held.
func (l *LogStore) writable() error {
	if l.werr != nil {
		return fmt.Errorf("raftstore: log refuses writes after an earlier failure: %w", l.werr)
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	return nil
}

// fail records a write error as sticky and returns it. wmu must be held.
func (l *LogStore) fail(err error) error {
	l.werr = err
	return err
}

// makeRoomFor checks that an append may start at index, truncating the
// tail when index overwrites existing entries. wmu must be held.
func (l *LogStore) makeRoomFor(index uint64) error {
	l.mu.RLock()
	first, last, empty := l.first, l.last, len(l.segs) == 0
	l.mu.RUnlock()
	switch {
	case empty:
		return nil
	case index == last+1:
		return nil
	case index > last+1:
		return fmt.Errorf("raftstore: StoreLogs: gap, index %d after last index %d", index, last)
	case index < first:
		return fmt.Errorf("raftstore: StoreLogs: index %d is below first index %d", index, first)
	}
	return l.deleteTail(index)
}

// activeSegment returns the segment to append size bytes to, rolling to a
// new file named after index when the current one is full. wmu must be held.
func (l *LogStore) activeSegment(index uint64, size int64) (*segment, error) {
	l.mu.RLock()
	var cur *segment
	if n := len(l.segs); n > 0 {
		cur = l.segs[n-1]
	}
	l.mu.RUnlock()
	if cur != nil && (cur.size+size <= l.segmentBytes || len(cur.offsets) == 0) {
		return cur, nil
	}
	path := filepath.Join(l.dir, segmentName(index))
	f, err := l.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("raftstore: create %s: %w", path, err)
	}
	if err := jio.SyncDir(l.fs, l.dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("raftstore: sync dir for %s: %w", path, err)
	}
	seg := &segment{base: index, path: path, f: f}
	l.mu.Lock()
	l.segs = append(l.segs, seg)
	l.mu.Unlock()
	return seg, nil
}

// DeleteRange implements raft.LogStore for the two ranges raft deletes: a
// head (compaction after a snapshot; whole segment files are dropped, and
// entries that share a file with live ones stay on disk but are no longer
// served) and a tail (conflicting entries; files are truncated). A range
// strictly inside the log is refused.
func (l *LogStore) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	l.mu.RLock()
	first, last, empty := l.first, l.last, len(l.segs) == 0
	l.mu.RUnlock()
	switch {
	case empty || max < first || min > last:
		return nil
	case min <= first && max >= last:
		return l.deleteTail(first)
	case min <= first:
		return l.deleteHead(max)
	case max >= last:
		return l.deleteTail(min)
	}
	return fmt.Errorf("raftstore: DeleteRange(%d, %d) inside the log [%d, %d]", min, max, first, last)
}

// deleteTail removes index from and everything after it, newest file
// first so that a crash part way leaves a consistent prefix. wmu must be
// held.
func (l *LogStore) deleteTail(from uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := from <= l.first // head-compacted files may start below first
	removed := false
	for len(l.segs) > 0 {
		seg := l.segs[len(l.segs)-1]
		if seg.base < from && !all {
			break
		}
		seg.f.Close()
		l.segs = l.segs[:len(l.segs)-1]
		if err := l.fs.Remove(seg.path); err != nil {
			return l.fail(fmt.Errorf("raftstore: remove %s: %w", seg.path, err))
		}
		removed = true
	}
	if removed {
		if err := jio.SyncDir(l.fs, l.dir); err != nil {
			return l.fail(fmt.Errorf("raftstore: sync dir: %w", err))
		}
	}
	if len(l.segs) == 0 {
		l.first, l.last = 0, 0
		return nil
	}
	seg := l.segs[len(l.segs)-1]
	if from <= seg.lastIndex() {
		n := int(from - seg.base)
		if err := truncateSync(seg.f, seg.offsets[n]); err != nil {
			return l.fail(fmt.Errorf("raftstore: truncate %s: %w", seg.path, err))
		}
		seg.size = seg.offsets[n]
		seg.offsets = seg.offsets[:n]
	}
	l.last = from - 1
	return nil
}

// deleteHead drops entries up to and including upto, which is below the
// last index. Files that hold only dropped entries are removed, oldest
// first. wmu must be held.
func (l *LogStore) deleteHead(upto uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.first = upto + 1
	removed := false
	for len(l.segs) > 1 && l.segs[0].lastIndex() <= upto {
		seg := l.segs[0]
		seg.f.Close()
		l.segs = l.segs[1:]
		if err := l.fs.Remove(seg.path); err != nil {
			return l.fail(fmt.Errorf("raftstore: remove %s: %w", seg.path, err))
		}
		removed = true
	}
	if removed {
		if err := jio.SyncDir(l.fs, l.dir); err != nil {
			return l.fail(fmt.Errorf("raftstore: sync dir: %w", err))
		}
	}
	return nil
}
