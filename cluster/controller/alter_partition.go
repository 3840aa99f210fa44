package controller

import (
	"slices"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ISRMember is one member of the ISR a leader proposes, with the broker
// epoch it saw the member fetch with (AlterPartition v3+, KIP-903); -1 when
// the request carries none.
type ISRMember struct {
	ID    int32
	Epoch int64
}

// AlterPartitionRequest is one partition of an AlterPartition request: its
// leader asks for a new ISR.
type AlterPartitionRequest struct {
	Broker         int32 // the requesting leader
	BrokerEpoch    int64 // its broker epoch; -1 skips the check
	Topic          string
	Partition      int32
	LeaderEpoch    int32
	PartitionEpoch int32
	NewISR         []ISRMember
}

// AlterPartition validates an ISR change as KRaft's
// ReplicationControlManager does and returns the command that makes it, or
// changed false when the ISR is already the requested one (answer with the
// current state). The checks, in Kafka's order, and their codes:
//
//   - the requester is not registered, or its broker epoch differs:
//     STALE_BROKER_EPOCH;
//   - the partition does not exist: UNKNOWN_TOPIC_OR_PARTITION (the shell
//     answers UNKNOWN_TOPIC_ID for v2+ requests that name topics by ID);
//   - the request's leader or partition epoch is ahead of the metadata:
//     NOT_CONTROLLER (this controller is behind);
//   - its leader epoch is behind: FENCED_LEADER_EPOCH;
//   - the requester is not the leader: INVALID_REQUEST;
//   - its partition epoch is behind: INVALID_UPDATE_VERSION;
//   - the ISR names a non-replica or a broker twice, or leaves out the
//     leader: INVALID_REQUEST;
//   - a member is not registered, fenced, shutting down, or registered with
//     another broker epoch: INELIGIBLE_REPLICA (OPERATION_NOT_ATTEMPTED for
//     v0-1, which the shell maps).
//
// The command keeps the leader and leader epoch (Kafka 3.6+ no longer bumps
// the leader epoch on a shrink) and expects the partition epoch the request
// was made in. Errors are *Error.
func AlterPartition(st *cluster.State, brokers []BrokerInfo, req AlterPartitionRequest) (cmd cluster.UpdatePartition, changed bool, err error) {
	idx := indexBrokers(brokers)
	tp := req.Topic
	p, err := checkRequest(st, idx, req, true)
	if err != nil {
		return cmd, false, err
	}
	isr := make([]int32, len(req.NewISR))
	for i, m := range req.NewISR {
		isr[i] = m.ID
		if !slices.Contains(p.Replicas, m.ID) || slices.Contains(isr[:i], m.ID) {
			return cmd, false, errorf(kerr.InvalidRequest, "ISR %v of %s-%d is not a set of its replicas %v", isrIDs(req.NewISR), tp, p.Index, p.Replicas)
		}
	}
	if !slices.Contains(isr, p.Leader) {
		return cmd, false, errorf(kerr.InvalidRequest, "ISR %v of %s-%d leaves out the leader %d", isr, tp, p.Index, p.Leader)
	}
	for _, m := range req.NewISR {
		if why := ineligible(idx, m); why != "" {
			return cmd, false, errorf(kerr.IneligibleReplica, "ISR %v of %s-%d: replica %d is %s", isr, tp, p.Index, m.ID, why)
		}
	}
	cmd, changed = update(tp, p, p.Leader, isr)
	return cmd, changed, nil
}

// checkRequest makes the checks AlterPartition and LeaveISR share, in
// KRaft's order, and returns the partition: the requester's registration,
// the partition, the request's epochs against the metadata's and, when
// leaderOnly, that the requester leads.
func checkRequest(st *cluster.State, idx brokerIndex, req AlterPartitionRequest, leaderOnly bool) (cluster.Partition, error) {
	tp := req.Topic
	if b, ok := idx[req.Broker]; !ok || staleEpoch(req.BrokerEpoch, b.Epoch) {
		return cluster.Partition{}, errorf(kerr.StaleBrokerEpoch, "broker %d with epoch %d is not registered with that epoch", req.Broker, req.BrokerEpoch)
	}
	_, p, err := partition(st, tp, req.Partition)
	if err != nil {
		return p, err
	}
	switch {
	case req.LeaderEpoch > p.LeaderEpoch || req.PartitionEpoch > p.PartitionEpoch:
		return p, errorf(kerr.NotController, "%s-%d is at leader epoch %d and partition epoch %d here, behind the request's %d and %d",
			tp, p.Index, p.LeaderEpoch, p.PartitionEpoch, req.LeaderEpoch, req.PartitionEpoch)
	case req.LeaderEpoch < p.LeaderEpoch:
		return p, errorf(kerr.FencedLeaderEpoch, "%s-%d is at leader epoch %d, not %d", tp, p.Index, p.LeaderEpoch, req.LeaderEpoch)
	case leaderOnly && req.Broker != p.Leader:
		return p, errorf(kerr.InvalidRequest, "%s-%d is led by %d, not %d", tp, p.Index, p.Leader, req.Broker)
	case req.PartitionEpoch < p.PartitionEpoch:
		return p, errorf(kerr.InvalidUpdateVersion, "%s-%d is at partition epoch %d, not %d", tp, p.Index, p.PartitionEpoch, req.PartitionEpoch)
	}
	return p, nil
}

// ineligible says why m may not be in an ISR, or "".
func ineligible(idx brokerIndex, m ISRMember) string {
	b, ok := idx[m.ID]
	switch {
	case !ok:
		return "not registered"
	case b.ShuttingDown:
		return "shutting down"
	case b.Fenced:
		return "fenced"
	case staleEpoch(m.Epoch, b.Epoch):
		return "registered with another broker epoch"
	}
	return ""
}

// staleEpoch reports whether a broker epoch given in a request differs from
// the registered one; -1 in the request, or an untracked (0) registered
// epoch, is never stale.
func staleEpoch(requested, registered int64) bool {
	return requested != -1 && registered != 0 && requested != registered
}

func isrIDs(ms []ISRMember) []int32 {
	ids := make([]int32, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

// LeaveISR is Jocko's extension of AlterPartition: a replica that found its
// own copy of the partition corrupt (a batch failing its CRC check where it
// read or scrubbed its log) asks to leave the ISR before it truncates the
// bad part away and fetches it again, so that it is never elected with a
// log shorter than the high watermark. Its request names an ISR without
// itself (Kafka refuses that with INVALID_REQUEST, so no Kafka broker sends
// it); the shell routes such requests here. The checks, in order:
//
//   - the requester is not registered, or its broker epoch differs:
//     STALE_BROKER_EPOCH;
//   - the partition does not exist: UNKNOWN_TOPIC_OR_PARTITION;
//   - the request's leader or partition epoch is ahead of the metadata:
//     NOT_CONTROLLER; behind: FENCED_LEADER_EPOCH or INVALID_UPDATE_VERSION;
//   - the requester is already out of the ISR: nothing changes (changed
//     false, no error);
//   - the new ISR is not the current one without the requester:
//     INVALID_REQUEST;
//   - the requester is the only member, or it leads and no other member is
//     eligible to take over: NOT_ENOUGH_REPLICAS (its copy is the only one
//     in sync; nothing can repair it).
//
// A leader that leaves hands leadership to the first eligible remaining
// member in replica order, with a new leader epoch.
func LeaveISR(st *cluster.State, brokers []BrokerInfo, req AlterPartitionRequest) (cmd cluster.UpdatePartition, changed bool, err error) {
	idx := indexBrokers(brokers)
	tp := req.Topic
	p, err := checkRequest(st, idx, req, false)
	if err != nil || !slices.Contains(p.ISR, req.Broker) {
		return cmd, false, err
	}
	rest := keep(p.ISR, func(id int32) bool { return id != req.Broker })
	if asked := slices.Sorted(slices.Values(isrIDs(req.NewISR))); !slices.Equal(asked, slices.Sorted(slices.Values(rest))) {
		return cmd, false, errorf(kerr.InvalidRequest, "replica %d leaving the ISR %v of %s-%d must ask for %v, not %v",
			req.Broker, p.ISR, tp, p.Index, rest, isrIDs(req.NewISR))
	}
	if len(rest) == 0 {
		return cmd, false, errorf(kerr.NotEnoughReplicas, "replica %d is the only in-sync replica of %s-%d", req.Broker, tp, p.Index)
	}
	leader := p.Leader
	if leader == req.Broker {
		if leader = firstEligible(p.Replicas, rest, idx); leader < 0 {
			return cmd, false, errorf(kerr.NotEnoughReplicas, "no other in-sync replica of %s-%d (ISR %v) is eligible to lead", tp, p.Index, p.ISR)
		}
	}
	cmd, changed = update(tp, p, leader, rest)
	return cmd, changed, nil
}

// Leaving reports whether an AlterPartition request asks for its requester
// to leave the ISR (LeaveISR) rather than for a leader's ISR change.
func Leaving(req AlterPartitionRequest) bool {
	return !slices.Contains(isrIDs(req.NewISR), req.Broker)
}
