package wire

import "bytes"

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
// but not the CRC or timestamps, and allows control batches.
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
	opt := ValidateOptions{AllowControl: true}
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
	return decodeRecords(data, h.NumRecords)
}

// decodeRecords decodes n records from data, aliasing data.
func decodeRecords(data []byte, n int32) ([]Record, error) {
	// Do not trust n for the allocation: each record takes at least
	// 1+recordLenMin bytes.
	recs := make([]Record, 0, min(int(n), len(data)/(1+recordLenMin)))
	it := recordIter{b: data, n: n}
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
