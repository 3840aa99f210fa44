package storage

// Log compaction (cleanup.policy=compact), after Kafka's LogCleaner.
//
// Compact picks the cleanable segments: the sealed ones, oldest first, up
// to the first whose newest batch is younger than MinCompactionLagMs (that
// segment and everything after it, the active segment included, is left
// alone). It reads them once to map each key to its latest offset among
// them, then rewrites them one at a time, oldest first, keeping a record
// only if it is the latest for its key, and dropping expired tombstones.
//
// Tombstones expire as in Kafka since KIP-534: delete.retention.ms counts
// from the first cleaning that kept them, not from their timestamps, so
// that a consumer that lags by less than that still sees every delete
// however old the tombstone's timestamp. That cleaning stores the delete
// horizon (its time plus delete.retention.ms) in the batch itself
// (wire.SetDeleteHorizon: attributes bit 6 and the base timestamp, the
// records' timestamp deltas moved to match), so the horizon survives
// restarts and travels with the batch; a later cleaning at or past the
// horizon drops the tombstones.
//
// Offsets never change. A batch that lost some records keeps its header
// (base offset, LastOffsetDelta, timestamps, producer fields, attributes)
// with fewer records, so offsets inside it have gaps, as in Kafka. A batch
// that lost every record is dropped, except that the last batch of each
// producer ID keeps an empty shell (as Kafka does, so that the producer's
// sequence survives a restart). The log requires batches to follow each
// other without holes, so each run of dropped batches is replaced by one
// empty batch (61 bytes, no producer) covering its offsets and carrying
// its largest timestamp: a segment keeps its base, end and max timestamp.
//
// Crash safety: the new segment is written to .cleaned.tmp files and
// fsynced; then the old index files are removed, the new .log is renamed
// over the old one, and the new indexes are renamed into place, with the
// directory synced between the steps. Any crash leaves the old or the new
// .log whole, with matching or missing indexes (rebuilt on open), and
// leftover .tmp files are removed on open. Segments are swapped oldest
// first, so a crash between two swaps never brings back a deleted key.

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/jocko/jocko/wire"
)

// CompactConfig holds the compaction settings of a topic.
type CompactConfig struct {
	// DeleteRetentionMs is delete.retention.ms: a tombstone is kept for
	// this long after the first cleaning that kept it (KIP-534's delete
	// horizon; see Compact).
	DeleteRetentionMs int64
	// MinCompactionLagMs is min.compaction.lag.ms: a segment whose newest
	// batch is younger than this, and every segment after it, is not
	// cleaned. With 0 (Kafka's default) every sealed segment is cleanable,
	// even one whose timestamps lie in the future.
	MinCompactionLagMs int64
	// MinCleanableRatio is min.cleanable.dirty.ratio: clean only when the
	// bytes not yet cleaned are at least this share of the cleanable bytes.
	MinCleanableRatio float64
}

// CompactStats reports what a Compact did.
type CompactStats struct {
	BytesBefore, BytesAfter int64 // size of the cleanable segments, before and after
	SegmentsRewritten       int
	RecordsRemoved          int64
	// CleanedTo is the first offset that was not cleaned (the end of the
	// last cleanable segment), or -1 if Compact did nothing.
	CleanedTo int64
}

// compactState is the log's compaction bookkeeping.
type compactState struct {
	mu sync.Mutex // one Compact at a time
	// dirty is where the segments not yet cleaned begin. It is kept in
	// memory only: after a restart everything counts as dirty once.
	dirty int64
	// aborted are the aborted transactions over the planned segments
	// (compactPlan, for buildKeyMap).
	aborted []AbortedTxn
	// Buffers reused from segment to segment.
	readBuf []byte
	bw      *bufio.Writer
}

// Limits of one Compact.
const (
	// keyMapBytesMax bounds the memory of the key map (key bytes plus an
	// estimated overhead per key). Once past it, the pass stops at the
	// next segment boundary; the next Compact goes on from there.
	keyMapBytesMax   = 256 << 20
	keyMapEntryBytes = 64 // map overhead per key, estimated
	// compactChunkBytes is how much is read from a segment at a time.
	compactChunkBytes = 1 << 20
)

// errSegmentChanged means a segment being cleaned was deleted, truncated
// or closed meanwhile; Compact stops there without an error.
var errSegmentChanged = errors.New("storage: segment changed during compaction")

// segSnap is a sealed segment as Compact saw it.
type segSnap struct {
	s                *segment
	mods             int
	base, next, size int64
}

