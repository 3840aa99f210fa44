package storage

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"

	jio "github.com/jocko/jocko/io"
	"hash/crc32"

	"github.com/spf13/afero"

	"github.com/jocko/jocko/wire"
)

// attrControl marks a control batch (transaction markers).
const attrControl = 0x20

// Header field positions of a v2 batch that compaction rewrites.
const (
	batchOffLength     = 8
	batchOffCRC        = 17
	batchOffAttributes = 21
	batchOffProducerID = 43
	batchOffNumRecords = 57
)

// cleanedSuffix ends the name of a segment file being written by Compact
// (".tmp" files are removed on open).
const cleanedSuffix = ".cleaned.tmp"

func producerID(batch []byte) int64 {
	return int64(binary.BigEndian.Uint64(batch[batchOffProducerID:]))
}

// wireHeader parses the header of a stored batch with the wire package,
// which knows its every field (the delete horizon among them).
func wireHeader(batch []byte) (wire.BatchHeader, error) {
	h, err := wire.ParseBatchHeader(batch)
	if err == nil && h.Size() > len(batch) {
		err = fmt.Errorf("batch of %d bytes, %d given", h.Size(), len(batch))
	}
	if err != nil {
		return h, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return h, nil
}

// eachRecord calls fn for every record of a batch whose header is h
// (decompressing it), allowing the offset gaps that compaction leaves
// (wire.EachRecord). The records alias the batch, or its decompressed
// copy.
func eachRecord(batch []byte, h wire.BatchHeader, fn func(wire.RecordView)) error {
	data := batch[batchHeaderLen:h.Size()]
	if codec := h.Codec(); codec != wire.CodecNone {
		var err error
		if data, err = wire.Decompress(codec, data, 0); err != nil {
			return fmt.Errorf("%w: batch at %d: %v", ErrCorrupt, h.BaseOffset, err)
		}
	}
	if err := wire.EachRecord(data, h, fn); err != nil {
		return fmt.Errorf("%w: batch at %d: %v", ErrCorrupt, h.BaseOffset, err)
	}
	return nil
}

// keepRule decides which records survive.
type keepRule struct {
	keys  *keyMap
	start int64 // records below the log start go
	// nowMs is when the cleaning began; tombstones go once it reaches
	// their batch's delete horizon, set to nowMs + deleteRetentionMs by
	// the first cleaning that keeps them (KIP-534).
	nowMs             int64
	deleteRetentionMs int64
}

// keep decides one record of the batch at base, whose delete horizon is
// horizon if hasHorizon.
func (k *keepRule) keep(base int64, r wire.RecordView, horizon int64, hasHorizon bool) bool {
	off := base + int64(r.OffsetDelta)
	if r.Key == nil || off < k.start || k.keys.latest(r.Key) != off {
		return false
	}
	return r.Value != nil || !hasHorizon || k.nowMs < horizon
}

// horizon is the delete horizon a batch gets when this cleaning is the
// first to keep one of its tombstones.
func (k *keepRule) horizon() int64 {
	ret := max(k.deleteRetentionMs, 0)
	if k.nowMs > math.MaxInt64-ret {
		return math.MaxInt64
	}
	return k.nowMs + ret
}

// filter writes what survives of one batch to w and returns how many
// records it removed. A batch that keeps a tombstone and has no delete
// horizon yet is rewritten with one (wire.SetDeleteHorizon), its records'
// timestamp deltas moved to the new base timestamp, as Kafka's cleaner
// does.
func (k *keepRule) filter(raw []byte, h batchHeader, w *segWriter) (int64, error) {
	if h.attributes&attrControl != 0 {
		return 0, w.write(raw)
	}
	wh, err := wireHeader(raw)
	if err != nil {
		return 0, err
	}
	horizon, hasHorizon := wh.DeleteHorizonMs()
	views, tombstones := w.views[:0], false
	aborted := k.keys.abortedBatch(raw, h)
	err = eachRecord(raw, wh, func(r wire.RecordView) {
		if !aborted && k.keep(h.baseOffset, r, horizon, hasHorizon) {
			views = append(views, r)
			tombstones = tombstones || r.Value == nil
		}
	})
	defer func() { clear(views); w.views = views[:0] }() // keep no decompressed batch alive
	n := int32(len(views))
	setHorizon := tombstones && !hasHorizon
	switch {
	case err != nil:
		return 0, err
	case n == h.numRecords && !setHorizon:
		return 0, w.write(raw)
	case n == 0 && producerID(raw) >= 0 && k.keys.lastBatch[producerID(raw)] == h.baseOffset:
		b := append([]byte(nil), raw[:batchHeaderLen]...)
		b[batchOffAttributes+1] &^= attrCodecMask
		return int64(h.numRecords), w.write(finishBatch(b, 0))
	case n == 0:
		w.drop(h)
		return int64(h.numRecords), nil
	}
	b := append(w.scratch[:0], raw[:batchHeaderLen]...)
	kept := w.kept[:0]
	if setHorizon {
		base := k.horizon()
		wire.SetDeleteHorizon(b, base)
		shift := wh.FirstTimestamp - base // wraps as the sum it undoes would
		for _, r := range views {
			if kept, err = wire.AppendRecordTimestampDelta(kept, r, r.TimestampDelta+shift); err != nil {
				return 0, fmt.Errorf("%w: batch at %d: %v", ErrCorrupt, h.baseOffset, err)
			}
		}
	} else {
		for _, r := range views {
			kept = append(kept, r.Raw...)
		}
	}
	w.kept = kept
	b, err = wire.Compress(wire.Codec(h.attributes&attrCodecMask), b, kept)
	if err != nil {
		return 0, fmt.Errorf("storage: compacting batch at %d: %w", h.baseOffset, err)
	}
	w.scratch, w.rewrote = b, true
	return int64(h.numRecords - n), w.write(finishBatch(b, n))
}

// finishBatch sets the length, record count and CRC of a batch whose
// other header fields are set.
func finishBatch(b []byte, numRecords int32) []byte {
	be := binary.BigEndian
	be.PutUint32(b[batchOffLength:], uint32(len(b)-12))
	be.PutUint32(b[batchOffNumRecords:], uint32(numRecords))
	be.PutUint32(b[batchOffCRC:], crc32.Checksum(b[batchOffAttributes:], castagnoli))
	return b
}

// emptyBatch returns a batch without records covering [base, next): it
// stands for batches compaction emptied, keeping the log free of holes.
func emptyBatch(base, next, ts int64, epoch int32) []byte {
	b := make([]byte, batchHeaderLen)
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(base))
	be.PutUint32(b[12:], uint32(epoch))
	b[16] = 2
	be.PutUint32(b[23:], uint32(next-1-base))
	be.PutUint64(b[27:], uint64(ts))
	be.PutUint64(b[35:], uint64(ts))
	be.PutUint64(b[batchOffProducerID:], ^uint64(0)) // -1
	be.PutUint16(b[51:], 0xffff)
	be.PutUint32(b[53:], 0xffffffff)
	return finishBatch(b, 0)
}

