// Package replica is the pure logic of one partition's replication: on the
// leader, the followers' positions, the in-sync replica set (ISR) and the
// high watermark (Kafka's Partition and Replica); on a follower, the
// truncation rule of OffsetForLeaderEpoch (KIP-101, KIP-279).
//
// It imports no net, os or time and starts no goroutine: every input
// carries the time (nowMs), every decision comes back as data. The shell in
// core calls it under the partition's lock. It builds for wasip1.
//
// # The leader
//
// One Leader is the leader's view of one partition for one leader epoch; a
// new leader epoch is a new Leader (NewLeader). Feed it:
//
//   - LocalAppend after every append to the leader's log, LocalDurable
//     after every fsync (in Kafka's page-cache mode, with the log end).
//     Reports may come out of order: a lower value than one already
//     reported is ignored, and a durable end beyond the known log end
//     raises the log end;
//   - FollowerFetch for every follower Fetch, after the read succeeded
//     (fetchOffset is checked against the log start by the read; here only
//     against the log end). In Jocko a follower fetches only after fsyncing
//     what the previous Fetch brought, so fetchOffset is its durable end;
//   - Tick at NextDeadline, or periodically (Kafka runs its ISR expiration
//     every replica.lag.time.max.ms / 2); a late Tick is fine;
//   - the controller's answers: ISRCommitted when an AlterPartition
//     succeeded, ISRRejected when it answered OPERATION_NOT_ATTEMPTED or
//     INELIGIBLE_REPLICA (the change was certainly not applied), and
//     PartitionChanged for every metadata update of this partition within
//     this leader epoch (ISR or replica set changed, partition epoch bumped);
//   - SetIneligible with the brokers that must not join the ISR (KIP-841:
//     fenced, in controlled shutdown, or whose Fetch carried a broker epoch
//     other than the registered one, KIP-903), and SetConfig when
//     min.insync.replicas changes.
//
// Every input returns an Update: the new high watermark (wake long-poll
// fetches and acks=all waiters when HWMoved) and at most one Proposal to send
// as AlterPartition. While a proposal is in flight no other is made. For
// errors other than the two above, keep the proposal pending, as Kafka does:
// resend the same Proposal on a retriable error (network, timeout,
// NOT_CONTROLLER), and otherwise (FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION,
// UNKNOWN_TOPIC_*) wait for the metadata update, which PartitionChanged
// applies and which ends the pending state.
//
// Produce with acks=all: CanAppend before appending (NOT_ENOUGH_REPLICAS),
// then wait until AckError(end) says done, end being the append's last offset
// + 1; its error is NOT_ENOUGH_REPLICAS_AFTER_APPEND.
//
// # Rules (Kafka's, with Jocko's durability)
//
//   - A follower's lastCaughtUpTimeMs: on a fetch at offset o, if o >= the
//     leader's log end now, it is now; else if o >= the leader's log end at
//     the follower's previous fetch, the previous fetch's time; it never goes
//     back (Replica.updateFetchStateOrThrow).
//   - A follower is caught up when its offset equals the leader's log end or
//     now - lastCaughtUpTimeMs <= LagMaxMs; an ISR follower that is not is
//     proposed for removal at the next Tick. The leader is never removed.
//   - A follower outside the ISR whose offset is >= the high watermark and
//     >= the start offset of this leader epoch, and which is eligible, is
//     proposed for addition at its fetch (one at a time).
//   - The high watermark is the minimum of the leader's DURABLE end and the
//     offsets of the followers in the maximal ISR (committed ISR plus a
//     pending addition, KIP-497; a pending removal counts only once
//     committed) and of eligible followers outside it that are caught up
//     (Kafka holds the high watermark for a follower about to join, so it
//     can join). It never goes down, and does not move while the committed
//     ISR is smaller than the effective min.insync.replicas (KAFKA-15583).
//     With flush.messages=1 it so covers only data every ISR member has
//     fsynced.
//   - The effective min.insync.replicas is min(MinISR, replication factor).
//
// # Choices where Kafka leaves room
//
//   - A follower's offset is unknown until its first fetch in this leader
//     epoch (Kafka resets it to -1 on a new leader epoch, also when the same
//     broker is re-elected). An unknown offset is below any high watermark,
//     so a maximal-ISR follower that has not fetched holds the high
//     watermark where it is until it fetches or is removed from the ISR.
//     Its lastCaughtUpTimeMs starts at NewLeader's time if it is in the ISR
//     and at "never" otherwise (Kafka: 0, the same with a wall clock).
//   - NewLeader clamps the high watermark it is given to the durable end.
//   - The high watermark is recomputed on every input, Tick included
//     (Kafka: on appends, fetches and ISR changes), so a follower that stops
//     being caught up stops holding it back without waiting for traffic.
//   - A metadata update with a partition epoch not above the current one is
//     ignored (so a replay of the current state does not drop a pending
//     proposal); an AlterPartition answer is applied when its partition
//     epoch is at least the current one (equal means the controller found
//     nothing to change), and only for the proposal still pending.
//
// # The follower
//
// Truncation runs OffsetForLeaderEpoch rounds against the leader until it
// knows the offset to truncate to; TruncationStep is one round, for a shell
// that does the rounds itself.
package replica