// Compact rewrites the cleanable sealed segments (never the active one),
// keeping for each key only its record with the highest offset, and
// returns what it did. Records without a key are dropped (Kafka refuses
// them for compacted topics on produce, and its cleaner drops them too).
// A batch that keeps a tombstone (a null value) gets a delete horizon,
// now plus DeleteRetentionMs, the first time; its tombstones are dropped
// by the first Compact at or past it. Records below the log start are
// dropped. Control batches are kept as they are.
//
// Transactions, as Kafka's cleaner: only segments wholly below the first
// offset of the earliest open transaction are cleanable (a pending
// record must not shadow an older value of its key: its transaction may
// yet abort), and the records of aborted transactions are dropped and
// shadow nothing.
//
// The log end offset and the offsets of the records kept never change.
// Appends, reads and syncs go on during a Compact: locks are held only to
// read a chunk and, for each rewritten segment, while its files are
// swapped. An error while swapping files is sticky, like a failed fsync;
// an error before that leaves the log as it was. A segment deleted or
// truncated meanwhile ends the pass early, without an error.
//
// Trade-off: a dropped batch takes its producer's sequence with it unless
// it is the producer's last batch among the cleaned segments.
func (l *Log) Compact(cfg CompactConfig) (CompactStats, error) {
	l.cmp.mu.Lock()
	defer l.cmp.mu.Unlock()
	stats := CompactStats{CleanedTo: -1}
	snaps, start, nowMs, err := l.compactPlan(cfg)
	if err != nil || len(snaps) == 0 {
		return stats, err
	}
	km, snaps, err := l.buildKeyMap(snaps, start)
	if errors.Is(err, errSegmentChanged) {
		return stats, nil
	}
	if err != nil {
		return stats, err
	}
	rule := keepRule{keys: km, start: start, nowMs: nowMs, deleteRetentionMs: cfg.DeleteRetentionMs}
	for _, sn := range snaps {
		stats.BytesBefore += sn.size
		ns, removed, err := l.cleanSegment(sn, &rule)
		if errors.Is(err, errSegmentChanged) {
			return stats, nil
		}
		if err != nil {
			return stats, err
		}
		if ns == nil {
			stats.BytesAfter += sn.size
			continue
		}
		if err := l.swapSegment(sn, ns); err != nil {
			if errors.Is(err, errSegmentChanged) {
				return stats, nil
			}
			return stats, err
		}
		stats.BytesAfter += ns.size
		stats.SegmentsRewritten++
		stats.RecordsRemoved += removed
	}
	stats.CleanedTo = snaps[len(snaps)-1].next
	l.cmp.dirty = stats.CleanedTo
	return stats, nil
}

// compactPlan returns the cleanable segments if the dirty ratio calls for
// a cleaning, with the log start and the time the decision was made at.
func (l *Log) compactPlan(cfg CompactConfig) ([]segSnap, int64, int64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.writable(); err != nil {
		return nil, 0, 0, err
	}
	nowMs, start := l.clk.Now().UnixMilli(), l.start.Load()
	unstable := l.txns.firstOpen(math.MaxInt64)
	var snaps []segSnap
	var total, dirty int64
	for _, s := range l.segs[:len(l.segs)-1] {
		ts := s.maxTs
		if ts < 0 {
			ts = s.rollMs
		}
		if !s.sealed() || cfg.MinCompactionLagMs > 0 && nowMs-ts < cfg.MinCompactionLagMs || s.next > unstable {
			break
		}
		if s.next <= start || s.size == 0 {
			continue
		}
		snaps = append(snaps, segSnap{s: s, mods: s.mods, base: s.base, next: s.next, size: s.size})
		total += s.size
		if s.next > l.cmp.dirty {
			dirty += s.size
		}
	}
	if total == 0 || float64(dirty) < cfg.MinCleanableRatio*float64(total) {
		return nil, 0, 0, nil
	}
	l.cmp.aborted = l.abortedLocked(start, snaps[len(snaps)-1].next)
	return snaps, start, nowMs, nil
}

// keyMap holds, for the segments being cleaned, the latest offset of each
// key and the base offset of each producer's last batch.
type keyMap struct {
	index     map[string]int // key -> its slot in offs
	offs      []int64        // latest offset by slot
	lastBatch map[int64]int64
	bytes     int64
	aborted   []AbortedTxn // the aborted transactions with data in the segments
}

// abortedBatch reports whether the batch at base with header h belongs to
// an aborted transaction: transactional, of a producer with an aborted
// transaction spanning base (a producer's transactions follow each other,
// so the span from its first offset to its ABORT marker is that one
// transaction's).
func (km *keyMap) abortedBatch(raw []byte, h batchHeader) bool {
	if h.attributes&attrTransactional == 0 || h.attributes&attrControl != 0 {
		return false
	}
	pid := producerID(raw)
	for _, a := range km.aborted {
		if a.ProducerID == pid && a.FirstOffset <= h.baseOffset && h.baseOffset < a.LastOffset {
			return true
		}
	}
	return false
}

