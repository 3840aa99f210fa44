package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
)

// Kafka error codes a BatchError carries.
const (
	CodeCorruptMessage              int16 = 2
	CodeInvalidTimestamp            int16 = 32
	CodeUnsupportedForMessageFormat int16 = 43
	CodeUnsupportedCompressionType  int16 = 76
	CodeInvalidRecord               int16 = 87
)

// Sentinels a BatchError unwraps to, one per Kafka error code.
var (
	ErrCorruptMessage   = errors.New("wire: corrupt record batch")
	ErrInvalidTimestamp = errors.New("wire: record timestamp out of range")
	ErrUnsupportedMagic = errors.New("wire: unsupported record batch magic")
	ErrUnsupportedCodec = errors.New("wire: unsupported compression type")
	ErrInvalidRecord    = errors.New("wire: invalid record")
)

// BatchError is a record batch rejected by ValidateBatches or Records.
// Code is the Kafka error code to answer the partition with.
type BatchError struct {
	Code  int16  // Kafka error code, one of the Code constants
	Msg   string // what was wrong
	Index int    // which batch of the Records field, from 0
	Err   error  // the sentinel matching Code, for errors.Is
}

// Error describes the batch, the problem and the Kafka code.
func (e *BatchError) Error() string {
	return fmt.Sprintf("wire: record batch %d: %s (kafka error %d)", e.Index, e.Msg, e.Code)
}

// Unwrap returns the sentinel matching Code.
func (e *BatchError) Unwrap() error { return e.Err }

