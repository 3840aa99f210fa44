package storage

// The leader-epoch cache (Kafka's LeaderEpochFileCache and its
// leader-epoch-checkpoint file, KIP-101 and KIP-279): for every leader
// epoch that wrote to the log, the offset of its first batch.
//
// Invariants (checked when the file is read): epochs and start offsets
// strictly increase; every start offset lies in [log start, log end], and
// only the latest may equal the log end (an epoch that began but wrote
// nothing yet: AssignEpoch).
//
// Crash safety: the checkpoint is rewritten (atomically: temp file, fsync,
// rename, directory fsync) before the first batch of a new epoch is
// written, so it never lacks an epoch that has data in the log. It may
// claim more than a crash left: Open drops the entries at or past the
// recovered log end and moves the first entry up to the log start, as
// Kafka's log loading does. Truncations cut the log first and the
// checkpoint after, for the same reason. A missing or unreadable
// checkpoint is rebuilt from the batch headers (one header read per batch).

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/spf13/afero"

	jio "github.com/jocko/jocko/io"
)

// epochFileName is the checkpoint of the leader-epoch cache, in Kafka's
// format: "0\n<count>\n" then "<epoch> <start offset>\n" per entry.
const epochFileName = "leader-epoch-checkpoint"

// epochFileBytesMax caps the checkpoint file read at Open; a bigger one
// is treated as corrupt and rebuilt from the log.
const epochFileBytesMax = 16 << 20

// UndefinedEpoch is OffsetForLeaderEpoch's UNDEFINED_EPOCH and
// UNDEFINED_EPOCH_OFFSET: EndOffsetForEpoch returns it for an epoch or an
// offset it does not know.
const UndefinedEpoch = -1

// ErrStaleEpoch is returned (wrapped with detail) by Append, AppendReplica
// and AssignEpoch for a leader epoch below the log's latest one, or a
// negative one: leader epochs only grow along the log.
var ErrStaleEpoch = errors.New("storage: leader epoch older than the log's latest")

// EpochEntry is one entry of the leader-epoch cache: a leader epoch and
// the offset of the first batch written in it.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// Epochs returns a copy of the leader-epoch cache, oldest first.
func (l *Log) Epochs() []EpochEntry {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return slices.Clone(l.epochs)
}

// LatestEpoch returns the latest leader epoch of the log; ok is false if
// the cache is empty.
func (l *Log) LatestEpoch() (epoch int32, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if n := len(l.epochs); n > 0 {
		return l.epochs[n-1].Epoch, true
	}
	return UndefinedEpoch, false
}