// latest returns the latest offset of key, or -1.
func (km *keyMap) latest(key []byte) int64 {
	if i, ok := km.index[string(key)]; ok {
		return km.offs[i]
	}
	return -1
}

// set makes off the latest offset of key (allocating only for a new key).
func (km *keyMap) set(key []byte, off int64) {
	if i, ok := km.index[string(key)]; ok {
		km.offs[i] = off
		return
	}
	km.index[string(key)] = len(km.offs)
	km.offs = append(km.offs, off)
	km.bytes += int64(len(key)) + keyMapEntryBytes
}

// buildKeyMap reads the segments and maps their keys. When the map grows
// past keyMapBytesMax it stops at a segment boundary and returns the
// segments it covered.
func (l *Log) buildKeyMap(snaps []segSnap, start int64) (*keyMap, []segSnap, error) {
	km := &keyMap{index: map[string]int{}, lastBatch: map[int64]int64{}, aborted: l.cmp.aborted}
	for i, sn := range snaps {
		if i > 0 && km.bytes > keyMapBytesMax {
			return km, snaps[:i], nil
		}
		err := l.readSegment(sn, func(raw []byte, h batchHeader) error {
			if h.attributes&attrControl != 0 {
				return nil
			}
			if pid := producerID(raw); pid >= 0 {
				km.lastBatch[pid] = h.baseOffset
			}
			if km.abortedBatch(raw, h) {
				return nil // its records are dropped and shadow nothing
			}
			wh, err := wireHeader(raw)
			if err != nil {
				return err
			}
			return eachRecord(raw, wh, func(r wire.RecordView) {
				off := h.baseOffset + int64(r.OffsetDelta)
				if r.Key != nil && off >= start {
					km.set(r.Key, off)
				}
			})
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return km, snaps, nil
}

// readSegment calls fn for each batch of a sealed segment, in order,
// reading it in chunks under the read lock and checking each time that the
// segment is still the one snapshotted. raw is valid only during the call.
// Caller holds cmp.mu (for the buffer); fn must not call readSegment.
func (l *Log) readSegment(sn segSnap, fn func(raw []byte, h batchHeader) error) error {
	if len(l.cmp.readBuf) < compactChunkBytes {
		l.cmp.readBuf = make([]byte, compactChunkBytes)
	}
	buf := l.cmp.readBuf
	next := sn.base
	for pos := int64(0); pos < sn.size; {
		n := min(int64(len(buf)), sn.size-pos)
		l.mu.RLock()
		err := l.checkSnap(sn)
		if err == nil {
			err = sn.s.readAt(buf[:n], pos)
		}
		l.mu.RUnlock()
		if err != nil {
			return err
		}
		p := int64(0)
		for p+batchHeaderLen <= n {
			h, err := parseBatchHeader(buf[p:n])
			if err != nil {
				return fmt.Errorf("segment %d position %d: %w", sn.base, pos+p, err)
			}
			if h.baseOffset != next {
				return fmt.Errorf("%w: segment %d position %d: batch at offset %d, expected %d", ErrCorrupt, sn.base, pos+p, h.baseOffset, next)
			}
			if p+h.size() > n {
				break
			}
			raw := buf[p : p+h.size()]
			if err := checkBatchCRC(raw); err != nil {
				return fmt.Errorf("segment %d position %d: %w", sn.base, pos+p, err)
			}
			if err := fn(raw, h); err != nil {
				return err
			}
			p, next = p+h.size(), h.nextOffset()
		}
		if p == 0 { // a batch bigger than the buffer
			h, err := parseBatchHeader(buf[:n])
			if err != nil || h.size() > sn.size-pos {
				return fmt.Errorf("%w: segment %d position %d: batch of %d bytes runs past the segment", ErrCorrupt, sn.base, pos, h.size())
			}
			buf = make([]byte, h.size()) // not kept: batches this big are rare
			continue
		}
		pos += p
	}
	if next != sn.next {
		return fmt.Errorf("%w: segment %d ends at offset %d, expected %d", ErrCorrupt, sn.base, next, sn.next)
	}
	return nil
}

// checkSnap returns errSegmentChanged unless the snapshotted segment is
// still in the log, sealed and unchanged. Caller holds mu.
func (l *Log) checkSnap(sn segSnap) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if l.segIndex(sn.s) < 0 || !sn.s.sealed() || sn.s.mods != sn.mods {
		return errSegmentChanged
	}
	return nil
}

// segIndex returns where s is in l.segs, or -1. Caller holds mu.
func (l *Log) segIndex(s *segment) int {
	i := l.segIndexFor(s.base)
	if i < len(l.segs) && l.segs[i] == s {
		return i
	}
	return -1
}

// segIndexFor returns the index of the first segment whose base is >= base.
func (l *Log) segIndexFor(base int64) int {
	lo, hi := 0, len(l.segs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.segs[mid].base < base {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