func newBatchError(code int16, sentinel error, format string, args ...any) *BatchError {
	return &BatchError{Code: code, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

func corruptf(format string, args ...any) *BatchError {
	return newBatchError(CodeCorruptMessage, ErrCorruptMessage, format, args...)
}

func invalidf(format string, args ...any) *BatchError {
	return newBatchError(CodeInvalidRecord, ErrInvalidRecord, format, args...)
}

// ValidateOptions tunes ValidateBatches.
type ValidateOptions struct {
	NowMs                int64 // broker clock, ms since the epoch
	TimestampBeforeMaxMs int64 // message.timestamp.before.max.ms: reject ts < NowMs-this; <= 0 means no limit
	TimestampAfterMaxMs  int64 // message.timestamp.after.max.ms: reject ts > NowMs+this; <= 0 means no limit
	DecompressedBytesMax int   // bound on one batch's decompressed records; 0 means DecompressedBytesMaxDefault
	// AllowControl accepts control batches (transaction markers). Clients
	// may not produce them, so leave it false for Produce; set it for
	// batches fetched from a leader.
	AllowControl bool
	// Compacted accepts batches rewritten by log compaction: fewer records
	// than offsets (none at all, even), offset deltas increasing with gaps.
	// Leave it false for Produce.
	Compacted bool
}

// decompressBufs holds buffers for decompressed batches on the produce
// path, which only validates them.
var decompressBufs = sync.Pool{New: func() any { return new([]byte) }}

// decompressBufBytesMax keeps an unusually large buffer out of the pool.
const decompressBufBytesMax = 8 << 20

// ValidateBatches checks the Records field of a Produce partition: one or
// more magic v2 batches back to back that exactly fill records. For each
// batch it checks the framing, CRC32C, header fields, codec, and every
// record (structure, count, offset deltas 0..n-1, timestamps within opt's
// limits), decompressing into a pooled buffer when needed. Uncompressed
// batches are checked without allocating per record.
//
// It returns one header per batch, or a *BatchError carrying the Kafka
// error code and the index of the first bad batch. Kafka itself allows
// exactly one batch per partition from Produce v3 (ProduceRequest
// validateRecords, INVALID_RECORD otherwise); a caller that wants that
// rule checks len of the result.
func ValidateBatches(records []byte, opt ValidateOptions) ([]BatchHeader, error) {
	if len(records) == 0 {
		return nil, invalidf("no record batches")
	}
	hs := make([]BatchHeader, 0, 1)
	for i := 0; len(records) > 0; i++ {
		h, err := validateBatch(records, opt)
		if err != nil {
			err.Index = i
			return nil, err
		}
		hs = append(hs, h)
		records = records[h.Size():]
	}
	return hs, nil
}

// validateBatch checks the batch at the start of b.
func validateBatch(b []byte, opt ValidateOptions) (BatchHeader, *BatchError) {
	h, err := checkFraming(b)
	if err != nil {
		return h, err
	}
	if err := checkHeader(h, opt); err != nil {
		return h, err
	}
	body := b[BatchHeaderLen:h.Size()]
	if h.Codec() == CodecNone {
		return h, checkRecords(body, h, opt)
	}
	bufp := decompressBufs.Get().(*[]byte)
	defer func() {
		if cap(*bufp) <= decompressBufBytesMax {
			decompressBufs.Put(bufp)
		}
	}()
	data, derr := decompressAppend((*bufp)[:0], h.Codec(), body, opt.DecompressedBytesMax)
	if derr != nil {
		return h, corruptf("%s records: %v", h.Codec(), derr)
	}
	*bufp = data
	return h, checkRecords(data, h, opt)
}

// checkFraming checks magic, Length and CRC, and parses the header.
func checkFraming(b []byte) (BatchHeader, *BatchError) {
	if len(b) <= offMagic {
		return BatchHeader{}, corruptf("%d trailing bytes, too short for a batch", len(b))
	}
	switch magic := int8(b[offMagic]); magic {
	case 2:
	case 0, 1:
		return BatchHeader{}, newBatchError(CodeUnsupportedForMessageFormat, ErrUnsupportedMagic,
			"magic %d message sets are not supported; use record batches (magic 2)", magic)
	default:
		return BatchHeader{}, corruptf("unknown magic %d", magic)
	}
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, corruptf("%v", err)
	}
	if h.Size() > len(b) {
		return h, corruptf("batch length %d exceeds the %d bytes left", h.Length, len(b)-offLeaderEpoch)
	}
	want := binary.BigEndian.Uint32(b[offCRC:])
	if got := crc32.Checksum(b[offAttributes:h.Size()], crcTable); got != want {
		return h, corruptf("CRC mismatch: stored %#08x, computed %#08x", want, got)
	}
	return h, nil
}

// checkHeader checks the header fields Kafka's LogValidator checks.
func checkHeader(h BatchHeader, opt ValidateOptions) *BatchError {
	switch {
	case !h.Codec().Known():
		return newBatchError(CodeUnsupportedCompressionType, ErrUnsupportedCodec,
			"unknown compression codec %d", h.Codec())
	case opt.Compacted && (h.NumRecords < 0 || h.LastOffsetDelta < 0 || int64(h.NumRecords) > int64(h.LastOffsetDelta)+1):
		return invalidf("compacted batch: %d records within last offset delta %d", h.NumRecords, h.LastOffsetDelta)
	case !opt.Compacted && h.NumRecords <= 0:
		return invalidf("record count %d, want at least 1", h.NumRecords)
	case !opt.Compacted && h.LastOffsetDelta != h.NumRecords-1:
		return invalidf("last offset delta %d with %d records", h.LastOffsetDelta, h.NumRecords)
	case h.ProducerID < -1:
		return invalidf("producer id %d", h.ProducerID)
	case h.ProducerID >= 0 && h.BaseSequence < 0 && !h.Control():
		// Transaction markers carry the producer with no sequence (-1).
		return invalidf("producer id %d with base sequence %d", h.ProducerID, h.BaseSequence)
	case h.Control() && !opt.AllowControl:
		return invalidf("clients may not produce control batches")
	case h.MaxTimestamp < -1:
		return newBatchError(CodeInvalidTimestamp, ErrInvalidTimestamp, "max timestamp %d", h.MaxTimestamp)
	case h.LogAppendTime():
		return checkTimestamp(h.MaxTimestamp, opt)
	}
	return nil
}

// checkTimestamp applies message.timestamp.{before,after}.max.ms.
func checkTimestamp(ts int64, opt ValidateOptions) *BatchError {
	if opt.TimestampBeforeMaxMs > 0 && ts < opt.NowMs-opt.TimestampBeforeMaxMs {
		return newBatchError(CodeInvalidTimestamp, ErrInvalidTimestamp,
			"timestamp %d is more than %d ms before %d", ts, opt.TimestampBeforeMaxMs, opt.NowMs)
	}
	if opt.TimestampAfterMaxMs > 0 && ts > opt.NowMs+opt.TimestampAfterMaxMs {
		return newBatchError(CodeInvalidTimestamp, ErrInvalidTimestamp,
			"timestamp %d is more than %d ms after %d", ts, opt.TimestampAfterMaxMs, opt.NowMs)
	}
	return nil
}

// checkRecords walks every record of a decompressed body. Record
// timestamps are checked for CreateTime batches; a LogAppendTime batch
// was checked by its MaxTimestamp.
func checkRecords(data []byte, h BatchHeader, opt ValidateOptions) *BatchError {
	checkTs := !h.LogAppendTime() && (opt.TimestampBeforeMaxMs > 0 || opt.TimestampAfterMaxMs > 0)
	it := recordIter{b: data, n: h.NumRecords}
	var r rawRecord
	for it.more() {
		if err := it.next(&r); err != nil {
			return err
		}
		if checkTs {
			if err := checkTimestamp(h.FirstTimestamp+r.timestampDelta, opt); err != nil {
				err.Msg = recordMsg(it.i-1, err.Msg)
				return err
			}
		}
	}
	return it.finish()
}
