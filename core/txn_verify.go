package core

// Partition verification (KIP-890): before a partition leader appends a
// producer's first transactional batch of a transaction, it asks the
// transaction coordinator whether the partition is part of that
// transaction (part 1, AddPartitionsToTxn v4+ with VerifyOnly), or, for a
// client on transaction.version 2, adds it (part 2's implicit add). A
// __consumer_offsets partition is verified the same way for
// TxnOffsetCommit.

import (
	"context"
)

// txnVerify asks the coordinator of transactionalID whether topic-partition
// is in the ongoing transaction of producerID at producerEpoch, or with add
// set, adds it. nil means the append may go on; otherwise the error is a
// *kerr.Error to answer (INVALID_TXN_STATE, INVALID_PRODUCER_EPOCH,
// NOT_COORDINATOR, CONCURRENT_TRANSACTIONS, ...).
func (b *Broker) txnVerify(ctx context.Context, transactionalID string, producerID int64, producerEpoch int16, topic string, partition int32, add bool) error {
	return b.txns.verify(ctx, transactionalID, producerID, producerEpoch, topic, partition, add)
}
