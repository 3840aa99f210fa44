package wire

// Log compaction's delete horizon (KIP-534). The first cleaning that keeps
// a tombstone in a batch records when the batch's tombstones may go: it
// sets bit 6 of the attributes (the delete-horizon flag) and stores the
// horizon in the base timestamp (FirstTimestamp), rewriting each record's
// timestamp delta against it so that every record keeps its timestamp. A
// later cleaning drops the tombstones once its clock reaches the horizon.
// Readers need nothing new: a record's timestamp is still FirstTimestamp
// plus its delta.
//
// Compaction reads records with EachRecord, which walks a batch's records
// without copying them, and rewrites a record's timestamp delta with
// AppendRecordTimestampDelta.

import (
	"encoding/binary"
	"errors"
)

// attrDeleteHorizon (attributes bit 6) says FirstTimestamp holds the
// batch's delete horizon.
const attrDeleteHorizon = 0x40

// DeleteHorizonMs returns the batch's delete horizon (KIP-534), in ms
// since the epoch, and whether it has one.
func (h BatchHeader) DeleteHorizonMs() (int64, bool) {
	if h.Attributes&attrDeleteHorizon == 0 {
		return 0, false
	}
	return h.FirstTimestamp, true
}

// SetDeleteHorizon marks the header at the start of batch as holding the
// delete horizon horizonMs: it sets the delete-horizon flag and puts
// horizonMs in the base timestamp. The caller re-encodes the records
// against the new base (AppendRecordTimestampDelta, with each delta moved
// by the old base minus horizonMs) and computes the CRC afterwards.
func SetDeleteHorizon(batch []byte, horizonMs int64) {
	be := binary.BigEndian
	be.PutUint16(batch[offAttributes:], be.Uint16(batch[offAttributes:])|attrDeleteHorizon)
	be.PutUint64(batch[offFirstTimestamp:], uint64(horizonMs))
}

// RecordView is one record of a decompressed batch body, as EachRecord
// finds it; its slices alias the body.
type RecordView struct {
	Raw            []byte // the whole record, its length prefix included
	TimestampDelta int64  // from the batch's FirstTimestamp
	OffsetDelta    int32  // from the batch's BaseOffset
	Key, Value     []byte // nil when null; a null Value is a tombstone
}

// EachRecord calls fn for each record of data, the decompressed records of
// a batch whose header is h, checking their structure as Records does. It
// allows the batches log compaction leaves: fewer records than offsets,
// offset deltas increasing up to LastOffsetDelta. It allocates nothing.
func EachRecord(data []byte, h BatchHeader, fn func(RecordView)) error {
	if h.NumRecords < 0 {
		return invalidf("record count %d", h.NumRecords)
	}
	it := recordIter{b: data, n: h.NumRecords, gaps: true, lastDelta: h.LastOffsetDelta}
	var r rawRecord
	for it.more() {
		rest := it.b
		if err := it.next(&r); err != nil {
			return err
		}
		fn(RecordView{
			Raw:            rest[:len(rest)-len(it.b)],
			TimestampDelta: r.timestampDelta,
			OffsetDelta:    r.offsetDelta,
			Key:            r.key,
			Value:          r.value,
		})
	}
	if err := it.finish(); err != nil {
		return err
	}
	return nil
}

// errRecordView is returned for a RecordView whose Raw is not a record.
var errRecordView = errors.New("wire: not an encoded record")

// AppendRecordTimestampDelta appends r re-encoded with timestamp delta
// delta; every other field stays as it was.
func AppendRecordTimestampDelta(dst []byte, r RecordView, delta int64) ([]byte, error) {
	size, n := readVarint(r.Raw)
	if n <= 0 || size < recordLenMin || int(size) != len(r.Raw)-n {
		return dst, errRecordView
	}
	body := r.Raw[n:]
	_, m := readVarlong(body[1:])
	if m <= 0 {
		return dst, errRecordView
	}
	tail := body[1+m:] // offset delta, key, value, headers
	dst = appendVarint(dst, int32(1+varlongLen(delta)+len(tail)))
	dst = append(dst, body[0])
	dst = appendVarlong(dst, delta)
	return append(dst, tail...), nil
}
