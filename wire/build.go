package wire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// Batch is a v2 record batch to encode with AppendBatch.
type Batch struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32
	Attributes           int16 // codec bits are replaced by Codec
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	Codec                Codec
	Records              []Record
}

// AppendBatch encodes b as a whole v2 batch and appends it to dst: it
// compresses the records with b.Codec and computes Length,
// LastOffsetDelta, NumRecords and the CRC.
//
// Each record's OffsetDelta is written as given, except that when every
// record has OffsetDelta 0 (the zero value, as for a fresh batch) record i
// gets delta i. LastOffsetDelta is the last record's delta (0 for no
// records). Timestamps are written as given.
func AppendBatch(dst []byte, b Batch) ([]byte, error) {
	if !b.Codec.Known() {
		return dst, fmt.Errorf("%w: %d", ErrUnknownCodec, b.Codec)
	}
	if len(b.Records) > math.MaxInt32 {
		return dst, fmt.Errorf("wire: %d records do not fit a batch", len(b.Records))
	}
	start := len(dst)
	dst = append(dst, make([]byte, BatchHeaderLen)...)
	assign := allZeroDeltas(b.Records)
	var lastDelta int32
	if b.Codec == CodecNone {
		dst, lastDelta = appendRecords(dst, b.Records, assign)
	} else {
		bufp := decompressBufs.Get().(*[]byte)
		raw, last := appendRecords((*bufp)[:0], b.Records, assign)
		var err error
		dst, err = Compress(b.Codec, dst, raw)
		*bufp = raw
		if cap(raw) <= decompressBufBytesMax {
			decompressBufs.Put(bufp)
		}
		if err != nil {
			return dst[:start], err
		}
		lastDelta = last
	}
	if len(dst)-start-offLeaderEpoch > batchLengthMax {
		return dst[:start], fmt.Errorf("wire: batch of %d bytes is too large", len(dst)-start)
	}
	putBatchHeader(dst[start:], b, lastDelta)
	return dst, nil
}

// putBatchHeader fills the header of the batch that fills hdr, CRC last.
func putBatchHeader(batch []byte, b Batch, lastDelta int32) {
	be := binary.BigEndian
	attrs := b.Attributes&^attrCodecMask | int16(b.Codec)
	be.PutUint64(batch[offBaseOffset:], uint64(b.BaseOffset))
	be.PutUint32(batch[offLength:], uint32(len(batch)-offLeaderEpoch))
	be.PutUint32(batch[offLeaderEpoch:], uint32(b.PartitionLeaderEpoch))
	batch[offMagic] = 2
	be.PutUint16(batch[offAttributes:], uint16(attrs))
	be.PutUint32(batch[offLastOffsetDelta:], uint32(lastDelta))
	be.PutUint64(batch[offFirstTimestamp:], uint64(b.FirstTimestamp))
	be.PutUint64(batch[offMaxTimestamp:], uint64(b.MaxTimestamp))
	be.PutUint64(batch[offProducerID:], uint64(b.ProducerID))
	be.PutUint16(batch[offProducerEpoch:], uint16(b.ProducerEpoch))
	be.PutUint32(batch[offBaseSequence:], uint32(b.BaseSequence))
	be.PutUint32(batch[offNumRecords:], uint32(len(b.Records)))
	be.PutUint32(batch[offCRC:], crc32.Checksum(batch[offAttributes:], crcTable))
}

// allZeroDeltas reports whether no record sets an offset delta.
func allZeroDeltas(recs []Record) bool {
	for i := range recs {
		if recs[i].OffsetDelta != 0 {
			return false
		}
	}
	return true
}

// appendRecords encodes recs and returns the last offset delta written.
func appendRecords(dst []byte, recs []Record, assign bool) ([]byte, int32) {
	var last int32
	for i := range recs {
		r := &recs[i]
		delta := r.OffsetDelta
		if assign {
			delta = int32(i)
		}
		dst = appendRecord(dst, r, delta)
		last = delta
	}
	return dst, last
}

// appendRecord encodes one record: its length, then the body.
func appendRecord(dst []byte, r *Record, delta int32) []byte {
	dst = appendVarint(dst, int32(recordBodyLen(r, delta)))
	dst = append(dst, byte(r.Attributes))
	dst = appendVarlong(dst, r.TimestampDelta)
	dst = appendVarint(dst, delta)
	dst = appendNullableBytes(dst, r.Key)
	dst = appendNullableBytes(dst, r.Value)
	dst = appendVarint(dst, int32(len(r.Headers)))
	for _, h := range r.Headers {
		dst = appendVarint(dst, int32(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendNullableBytes(dst, h.Value)
	}
	return dst
}

// recordBodyLen is the encoded size of a record after its length varint.
func recordBodyLen(r *Record, delta int32) int {
	n := 1 + varlongLen(r.TimestampDelta) + varintLen(delta) +
		nullableBytesLen(r.Key) + nullableBytesLen(r.Value) + varintLen(int32(len(r.Headers)))
	for _, h := range r.Headers {
		n += varintLen(int32(len(h.Key))) + len(h.Key) + nullableBytesLen(h.Value)
	}
	return n
}

// nullableBytesLen is the encoded size of b with its varint length.
func nullableBytesLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varintLen(int32(len(b))) + len(b)
}

// appendNullableBytes appends a varint length (-1 for nil) and b.
func appendNullableBytes(dst, b []byte) []byte {
	if b == nil {
		return appendVarint(dst, -1)
	}
	dst = appendVarint(dst, int32(len(b)))
	return append(dst, b...)
}
