package storage

// The few pieces of the Kafka magic v2 record-batch format the log needs.
// They are kept private and small so that the package can switch to the
// wire package's parser without changing its API.

import (
	"github.com/jocko/jocko/wire"

	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// batchHeaderLen is the fixed header of a v2 batch (wire.BatchHeaderLen).
const batchHeaderLen = 61

// batchLengthMin is the smallest Length field: the header after Length.
const batchLengthMin = batchHeaderLen - 12

// attrLogAppendTime is the timestamp-type bit of the batch attributes.
const attrLogAppendTime = 0x08

// attrCodecMask selects the compression codec of the batch attributes.
const attrCodecMask = 0x07

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchHeader is the fixed header of a v2 batch (see wire.BatchHeader).
type batchHeader struct {
	baseOffset      int64
	length          int32
	leaderEpoch     int32
	magic           int8
	crc             uint32
	attributes      int16
	lastOffsetDelta int32
	firstTimestamp  int64
	maxTimestamp    int64
	numRecords      int32
}

// size is the number of bytes of the whole batch.
func (h batchHeader) size() int64 { return 12 + int64(h.length) }

// lastOffset is the offset of the last record of the batch.
func (h batchHeader) lastOffset() int64 { return h.baseOffset + int64(h.lastOffsetDelta) }

// nextOffset is the offset that follows the batch.
func (h batchHeader) nextOffset() int64 { return h.lastOffset() + 1 }

// parseBatchHeader decodes and sanity-checks the header at the start of b.
// It does not check the CRC.
func parseBatchHeader(b []byte) (batchHeader, error) {
	if len(b) < batchHeaderLen {
		return batchHeader{}, fmt.Errorf("%w: batch header needs %d bytes, have %d", ErrCorrupt, batchHeaderLen, len(b))
	}
	be := binary.BigEndian
	h := batchHeader{
		baseOffset:      int64(be.Uint64(b[0:])),
		length:          int32(be.Uint32(b[8:])),
		leaderEpoch:     int32(be.Uint32(b[12:])),
		magic:           int8(b[16]),
		crc:             be.Uint32(b[17:]),
		attributes:      int16(be.Uint16(b[21:])),
		lastOffsetDelta: int32(be.Uint32(b[23:])),
		firstTimestamp:  int64(be.Uint64(b[27:])),
		maxTimestamp:    int64(be.Uint64(b[35:])),
		numRecords:      int32(be.Uint32(b[57:])),
	}
	switch {
	case h.magic != 2:
		return h, fmt.Errorf("%w: batch magic %d, want 2", ErrCorrupt, h.magic)
	case h.length < batchLengthMin:
		return h, fmt.Errorf("%w: batch length %d below %d", ErrCorrupt, h.length, batchLengthMin)
	case h.lastOffsetDelta < 0:
		return h, fmt.Errorf("%w: negative last offset delta %d", ErrCorrupt, h.lastOffsetDelta)
	case h.baseOffset < 0:
		return h, fmt.Errorf("%w: negative base offset %d", ErrCorrupt, h.baseOffset)
	}
	return h, nil
}

// checkBatchCRC verifies the CRC32C of the whole batch b.
func checkBatchCRC(b []byte) error {
	if len(b) < batchHeaderLen {
		return fmt.Errorf("%w: batch of %d bytes", ErrCorrupt, len(b))
	}
	want := binary.BigEndian.Uint32(b[17:])
	if got := crc32.Checksum(b[21:], castagnoli); got != want {
		return fmt.Errorf("%w: batch CRC %08x, stored %08x", ErrCorrupt, got, want)
	}
	return nil
}

// setBaseOffset rewrites the base offset of the batch (outside the CRC).
func setBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[0:], uint64(off)) }

// setLeaderEpoch rewrites the partition leader epoch (outside the CRC).
func setLeaderEpoch(b []byte, e int32) { binary.BigEndian.PutUint32(b[12:], uint32(e)) }

// walkRecordTimes calls fn with the offset delta and timestamp of every
// record of an uncompressed batch, in order, until fn returns false.
// Compressed batches are decoded with the wire package.
func walkRecordTimes(batch []byte, fn func(delta int32, ts int64) bool) error {
	h, err := parseBatchHeader(batch)
	if err != nil {
		return err
	}
	logAppend := h.attributes&attrLogAppendTime != 0
	if h.attributes&attrCodecMask != 0 {
		recs, err := wire.Records(batch)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		for _, r := range recs {
			ts := h.firstTimestamp + r.TimestampDelta
			if logAppend {
				ts = h.maxTimestamp
			}
			if !fn(r.OffsetDelta, ts) {
				return nil
			}
		}
		return nil
	}
	rest := batch[batchHeaderLen:]
	for i := int32(0); i < h.numRecords; i++ {
		length, n := binary.Varint(rest)
		if n <= 0 || length < 3 || int64(len(rest)-n) < length {
			return fmt.Errorf("%w: record %d length", ErrCorrupt, i)
		}
		rec := rest[n : n+int(length)]
		rest = rest[n+int(length):]
		tsDelta, n1 := binary.Varint(rec[1:])
		if n1 <= 0 {
			return fmt.Errorf("%w: record %d timestamp", ErrCorrupt, i)
		}
		offDelta, n2 := binary.Varint(rec[1+n1:])
		if n2 <= 0 || offDelta < 0 || offDelta > int64(h.lastOffsetDelta) {
			return fmt.Errorf("%w: record %d offset delta", ErrCorrupt, i)
		}
		ts := h.firstTimestamp + tsDelta
		if logAppend {
			ts = h.maxTimestamp
		}
		if !fn(int32(offDelta), ts) {
			return nil
		}
	}
	return nil
}