// segWriter writes the cleaned copy of a segment to .cleaned.tmp files,
// tracking its index entries in ns.
type segWriter struct {
	ns       *segment
	f        afero.File
	bw       *bufio.Writer
	interval int32
	scratch  []byte            // the batch being built
	kept     []byte            // the records it keeps
	views    []wire.RecordView // the records it keeps, as read
	rewrote  bool              // some batch was changed (not only copied or dropped)

	gapBase, gapNext, gapTs int64 // a run of dropped batches (gapNext > gapBase)
	gapEpoch                int32
}

// newSegWriter starts the cleaned copy of the segment at base, reusing
// the buffered writer *bw (made on first use).
func newSegWriter(fs afero.Fs, dir string, base int64, interval int32, bw **bufio.Writer) (*segWriter, error) {
	ns := newSegment(fs, dir, base)
	f, err := fs.OpenFile(ns.path(logSuffix+cleanedSuffix), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	if *bw == nil {
		*bw = bufio.NewWriterSize(f, compactChunkBytes)
	}
	(*bw).Reset(f)
	return &segWriter{ns: ns, f: f, bw: *bw, interval: interval, gapTs: -1}, nil
}

// drop records that the batch h is gone.
func (w *segWriter) drop(h batchHeader) {
	if w.gapNext == w.gapBase {
		w.gapBase, w.gapTs = h.baseOffset, -1
	}
	w.gapNext, w.gapTs, w.gapEpoch = h.nextOffset(), max(w.gapTs, h.maxTimestamp), h.leaderEpoch
}

// write appends a batch, after the empty batch for any pending gap. The
// batch is checked right before it is written.
func (w *segWriter) write(batch []byte) error {
	if err := w.flushGap(); err != nil {
		return err
	}
	return w.put(batch)
}

// flushGap writes the empty batch for the pending run of dropped batches.
func (w *segWriter) flushGap() error {
	if w.gapNext == w.gapBase {
		return nil
	}
	gap := emptyBatch(w.gapBase, w.gapNext, w.gapTs, w.gapEpoch)
	w.gapBase = w.gapNext
	return w.put(gap)
}

func (w *segWriter) put(batch []byte) error {
	h, err := parseBatchHeader(batch)
	if err == nil {
		err = checkBatchCRC(batch)
	}
	if err == nil && (h.baseOffset != w.ns.next || h.size() != int64(len(batch))) {
		err = fmt.Errorf("%w: compacted batch at %d of %d bytes (%d given), expected offset %d", ErrCorrupt, h.baseOffset, h.size(), len(batch), w.ns.next)
	}
	if err != nil {
		return fmt.Errorf("storage: compacting segment %d: %w", w.ns.base, err)
	}
	w.ns.track(h, w.ns.size, w.interval, 0)
	_, err = w.bw.Write(batch)
	return err
}

// finish writes out the pending gap and the index files, fsyncs all three
// and returns the new segment, not yet open.
func (w *segWriter) finish(old segSnap, rollMs int64) (*segment, error) {
	if err := w.flushGap(); err != nil {
		return nil, err
	}
	ns := w.ns
	if ns.next != old.next || ns.size == 0 {
		return nil, fmt.Errorf("%w: compacted segment %d ends at offset %d, expected %d", ErrCorrupt, ns.base, ns.next, old.next)
	}
	if err := w.bw.Flush(); err != nil {
		return nil, err
	}
	if err := w.f.Sync(); err != nil {
		return nil, err
	}
	if err := w.f.Close(); err != nil {
		return nil, err
	}
	oi := make([]byte, 0, len(ns.entries)*offsetEntryLen)
	ti := make([]byte, 0, (len(ns.entries)+sealEntries)*timeEntryLen)
	for _, e := range ns.entries {
		oi = appendOffsetEntry(oi, e)
		ti = appendTimeEntry(ti, e.tsBefore, e.rel)
	}
	ti = appendTimeEntry(ti, ns.maxTs, ns.maxTsRel)
	ti = appendTimeEntry(ti, ns.maxTs, uint32(ns.next-ns.base))
	for _, f := range []struct {
		suffix string
		data   []byte
	}{{indexSuffix, oi}, {timeIndexSuffix, ti}} {
		if err := jio.WriteFileSynced(ns.fs, ns.path(f.suffix+cleanedSuffix), f.data); err != nil {
			return nil, err
		}
	}
	ns.nIndex, ns.entries, ns.lastBase, ns.rollMs = len(ns.entries), nil, -1, rollMs
	return ns, nil
}

// abort closes the .log being written and removes the temporary files.
func (w *segWriter) abort() {
	w.f.Close()
	w.removeTemp()
}

// removeTemp removes the temporary files (errors are moot: open removes
// leftover .tmp files).
func (w *segWriter) removeTemp() {
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		w.ns.fs.Remove(w.ns.path(suf + cleanedSuffix))
	}
}
