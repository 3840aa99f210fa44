// Package group is the pure logic of Kafka's classic consumer group
// protocol: the group state machine (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup), committed offsets (OffsetCommit, OffsetFetch, OffsetDelete,
// expiry), transactional offsets (TxnOffsetCommit, completed by the
// transaction's marker), the admin views (DescribeGroups, ListGroups, DeleteGroups), and
// the __consumer_offsets record formats with a Loader that replays them.
//
// It follows Kafka's GroupCoordinator (and, for offset commit validation and
// describe, Kafka 4's ClassicGroup); each handler file's header says which
// versions it serves and how it behaves. It imports no net, os or time: the
// current time comes in with every input, member ids come from an injected
// IDSource, and nothing runs between inputs. It builds for wasip1.
//
// # Boundary
//
// Requests and responses are kmsg structs, so the shell decodes a frame,
// calls one method, and encodes what comes back; response versions are set
// from the request. Errors are kerr values inside the package (nil is
// success) and become error codes only in the responses. Things that need
// the cluster's metadata are the shell's: topic ids to names (OffsetCommit
// and OffsetFetch v10), UNKNOWN_TOPIC_OR_PARTITION, authorisation, and
// NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS.
//
// # Driving it
//
// One Groups holds the groups of one __consumer_offsets partition; the
// coordinator of that partition (its leader) owns it and feeds it from one
// goroutine. Partition(groupID, n) is the partition, as Kafka computes it.
//
//   - On becoming leader: NewLoader, feed it every batch of the partition
//     in log order (Apply for plain records, ApplyTxn for those of
//     transactional batches, ApplyMarker for COMMIT and ABORT markers),
//     Done(now). Until then answer COORDINATOR_LOAD_IN_PROGRESS
//     (SyncGroup: REBALANCE_IN_PROGRESS, Heartbeat: no error, as Kafka).
//   - Each request: Join, Sync, Heartbeat, Leave, Commit, TxnCommit,
//     DeleteOffsets or Delete with the current time (ms) and a fresh
//     Handle. A TxnOffsetCommit is the shell's to verify with the
//     transaction coordinator first (the partition is in the producer's
//     transaction). Reads
//     (FetchOffsets with OffsetFetchGroups/OffsetFetchResponse, Describe,
//     List) return their answer directly.
//   - Timers: after every call, NextDeadline says when to call Tick next
//     (one timer, reset after each call). Tick answers the JoinGroups held
//     for a join phase that ends, and expires members. A late Tick is fine:
//     deadlines fire as of their own time, and every input fires the passed
//     ones first.
//   - Every offsets.retention.check.interval.ms: ExpireOffsets.
//   - Each time a COMMIT or ABORT marker is appended to the partition:
//     TxnCompleted with its producer id. It may run before the marker is
//     committed, as long as the replies of this and later Outputs wait for
//     the marker as they wait for records. A marker appended while the
//     groups load must reach them: through the Loader if the load read it,
//     by TxnCompleted after Done if not.
//
// Every call returns an Output. Append its Records to the partition in the
// order the Outputs came, one batch per Output (per run of records with
// the same Record.Txn: a transactional batch of that producer when set); send its Replies (each to the request its Handle
// names; a JoinGroup or SyncGroup may be answered by a later call's Output)
// only once those records and all earlier ones are committed. Answers of
// reads wait for earlier records in the same way. So a client never sees an
// assignment or an offset that a failover could lose. If an append fails,
// drop the Groups, answer the held handles with NOT_COORDINATOR and load
// again (Kafka resigns).
//
// Records written:
//   - an offset record for each accepted commit, a tombstone for each
//     deleted or expired offset; the offset records of a TxnOffsetCommit
//     in a transactional batch, pending until the producer's marker;
//   - the group metadata when the leader's SyncGroup completes a
//     generation (with the assignment), when a join phase ends with no
//     members, and when a static member rejoins a Stable group with a new
//     member id; a tombstone when a group with a generation is deleted or
//     dies of offset expiry.
//
// The log is compacted on these keys; MetadataRecord and OffsetRecord give a
// group's current records, for a snapshot or a check (committed offsets
// only: a snapshot does not carry pending ones).
//
// # Choices
//
//   - Protocol selection breaks ties of votes in favour of the protocol
//     voted for first, in member join order (Kafka: hash-map order). The
//     leader elected when the old one did not rejoin is the oldest member
//     that did.
//   - A JoinGroup or SyncGroup superseded by a newer one from the same
//     member is answered REBALANCE_IN_PROGRESS; a held request of a member
//     that is removed is answered UNKNOWN_MEMBER_ID. Kafka drops them; the
//     shell would leak the handles.
//   - An Empty group that a transaction marker leaves with no offsets goes
//     Dead at once, as after OffsetDelete, so the groups equal those a
//     reload builds (Kafka keeps it until its next offset expiry).
//   - JoinGroup v0's missing rebalance timeout, and a negative one, is the
//     session timeout.
//   - While only static members that have not rejoined hold a join phase
//     open, the join deadline renews every rebalance timeout as Kafka's
//     does; a late Tick skips the renewals instead of looping through them.
package group
