package wire

import (
	"bytes"
	"strconv"
)

// Header is a record header. Value is nil when the header value is null.
type Header struct {
	Key   string
	Value []byte
}

// Record is one record of a v2 batch.
type Record struct {
	Attributes     int8   // unused by Kafka; kept as sent
	TimestampDelta int64  // from the batch's FirstTimestamp, ms
	OffsetDelta    int32  // from the batch's BaseOffset
	Key, Value     []byte // nil = null
	Headers        []Header
}

// Records decompresses (if needed) and decodes the records of one whole
// batch. It checks the structure of the records as ValidateBatches does,
// but not the CRC or timestamps, and allows control batches and batches
// that log compaction rewrote: fewer records than offsets (down to none),
// with offset deltas increasing up to LastOffsetDelta.
//
// The Key, Value and header values of the result never alias batch: they
// point into one buffer owned by the result (a copy of the records, or
// their decompressed form), each slice capped at its own length.
func Records(batch []byte) ([]Record, error) {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return nil, corruptf("%v", err)
	}
	if h.Magic != 2 {
		return nil, newBatchError(CodeUnsupportedForMessageFormat, ErrUnsupportedMagic, "magic %d", h.Magic)
	}
	if h.Size() > len(batch) {
		return nil, corruptf("batch length %d exceeds the %d bytes given", h.Length, len(batch)-offLeaderEpoch)
	}
	opt := ValidateOptions{AllowControl: true, Compacted: true}
	if berr := checkHeader(h, opt); berr != nil {
		return nil, berr
	}
	body := batch[BatchHeaderLen:h.Size()]
	var data []byte
	if h.Codec() == CodecNone {
		data = bytes.Clone(body)
	} else if data, err = decompressAppend(nil, h.Codec(), body, 0); err != nil {
		return nil, corruptf("%s records: %v", h.Codec(), err)
	}
	return decodeRecords(data, h.NumRecords, h.LastOffsetDelta)
}

// decodeRecords decodes n records from data, aliasing data; offset deltas
// must increase and stay at or below lastDelta (gaps allowed).
func decodeRecords(data []byte, n, lastDelta int32) ([]Record, error) {
	// Do not trust n for the allocation: each record takes at least
	// 1+recordLenMin bytes.
	recs := make([]Record, 0, min(int(n), len(data)/(1+recordLenMin)))
	it := recordIter{b: data, n: n, gaps: true, lastDelta: lastDelta}
	var r rawRecord
	for it.more() {
		if err := it.next(&r); err != nil {
			return nil, err
		}
		recs = append(recs, Record{
			Attributes:     r.attributes,
			TimestampDelta: r.timestampDelta,
			OffsetDelta:    r.offsetDelta,
			Key:            r.key,
			Value:          r.value,
			Headers:        decodeHeaders(r.headers, r.numHeaders),
		})
	}
	if err := it.finish(); err != nil {
		return nil, err
	}
	return recs, nil
}

// recordLenMin is the smallest record body after its length varint:
// attributes, timestamp delta, offset delta, key length, value length and
// header count, one byte each.
const recordLenMin = 6

// rawRecord is one parsed record whose byte fields alias the batch data.
type rawRecord struct {
	attributes     int8
	timestampDelta int64
	offsetDelta    int32
	key, value     []byte // nil when null
	numHeaders     int32
	headers        []byte // the encoded headers, already checked
}

// recordIter walks the records of a decompressed batch body, checking the
// structure of each and that offset deltas run 0..n-1. It allocates
// nothing.
type recordIter struct {
	b    []byte // unread records
	i, n int32  // records read, records declared
	// gaps allows compacted batches: offset deltas increase up to
	// lastDelta instead of running 0..n-1.
	gaps      bool
	lastDelta int32
	prev      int32 // the previous record's offset delta (gaps only)
}

// more reports whether records remain to be read.
func (it *recordIter) more() bool { return it.i < it.n }

