// Package controller holds the cluster controller's decisions as pure
// functions: where the replicas of new partitions go, who leads a partition
// when its leader dies or shuts down, when leadership returns to the
// preferred replica, whether a leader's ISR change is accepted, which broker
// joins or leaves the Raft voters, and which ID a new broker gets.
//
// It follows KRaft's controller (ReplicationControlManager,
// PartitionChangeBuilder, StripedReplicaPlacer) and, for the auto leader
// rebalance, the ZooKeeper-era KafkaController. It imports no net, os or
// time and starts no goroutines: every input carries what the decision
// needs (the metadata State, the brokers' liveness, the time as a number),
// and every output is data: cluster commands to propose, or an *Error that
// names the Kafka error code to answer with. Map walks never reach an
// output, so the same inputs give the same outputs (the simulator replays by
// seed). It builds for wasip1.
//
// # Driving it
//
// The controller is the Raft leader. Its shell builds the brokers from the
// state (BrokersOf: rack, broker epoch, fenced), adds what only it knows
// (in controlled shutdown, last heartbeat), and after anything changes (a
// heartbeat times out, a broker registers or is unfenced, a broker asks to
// shut down, a topic is created):
//
//   - ExpiredSessions(brokers, nowMs, timeout): FenceBroker commands for the
//     brokers whose session expired.
//   - Failover(state, brokers, policy): UpdatePartition commands that move
//     leadership off dead, fenced and shutting-down brokers, drop them from
//     ISRs, and give leaderless partitions a leader once an ISR member is
//     back. Propose them in order; a command that fails its compare-and-set
//     (cluster.ErrStaleEpoch) was overtaken: call Failover again on the new
//     state. The result is a fixed point: Failover on the state after its
//     commands returns nothing.
//   - ShutdownComplete(state, id): answer a broker in controlled shutdown
//     that it may exit.
//   - Every leader.imbalance.check.interval.seconds: AutoRebalance.
//
// Requests: Place for CreateTopics and CreatePartitions, ElectLeader for
// ElectLeaders, AlterPartition for AlterPartition, NextBrokerID for a
// joining broker without an ID, PlanVoters for the Raft configuration.
//
// # Choices
//
//   - Placement never uses a fenced or shutting-down broker, not even as a
//     follower (KRaft places followers on fenced brokers when it must).
//     Replicas are chosen greedily, least-loaded first, in a rack-alternated
//     rotation (Kafka's AdminUtils order), so leaders and replicas stay
//     balanced, also across CreatePartitions calls; see Place.
//   - Failover handles all dead brokers at once. When every ISR member is
//     gone the ISR is kept as it was (KRaft without ELR keeps the last
//     member; keeping all of them is as safe, since the high watermark
//     needed every one of them) and the leader is -1, unless unclean
//     election is allowed.
//   - ElectLeader PREFERRED does not fall back to another ISR member when
//     the preferred replica cannot lead (Failover covers a dead leader).
package controller
