package txn

import (
	"errors"
	"sort"
)

// Loader rebuilds the transactional ids of one __transaction_state
// partition from its records, read in log order: the last record of a key
// wins and a tombstone deletes (Kafka's
// TransactionStateManager.loadTransactionMetadata). A coordinator that
// starts leading the partition feeds every record to Apply, calls Done,
// and answers COORDINATOR_LOAD_IN_PROGRESS until then.
type Loader struct {
	metas map[string]*Meta
	// Skipped counts records of unknown key versions.
	Skipped int
}

// NewLoader returns an empty Loader.
func NewLoader() *Loader { return &Loader{metas: map[string]*Meta{}} }

// Apply replays one record. An unknown key version is counted and skipped;
// any other error means the record is corrupt and was not applied.
func (l *Loader) Apply(key, value []byte) error {
	id, m, err := DecodeRecord(key, value)
	if errors.Is(err, ErrUnknownKey) {
		l.Skipped++
		return nil
	}
	if err != nil {
		return err
	}
	if m == nil {
		delete(l.metas, id)
	} else {
		l.metas[id] = m
	}
	return nil
}

// Done builds the Coordinator. Transactions found in PrepareCommit or
// PrepareAbort resume their marker work: the Output lists it (and the
// completion record of those with no partitions), as Kafka's load hands
// them to the marker channel. The previous epoch of KIP-360 retries is not
// in the log, so it is unknown after a load, as in Kafka.
func (l *Loader) Done(nowMs int64, cfg Config, ids ProducerIDs, coordinatorEpoch int32) (*Coordinator, Output) {
	c := New(cfg, ids, coordinatorEpoch)
	var out Output
	keys := make([]string, 0, len(l.metas))
	for id := range l.metas {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	for _, id := range keys {
		t := &txn{id: id, m: *l.metas[id], lastEpoch: noProducerEpoch}
		c.txns[id] = t
		if t.m.State == PrepareCommit || t.m.State == PrepareAbort {
			c.startMarkers(t, nowMs, &out)
		}
	}
	return c, out
}