// next parses the next record into r.
func (it *recordIter) next(r *rawRecord) *BatchError {
	if len(it.b) == 0 {
		return invalidf("batch declares %d records but holds %d", it.n, it.i)
	}
	size, n := readVarint(it.b)
	if n <= 0 {
		return corruptf("record %d: bad length varint", it.i)
	}
	if size < recordLenMin || int(size) > len(it.b)-n {
		return corruptf("record %d: length %d out of range (%d bytes left)", it.i, size, len(it.b)-n)
	}
	body := it.b[n : n+int(size)]
	it.b = it.b[n+int(size):]
	if err := parseRecord(body, r); err != nil {
		err.Msg = recordMsg(it.i, err.Msg)
		return err
	}
	switch {
	case it.gaps && (r.offsetDelta > it.lastDelta || it.i > 0 && r.offsetDelta <= it.prev || r.offsetDelta < 0):
		return invalidf("record %d: offset delta %d out of order (previous %d, last %d)", it.i, r.offsetDelta, it.prev, it.lastDelta)
	case !it.gaps && r.offsetDelta != it.i:
		return invalidf("record %d: offset delta %d, want %d", it.i, r.offsetDelta, it.i)
	}
	it.prev = r.offsetDelta
	it.i++
	return nil
}

// finish checks that no bytes follow the declared records.
func (it *recordIter) finish() *BatchError {
	if len(it.b) != 0 {
		return invalidf("%d bytes follow the %d declared records", len(it.b), it.n)
	}
	return nil
}

// recordMsg prefixes a message with the record index.
func recordMsg(i int32, msg string) string {
	return "record " + strconv.Itoa(int(i)) + ": " + msg
}

// parseRecord parses one record body (after its length) that must be
// consumed exactly.
func parseRecord(b []byte, r *rawRecord) *BatchError {
	r.attributes = int8(b[0])
	b = b[1:]
	var n int
	if r.timestampDelta, n = readVarlong(b); n <= 0 {
		return corruptf("bad timestamp delta")
	}
	b = b[n:]
	if r.offsetDelta, n = readVarint(b); n <= 0 {
		return corruptf("bad offset delta")
	}
	b = b[n:]
	var err *BatchError
	if r.key, b, err = readBytes(b, "key"); err != nil {
		return err
	}
	if r.value, b, err = readBytes(b, "value"); err != nil {
		return err
	}
	if r.numHeaders, n = readVarint(b); n <= 0 || r.numHeaders < 0 {
		return corruptf("bad header count")
	}
	b = b[n:]
	r.headers = b
	for h := int32(0); h < r.numHeaders; h++ {
		var k []byte
		if k, b, err = readBytes(b, "header key"); err != nil {
			return err
		}
		if k == nil {
			return corruptf("null header key")
		}
		if _, b, err = readBytes(b, "header value"); err != nil {
			return err
		}
	}
	if len(b) != 0 {
		return corruptf("%d bytes left over after the record", len(b))
	}
	return nil
}

// readBytes reads a varint length (-1 for null) and that many bytes.
func readBytes(b []byte, what string) ([]byte, []byte, *BatchError) {
	size, n := readVarint(b)
	if n <= 0 {
		return nil, b, corruptf("bad %s length", what)
	}
	b = b[n:]
	if size == -1 {
		return nil, b, nil
	}
	if size < -1 || int(size) > len(b) {
		return nil, b, corruptf("%s length %d out of range (%d bytes left)", what, size, len(b))
	}
	return b[:size:size], b[size:], nil
}

// decodeHeaders decodes headers that parseRecord already checked.
func decodeHeaders(b []byte, count int32) []Header {
	if count == 0 {
		return nil
	}
	hs := make([]Header, count)
	for i := range hs {
		k, rest, _ := readBytes(b, "")
		v, rest, _ := readBytes(rest, "")
		hs[i] = Header{Key: string(k), Value: v}
		b = rest
	}
	return hs
}
