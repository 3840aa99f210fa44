package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// BatchHeaderLen is the size of the fixed header of a magic v2 record
// batch: everything before the first record.
const BatchHeaderLen = 61

// Offsets of the fields of a v2 batch header, from the start of the batch.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57

	// batchLengthMin is the smallest legal Length field: the header
	// bytes that follow the Length field itself.
	batchLengthMin = BatchHeaderLen - offLeaderEpoch
	// batchLengthMax keeps Size() within an int32.
	batchLengthMax = math.MaxInt32 - offLeaderEpoch
)

// Attribute bits of a v2 batch.
const (
	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

// crcTable is the CRC32C (Castagnoli) table Kafka uses for v2 batches.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrShortBatch is returned by ParseBatchHeader for fewer than
// BatchHeaderLen bytes.
var ErrShortBatch = errors.New("wire: record batch shorter than its header")

// ErrBatchLength is returned by ParseBatchHeader when the Length field
// cannot describe a v2 batch.
var ErrBatchLength = errors.New("wire: record batch length out of range")

// ErrBadCRC is returned by CheckCRC when the stored CRC32C does not match.
var ErrBadCRC = errors.New("wire: record batch CRC mismatch")

// BatchHeader is the fixed 61-byte header of a magic v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Codec returns the compression codec from the attributes (bits 0-2).
func (h BatchHeader) Codec() Codec { return Codec(h.Attributes & attrCodecMask) }

// LogAppendTime reports whether the timestamp type is LogAppendTime
// (attributes bit 3); otherwise it is CreateTime.
func (h BatchHeader) LogAppendTime() bool { return h.Attributes&attrLogAppendTime != 0 }

// Transactional reports whether the batch is part of a transaction
// (attributes bit 4).
func (h BatchHeader) Transactional() bool { return h.Attributes&attrTransactional != 0 }

// Control reports whether the batch holds control records such as
// transaction markers (attributes bit 5).
func (h BatchHeader) Control() bool { return h.Attributes&attrControl != 0 }

// LastOffset is the offset of the last record: BaseOffset + LastOffsetDelta.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size is the whole batch size in bytes: 12 + Length.
func (h BatchHeader) Size() int { return offLeaderEpoch + int(h.Length) }

// NextOffset is the offset that follows this batch: LastOffset() + 1.
func (h BatchHeader) NextOffset() int64 { return h.LastOffset() + 1 }

// ParseBatchHeader reads the fixed 61-byte header of a v2 batch. It does
// not check the CRC, the magic or that the whole batch is present in b; it
// fails if b is shorter than BatchHeaderLen or Length cannot describe a
// batch (less than the header, or a Size over math.MaxInt32).
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderLen {
		return BatchHeader{}, ErrShortBatch
	}
	be := binary.BigEndian
	h := BatchHeader{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(be.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}
	if h.Length < batchLengthMin || h.Length > batchLengthMax {
		return h, fmt.Errorf("%w: %d", ErrBatchLength, h.Length)
	}
	return h, nil
}

// SetBaseOffset rewrites the base offset of the batch in place. The base
// offset is outside the CRC, so the CRC stays valid.
func SetBaseOffset(batch []byte, off int64) {
	binary.BigEndian.PutUint64(batch[offBaseOffset:], uint64(off))
}

// SetPartitionLeaderEpoch rewrites the partition leader epoch of the batch
// in place. The epoch is outside the CRC, so the CRC stays valid.
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	binary.BigEndian.PutUint32(batch[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the batch as LogAppendTime, sets MaxTimestamp to
// ts and recomputes the CRC, as a broker does for a topic with
// message.timestamp.type=LogAppendTime. batch must hold the whole batch.
func SetLogAppendTime(batch []byte, ts int64) {
	be := binary.BigEndian
	attrs := be.Uint16(batch[offAttributes:]) | attrLogAppendTime
	be.PutUint16(batch[offAttributes:], attrs)
	be.PutUint64(batch[offMaxTimestamp:], uint64(ts))
	be.PutUint32(batch[offCRC:], crc32.Checksum(batch[offAttributes:], crcTable))
}

// CheckCRC verifies the CRC32C (Castagnoli) of a whole batch: the checksum
// over the bytes from the attributes (offset 21) to the end of batch.
func CheckCRC(batch []byte) error {
	if len(batch) < BatchHeaderLen {
		return ErrShortBatch
	}
	want := binary.BigEndian.Uint32(batch[offCRC:])
	if got := crc32.Checksum(batch[offAttributes:], crcTable); got != want {
		return fmt.Errorf("%w: stored %#08x, computed %#08x", ErrBadCRC, want, got)
	}
	return nil
}
