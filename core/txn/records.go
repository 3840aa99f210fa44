package txn

// The __transaction_state record formats, exactly as Kafka's TransactionLog
// writes them (transaction-coordinator's TransactionLogKey.json and
// TransactionLogValue.json):
//   - key version 0: int16 version, then the transactional id (int16
//     length and bytes);
//   - value version 0: int16 version, producer id (int64), producer epoch
//     (int16), timeout (int32), state id (int8), partitions (nullable
//     array of topic and int32 partition ids: null in Empty), last update
//     and start timestamps (int64);
//   - value version 1 (flexible, KIP-915): the same with compact lengths
//     and tagged fields: 0 previous producer id, 1 next producer id (both
//     omitted at -1), 2 client transaction version (omitted at 0);
//   - a nil value is a tombstone: the transactional id expired.

import (
	"errors"
	"fmt"
	"slices"

	"github.com/jocko/jocko/core/group"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Meta is what the log holds for a transactional id: one record's value.
type Meta struct {
	ProducerID     int64
	PrevProducerID int64 // -1: none
	NextProducerID int64 // -1: none
	ProducerEpoch  int16
	TimeoutMs      int32
	State          State
	Partitions     []TopicPartition // sorted; nil in Empty
	UpdateMs       int64
	StartMs        int64 // -1 before the first transaction
	ClientVersion  int16 // the client's transaction version (2: KIP-890 part 2)
}

func keyBytes(id string) []byte {
	k := kmsg.TxnMetadataKey{Version: 0, TransactionalID: id}
	return k.AppendTo(nil)
}

// valueBytes encodes m as TransactionLogValue of the given version.
func valueBytes(m *Meta, version int16) []byte {
	if m.State == Empty && len(m.Partitions) > 0 {
		panic(fmt.Sprintf("txn: Empty transaction with %d partitions", len(m.Partitions)))
	}
	v := kmsg.NewTxnMetadataValue()
	v.Version = version
	v.ProducerID = m.ProducerID
	v.ProducerEpoch = m.ProducerEpoch
	v.TimeoutMillis = m.TimeoutMs
	v.State = kmsg.TransactionState(m.State)
	if m.State != Empty {
		v.Topics = []kmsg.TxnMetadataValueTopic{}
		for _, tp := range m.Partitions {
			if n := len(v.Topics); n == 0 || v.Topics[n-1].Topic != tp.Topic {
				v.Topics = append(v.Topics, kmsg.TxnMetadataValueTopic{Topic: tp.Topic, Partitions: []int32{}})
			}
			t := &v.Topics[len(v.Topics)-1]
			t.Partitions = append(t.Partitions, tp.Partition)
		}
	}
	v.LastUpdateTimestamp = m.UpdateMs
	v.StartTimestamp = m.StartMs
	if version >= 1 {
		v.PreviousProducerID = m.PrevProducerID
		v.NextProducerID = m.NextProducerID
		v.ClientTransactionVersion = m.ClientVersion
	}
	v.NextProducerEpoch = -1
	return v.AppendTo(nil)
}

// ErrUnknownKey marks a record whose key version this package does not
// know; the Loader skips it, as Kafka does.
var ErrUnknownKey = errors.New("txn: unknown transaction log key version")

// DecodeRecord decodes and checks one __transaction_state record: the
// transactional id and its metadata (nil for a tombstone).
func DecodeRecord(key, value []byte) (string, *Meta, error) {
	if len(key) < 2 {
		return "", nil, fmt.Errorf("txn: record key of %d bytes", len(key))
	}
	if v := int16(key[0])<<8 | int16(key[1]); v != 0 {
		return "", nil, fmt.Errorf("%w: %d", ErrUnknownKey, v)
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return "", nil, fmt.Errorf("txn: transaction log key: %w", err)
	}
	if k.TransactionalID == "" {
		return "", nil, errors.New("txn: transaction log key with an empty transactional id")
	}
	if value == nil {
		return k.TransactionalID, nil, nil
	}
	m, err := decodeValue(value)
	return k.TransactionalID, m, err
}

func decodeValue(value []byte) (*Meta, error) {
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return nil, fmt.Errorf("txn: transaction log value: %w", err)
	}
	if v.Version < 0 || v.Version > 1 {
		return nil, fmt.Errorf("txn: transaction log value version %d", v.Version)
	}
	m := &Meta{
		ProducerID:     v.ProducerID,
		PrevProducerID: -1,
		NextProducerID: -1,
		ProducerEpoch:  v.ProducerEpoch,
		TimeoutMs:      v.TimeoutMillis,
		State:          State(v.State),
		UpdateMs:       v.LastUpdateTimestamp,
		StartMs:        v.StartTimestamp,
	}
	if v.Version >= 1 {
		m.PrevProducerID, m.NextProducerID, m.ClientVersion = v.PreviousProducerID, v.NextProducerID, v.ClientTransactionVersion
	}
	switch m.State {
	case Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort:
	default:
		// Kafka never completes a transition to Dead or PrepareEpochFence,
		// so neither is ever written.
		return nil, fmt.Errorf("txn: transaction log value in state %v", m.State)
	}
	if m.ProducerID < 0 || m.ProducerEpoch < 0 {
		return nil, fmt.Errorf("txn: transaction log value with producer id %d epoch %d", m.ProducerID, m.ProducerEpoch)
	}
	if m.State != Empty {
		for _, t := range v.Topics {
			for _, p := range t.Partitions {
				m.Partitions = append(m.Partitions, TopicPartition{t.Topic, p})
			}
		}
		slices.SortFunc(m.Partitions, compareTP)
		m.Partitions = slices.Compact(m.Partitions)
	}
	return m, nil
}

// Partition is the __transaction_state partition that holds a
// transactional id. Kafka maps transactional ids exactly as group ids
// (Utils.abs(id.hashCode()) % numPartitions), so it is group.Partition.
func Partition(transactionalID string, numPartitions int32) int32 {
	return group.Partition(transactionalID, numPartitions)
}
