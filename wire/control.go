package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Control record types: the key's type field of a control batch's record
// (Kafka's ControlRecordType).
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// ErrControlRecord is returned by ParseControlRecord for a batch that is
// not a well-formed transaction marker.
var ErrControlRecord = errors.New("wire: malformed control record")

// ControlRecord is a transaction marker: the single record of a control
// batch. Its key is version int16 + type int16; its value (Kafka's
// EndTransactionMarker) is version int16 + coordinatorEpoch int32.
type ControlRecord struct {
	KeyVersion       int16
	Type             int16 // ControlAbort or ControlCommit (others are reserved)
	ValueVersion     int16
	CoordinatorEpoch int32
}

// ParseControlRecord decodes the marker of a whole control batch (one
// whose attributes have the control bit set). It fails with
// ErrControlRecord if the batch is not a control batch, has no record, or
// its key or value is too short; an unknown type is returned as it is
// (Kafka skips unknown control types), so callers check Type.
func ParseControlRecord(batch []byte) (ControlRecord, error) {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return ControlRecord{}, fmt.Errorf("%w: %v", ErrControlRecord, err)
	}
	if !h.Control() {
		return ControlRecord{}, fmt.Errorf("%w: not a control batch", ErrControlRecord)
	}
	recs, err := Records(batch)
	if err != nil {
		return ControlRecord{}, fmt.Errorf("%w: %v", ErrControlRecord, err)
	}
	if len(recs) == 0 {
		return ControlRecord{}, fmt.Errorf("%w: no record", ErrControlRecord)
	}
	k, v := recs[0].Key, recs[0].Value
	if len(k) < 4 {
		return ControlRecord{}, fmt.Errorf("%w: key of %d bytes", ErrControlRecord, len(k))
	}
	be := binary.BigEndian
	c := ControlRecord{KeyVersion: int16(be.Uint16(k)), Type: int16(be.Uint16(k[2:]))}
	if c.Type == ControlAbort || c.Type == ControlCommit {
		if len(v) < 6 {
			return ControlRecord{}, fmt.Errorf("%w: marker value of %d bytes", ErrControlRecord, len(v))
		}
		c.ValueVersion, c.CoordinatorEpoch = int16(be.Uint16(v)), int32(be.Uint32(v[2:]))
	}
	return c, nil
}

// AppendControlBatch appends a control batch holding one transaction
// marker of type typ (ControlAbort or ControlCommit) from producer pid at
// epoch, with coordinator epoch coordEpoch and timestamp ts, at base
// offset 0: what WriteTxnMarkers writes to a partition. The batch is
// transactional and control, uncompressed, with base sequence -1.
func AppendControlBatch(dst []byte, pid int64, epoch int16, typ int16, coordEpoch int32, ts int64) []byte {
	be := binary.BigEndian
	key := be.AppendUint16(be.AppendUint16(nil, 0), uint16(typ))
	val := be.AppendUint32(be.AppendUint16(nil, 0), uint32(coordEpoch))
	out, err := AppendBatch(dst, Batch{
		Attributes: attrTransactional | attrControl, FirstTimestamp: ts, MaxTimestamp: ts,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: -1, Codec: CodecNone,
		Records: []Record{{Key: key, Value: val}},
	})
	if err != nil {
		panic("wire: encoding a control batch: " + err.Error()) // CodecNone cannot fail
	}
	return out
}
