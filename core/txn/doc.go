// Package txn is the pure logic of Kafka's transaction coordinator: the
// state machine of transactional ids (InitProducerId, AddPartitionsToTxn
// with KIP-890 verification, AddOffsetsToTxn, EndTxn with the KIP-890 part
// 2 epoch bump), transaction timeouts, transactional id expiry, the admin
// views (DescribeTransactions, ListTransactions), and the
// __transaction_state record formats with a Loader that replays them.
//
// It follows Kafka's TransactionCoordinator, TransactionMetadata and
// TransactionStateManager; each handler file's header says which versions
// it serves and how it behaves. It imports no net, os or time: the time
// comes in with every input, producer ids from an injected ProducerIDs,
// and nothing runs between inputs. It builds for wasip1.
//
// # Boundary
//
// Requests and responses are kmsg structs. Errors are kerr values inside
// the package and become codes only in responses (PRODUCER_FENCED becomes
// INVALID_PRODUCER_EPOCH for the versions before it, as KafkaApis does).
// The shell keeps: InitProducerId without a transactional id (no
// coordinator), authorisation, NOT_COORDINATOR and
// COORDINATOR_LOAD_IN_PROGRESS, which partitions exist (AddPartitions'
// partitionErr), the group's __consumer_offsets partition for AddOffsets,
// splitting DescribeTransactions and merging ListTransactions over the
// partitions it leads, and ListTransactions v2's id pattern.
//
// # Driving it
//
// One Coordinator holds the transactional ids of one __transaction_state
// partition (Partition(id, n) says which); the partition's leader owns it
// and feeds it from one goroutine.
//
//   - On becoming leader at leader epoch E: NewLoader, Apply every record
//     of the partition in log order, Done(now, cfg, ids, E). Act on the
//     returned Output: transactions that were mid-commit resume their
//     marker work.
//   - Each request: InitProducerID, AddPartitions, AddOffsets or EndTxn
//     with the current time (ms) and a fresh Handle; Describe and List
//     answer directly.
//   - Every 10 s (transaction.abort.timed.out.transaction.cleanup.interval.ms)
//     AbortTimedOut, and every hour ExpireIDs; or Tick for both.
//
// Every call returns an Output. Append its Records, in order, to the
// partition with acks=all; when one is durable (or failed) call
// Appended(now, record.ID, err) and act on that Output too. The state
// changes only in Appended (Kafka's pendingState and completeTransitionTo),
// so every reply and marker an Output carries may be sent at once: nothing
// it reveals can be lost by a failover. A transactional id with a record in
// flight answers CONCURRENT_TRANSACTIONS.
//
// Markers: once a PrepareCommit/PrepareAbort record is durable, the Output
// of Appended answers the EndTxn and lists Markers: write a control batch
// (COMMIT or ABORT, the producer id and epoch, the coordinator epoch) to
// every partition with WriteTxnMarkers, then call MarkersWritten with the
// partitions done (also those whose topic is gone, as Kafka gives them
// up). When none is left, the Output carries the CompleteCommit or
// CompleteAbort record. Until it is durable the transaction answers
// CONCURRENT_TRANSACTIONS.
//
// If the partition's leadership moves, drop the Coordinator, answer held
// handles NOT_COORDINATOR and stop its marker work; the next leader loads
// from the log. After an ambiguous append failure, do the same.
//
// # Choices
//
//   - Fencing (InitProducerId against an Ongoing transaction, or a
//     timeout) writes PrepareAbort with the epoch bumped once, recorded
//     with client transaction version 0; PrepareEpochFence is checked as a
//     transition but never written, as in Kafka. Kafka with
//     transaction.version 2 bumps the epoch a second time for the abort.
//   - A new transactional id whose first record fails to append is
//     forgotten; Describe and List never show an id before its first record
//     is durable, nor one being expired.
//   - An EndTxn v5 is answered with the producer id and epoch of the
//     completed transaction (after an epoch overflow: the new producer id
//     at epoch 0), as Kafka 4 does.
//   - The previous and next producer ids (KIP-890 tags 0 and 1) are written
//     in every value v1, as the transaction's current fields; tag 3
//     (KIP-939's next producer epoch) is not used.
//   - Not modelled: KIP-939 two-phase commit (InitProducerId v6), Kafka
//     4.0's AddPartitionsToTxn v5 carrying the client transaction version,
//     partition-level marker failures other than "done", and a limit on
//     records per ExpireIDs call.
package txn