// EpochStartOffset returns the offset of the first batch of epoch; ok is
// false if the cache has no entry for it. After retention the first
// entry's offset is the log start.
func (l *Log) EpochStartOffset(epoch int32) (offset int64, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i, found := slices.BinarySearchFunc(l.epochs, epoch, func(e EpochEntry, t int32) int { return int(e.Epoch) - int(t) })
	if !found {
		return UndefinedEpoch, false
	}
	return l.epochs[i].StartOffset, true
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch as Kafka's
// LeaderEpochFileCache.endOffsetFor does: the largest epoch at most epoch,
// and the end offset of epoch, which is the start of the first later
// epoch, or the log end if epoch is the latest. For an epoch below every
// entry it returns epoch itself and the first entry's start (where a
// follower can begin replicating); for a negative epoch, an epoch above
// the latest or an empty cache, (UndefinedEpoch, UndefinedEpoch).
func (l *Log) EndOffsetForEpoch(epoch int32) (foundEpoch int32, endOffset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return endOffsetFor(l.epochs, epoch, l.end.Load())
}

// epochIndex is the index of the entry covering offset: the last one
// starting at or below it, or the first when offset is below them all (a
// batch that began before a log start the first entry was moved up to);
// -1 for no entries.
func epochIndex(entries []EpochEntry, offset int64) int {
	if len(entries) == 0 {
		return -1
	}
	above, _ := slices.BinarySearchFunc(entries, offset+1, func(e EpochEntry, t int64) int { return cmp.Compare(e.StartOffset, t) })
	return max(above-1, 0)
}

func endOffsetFor(entries []EpochEntry, epoch int32, logEnd int64) (int32, int64) {
	n := len(entries)
	switch {
	case epoch < 0 || n == 0:
		return UndefinedEpoch, UndefinedEpoch
	case entries[n-1].Epoch == epoch:
		return epoch, logEnd
	}
	higher := 0 // the first entry above epoch
	for higher < n && entries[higher].Epoch <= epoch {
		higher++
	}
	switch higher {
	case n:
		return UndefinedEpoch, UndefinedEpoch
	case 0:
		return epoch, entries[0].StartOffset
	}
	return entries[higher-1].Epoch, entries[higher].StartOffset
}

// AssignEpoch records that leader epoch epoch begins at the log end, as a
// new leader does before it accepts writes (Kafka's
// maybeAssignEpochStartOffset, KIP-279), so that OffsetForLeaderEpoch
// answers followers correctly before the first batch of the epoch. The
// same epoch again does nothing; a lower one is ErrStaleEpoch. The entry
// is durable when it returns; a restart forgets it until the epoch writes
// data (its offset is the log end).
func (l *Log) AssignEpoch(epoch int32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	end := l.end.Load()
	next, err := nextEpochs(l.epochs, epoch, end)
	if err != nil || next == nil {
		return err
	}
	if err := writeEpochFile(l.fs, l.dir, next); err != nil {
		return l.fail(err)
	}
	l.epochs = next
	return nil
}

// epochsAfter returns what the cache must become once batches with
// headers hdrs (with their offsets assigned) are appended, stamped with
// epoch (leader) or carrying their own epochs (replica); nil if it does
// not change. Caller holds mu.
func (l *Log) epochsAfter(hdrs []batchHeader, epoch int32, replica bool) ([]EpochEntry, error) {
	if !replica {
		return nextEpochs(l.epochs, epoch, hdrs[0].baseOffset)
	}
	var next []EpochEntry
	for _, h := range hdrs {
		cur := l.epochs
		if next != nil {
			cur = next
		}
		n, err := nextReplicaEpochs(cur, h.leaderEpoch, h.baseOffset)
		if err != nil {
			return nil, fmt.Errorf("%w (replica batch at offset %d)", err, h.baseOffset)
		}
		if n != nil {
			next = n
		}
	}
	return next, nil
}

// nextEpochs returns entries with epoch starting at offset added (a copy),
// or nil if epoch is already the latest. A lower or negative epoch is
// ErrStaleEpoch.
func nextEpochs(entries []EpochEntry, epoch int32, offset int64) ([]EpochEntry, error) {
	n := len(entries)
	switch {
	case epoch < 0:
		return nil, fmt.Errorf("%w: leader epoch %d is negative", ErrStaleEpoch, epoch)
	case n > 0 && epoch < entries[n-1].Epoch:
		return nil, fmt.Errorf("%w: leader epoch %d, the log is at epoch %d (since offset %d)", ErrStaleEpoch, epoch, entries[n-1].Epoch, entries[n-1].StartOffset)
	case n > 0 && epoch == entries[n-1].Epoch:
		return nil, nil
	}
	return assignEpoch(slices.Clone(entries), EpochEntry{epoch, offset}), nil
}

// nextReplicaEpochs is nextEpochs for a batch a leader stamped, which
// may also replace the entries at its offset that wrote nothing (a leader
// epoch this log began and lost before writing in it): the new leader's
// log is the truth there, as Kafka's assign makes it. Over entries that
// hold batches a lower epoch is still ErrStaleEpoch: the follower should
// have truncated first.
func nextReplicaEpochs(entries []EpochEntry, epoch int32, offset int64) ([]EpochEntry, error) {
	k := len(entries)
	for k > 0 && entries[k-1].StartOffset >= offset && entries[k-1].Epoch > epoch {
		k--
	}
	if k == len(entries) || epoch < 0 {
		return nextEpochs(entries, epoch, offset)
	}
	kept := slices.Clone(entries[:k])
	next, err := nextEpochs(kept, epoch, offset)
	if err != nil || next != nil {
		return next, err
	}
	return kept, nil // epoch goes on from an entry that holds batches
}

// assignEpoch appends e after dropping the trailing entries it conflicts
// with (an epoch or a start offset not below e's), as Kafka's assign does:
// only an AssignEpoch entry that wrote nothing (at e's offset) can
// conflict on the append paths; a log scan may meet anything.
func assignEpoch(entries []EpochEntry, e EpochEntry) []EpochEntry {
	k := len(entries)
	for k > 0 && (entries[k-1].Epoch >= e.Epoch || entries[k-1].StartOffset >= e.StartOffset) {
		k--
	}
	return append(entries[:k], e)
}

// epochsTruncatedEnd returns entries without those starting at or past
// end (Kafka's truncateFromEnd), and whether any went.
func epochsTruncatedEnd(entries []EpochEntry, end int64) ([]EpochEntry, bool) {
	k := len(entries)
	for k > 0 && entries[k-1].StartOffset >= end {
		k--
	}
	return entries[:k], k < len(entries)
}

// epochsTruncatedStart returns entries with those starting at or below
// start replaced by the latest of them, moved to start (Kafka's
// truncateFromStart), and whether anything changed. It may reuse entries.
func epochsTruncatedStart(entries []EpochEntry, start int64) ([]EpochEntry, bool) {
	k := 0
	for k < len(entries) && entries[k].StartOffset <= start {
		k++
	}
	if k == 0 || (k == 1 && entries[0].StartOffset == start) {
		return entries, false
	}
	entries = entries[k-1:]
	entries[0].StartOffset = start
	return entries, true
}

// setEpochs replaces the cache with entries, which may share memory with
// it, and rewrites the checkpoint if changed. Caller holds mu exclusively
// and has already made the change to the log durable.
func (l *Log) setEpochs(entries []EpochEntry, changed bool) error {
	if !changed {
		return nil
	}
	l.epochs = slices.Clip(entries)
	if err := writeEpochFile(l.fs, l.dir, l.epochs); err != nil {
		return l.fail(err)
	}
	return nil
}

// truncateEpochsEnd drops the entries at or past end (TruncateTo).
func (l *Log) truncateEpochsEnd(end int64) error {
	return l.setEpochs(epochsTruncatedEnd(l.epochs, end))
}

// truncateEpochsStart moves the first entry up to the log start
// (DeleteBefore, retention), in memory only: a checkpoint that still
// holds the older entries is fitted to the log start by Open (loadEpochs),
// so no fsync holds up the log for it. Caller holds mu exclusively.
func (l *Log) truncateEpochsStart() {
	entries, _ := epochsTruncatedStart(slices.Clone(l.epochs), l.start.Load())
	l.epochs = slices.Clip(entries)
}

// removeEpochFile forgets every entry (a log emptied and restarted). The
// removal is durable once the directory is synced; until then a crash
// leaves the old file with the old log, or no file (rebuilt by a scan).
func (l *Log) removeEpochFile() error {
	l.epochs = nil
	err := l.fs.Remove(filepath.Join(l.dir, epochFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// loadEpochs reads the checkpoint at Open (after recovery has set the log
// start and end), rebuilding it by a scan if it is missing or corrupt,
// fits it to the recovered log, and rewrites it if that changed it.
func (l *Log) loadEpochs() error {
	entries, err := readEpochFile(l.fs, l.dir)
	missing := errors.Is(err, os.ErrNotExist)
	rebuilt := missing || errors.Is(err, ErrCorrupt)
	switch {
	case rebuilt:
		if entries, err = l.scanEpochs(); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	// Fitted to the start first too: retention and DeleteBefore trim the
	// cache in memory only, so the file may hold what they trimmed, and an
	// entry they moved up to an end is one the end must then drop.
	entries, cutFirst := epochsTruncatedStart(entries, l.start.Load())
	entries, cutEnd := epochsTruncatedEnd(entries, l.end.Load())
	entries, cutStart := epochsTruncatedStart(entries, l.start.Load())
	cutStart = cutStart || cutFirst
	l.epochs = slices.Clip(entries)
	if missing && len(entries) == 0 {
		return nil // a new or emptied log: nothing worth a file yet
	}
	return l.setEpochs(entries, rebuilt || cutEnd || cutStart)
}

// scanEpochs rebuilds the cache from the header of every batch in the
// segments (Kafka's assign rules for each). Caller holds mu, or the log
// is not published yet.
func (l *Log) scanEpochs() ([]EpochEntry, error) {
	var entries []EpochEntry
	for _, s := range l.segs {
		for pos := int64(0); pos < s.size; {
			h, err := s.header(pos)
			if err != nil {
				return nil, err
			}
			n := len(entries)
			if h.leaderEpoch >= 0 && (n == 0 || entries[n-1].Epoch != h.leaderEpoch) {
				entries = assignEpoch(entries, EpochEntry{h.leaderEpoch, h.baseOffset})
			}
			pos += h.size()
		}
	}
	return entries, nil
}

// encodeEpochs returns the checkpoint file's content.
func encodeEpochs(entries []EpochEntry) []byte {
	b := fmt.Appendf(nil, "0\n%d\n", len(entries))
	for _, e := range entries {
		b = fmt.Appendf(b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return b
}

// decodeEpochs parses a checkpoint file strictly: version 0, the count it
// states, and entries whose epochs and offsets are non-negative and
// strictly increasing. Anything else is ErrCorrupt.
func decodeEpochs(b []byte) ([]EpochEntry, error) {
	bad := func(what string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, epochFileName, fmt.Sprintf(what, args...))
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) < 3 || len(lines[len(lines)-1]) != 0 {
		return nil, bad("%d bytes, not newline-terminated lines", len(b))
	}
	lines = lines[:len(lines)-1]
	if string(lines[0]) != "0" {
		return nil, bad("version %q, want 0", lines[0])
	}
	count, err := strconv.Atoi(string(lines[1]))
	if err != nil || count != len(lines)-2 {
		return nil, bad("count %q, %d entries follow", lines[1], len(lines)-2)
	}
	entries := make([]EpochEntry, 0, count)
	for i, line := range lines[2:] {
		es, ofs, ok := bytes.Cut(line, []byte(" "))
		epoch, err1 := strconv.ParseInt(string(es), 10, 32)
		off, err2 := strconv.ParseInt(string(ofs), 10, 64)
		if !ok || err1 != nil || err2 != nil || epoch < 0 || off < 0 {
			return nil, bad("entry %d %q", i, line)
		}
		if n := len(entries); n > 0 && (int32(epoch) <= entries[n-1].Epoch || off <= entries[n-1].StartOffset) {
			return nil, bad("entry %d %q does not follow %d %d", i, line, entries[n-1].Epoch, entries[n-1].StartOffset)
		}
		entries = append(entries, EpochEntry{int32(epoch), off})
	}
	return entries, nil
}

// readEpochFile reads and decodes the checkpoint. A missing file is
// os.ErrNotExist, a damaged one ErrCorrupt.
func readEpochFile(fs afero.Fs, dir string) ([]EpochEntry, error) {
	path := filepath.Join(dir, epochFileName)
	fi, err := fs.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > epochFileBytesMax {
		return nil, fmt.Errorf("%w: %s of %d bytes, more than %d", ErrCorrupt, epochFileName, fi.Size(), epochFileBytesMax)
	}
	b, err := afero.ReadFile(fs, path)
	if err != nil {
		return nil, err
	}
	return decodeEpochs(b)
}

// writeEpochFile replaces the checkpoint atomically and durably.
func writeEpochFile(fs afero.Fs, dir string, entries []EpochEntry) error {
	return jio.WriteFileAtomic(fs, filepath.Join(dir, epochFileName), encodeEpochs(entries))
}
