package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
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

// rawRecord is one record of a batch; raw is its whole encoding, length
// prefix included, and key aliases it.
type rawRecord struct {
	offsetDelta int32
	key         []byte // nil: no key
	nullValue   bool   // a tombstone
	raw         []byte
}

// eachRecord calls fn for every record of a batch (decompressing it),
// allowing the offset gaps that compaction leaves: deltas must increase
// and stay within LastOffsetDelta.
func eachRecord(batch []byte, h batchHeader, fn func(rawRecord)) error {
	data := batch[batchHeaderLen:]
	if codec := wire.Codec(h.attributes & attrCodecMask); codec != wire.CodecNone {
		var err error
		if data, err = wire.Decompress(codec, data, 0); err != nil {
			return fmt.Errorf("%w: batch at %d: %v", ErrCorrupt, h.baseOffset, err)
		}
	}
	prev := int64(-1)
	for i := int32(0); i < h.numRecords; i++ {
		r, rest, err := parseRawRecord(data)
		if err == nil && (int64(r.offsetDelta) <= prev || r.offsetDelta > h.lastOffsetDelta) {
			err = fmt.Errorf("offset delta %d after %d, last %d", r.offsetDelta, prev, h.lastOffsetDelta)
		}
		if err != nil {
			return fmt.Errorf("%w: batch at %d record %d: %v", ErrCorrupt, h.baseOffset, i, err)
		}
		fn(r)
		prev, data = int64(r.offsetDelta), rest
	}
	if len(data) != 0 {
		return fmt.Errorf("%w: batch at %d: %d bytes after %d records", ErrCorrupt, h.baseOffset, len(data), h.numRecords)
	}
	return nil
}

// parseRawRecord splits the first record off data.
func parseRawRecord(data []byte) (rawRecord, []byte, error) {
	size, n := binary.Varint(data)
	if n <= 0 || size < 6 || size > int64(len(data)-n) {
		return rawRecord{}, nil, errors.New("bad record length")
	}
	r := rawRecord{raw: data[:n+int(size)]}
	b := data[n+1 : n+int(size)] // after the attributes
	var fields [4]int64          // timestamp delta, offset delta, key length, value length
	for i := range fields {
		v, m := binary.Varint(b)
		if m <= 0 {
			return rawRecord{}, nil, errors.New("bad record field")
		}
		fields[i], b = v, b[m:]
		if i == 2 && v >= 0 {
			if v > int64(len(b)) {
				return rawRecord{}, nil, errors.New("key runs past the record")
			}
			r.key, b = b[:v:v], b[v:]
		}
	}
	if fields[1] < 0 || fields[1] > relativeOffsetMax || fields[2] < -1 || fields[3] < -1 || fields[3] > int64(len(b)) {
		return rawRecord{}, nil, errors.New("bad offset delta, key or value length")
	}
	r.offsetDelta, r.nullValue = int32(fields[1]), fields[3] == -1
	return r, data[n+int(size):], nil
}

// keepRule decides which records survive.
type keepRule struct {
	keys            *keyMap
	start           int64 // records below the log start go
	tombstoneBefore int64 // tombstones in batches whose MaxTimestamp is older go
}

func (k *keepRule) keep(h batchHeader, r rawRecord) bool {
	off := h.baseOffset + int64(r.offsetDelta)
	if r.key == nil || off < k.start || k.keys.latest(r.key) != off {
		return false
	}
	return !r.nullValue || h.maxTimestamp >= k.tombstoneBefore
}

// filter writes what survives of one batch to w and returns how many
// records it removed.
func (k *keepRule) filter(raw []byte, h batchHeader, w *segWriter) (int64, error) {
	if h.attributes&attrControl != 0 {
		return 0, w.write(raw)
	}
	kept := w.kept[:0]
	n := int32(0)
	err := eachRecord(raw, h, func(r rawRecord) {
		if k.keep(h, r) {
			kept = append(kept, r.raw...)
			n++
		}
	})
	switch {
	case err != nil:
		return 0, err
	case n == h.numRecords:
		return 0, w.write(raw)
	case n == 0 && producerID(raw) >= 0 && k.keys.lastBatch[producerID(raw)] == h.baseOffset:
		b := append([]byte(nil), raw[:batchHeaderLen]...)
		b[batchOffAttributes+1] &^= attrCodecMask
		return int64(h.numRecords), w.write(finishBatch(b, 0))
	case n == 0:
		w.drop(h)
		return int64(h.numRecords), nil
	}
	w.kept = kept
	b := append(w.scratch[:0], raw[:batchHeaderLen]...)
	b, err = wire.Compress(wire.Codec(h.attributes&attrCodecMask), b, kept)
	if err != nil {
		return 0, fmt.Errorf("storage: compacting batch at %d: %w", h.baseOffset, err)
	}
	w.scratch = b
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
	scratch  []byte // the batch being built
	kept     []byte // the records it keeps

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
