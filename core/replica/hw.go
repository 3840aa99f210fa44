package replica

import "slices"

// advance moves the high watermark as far as the rules allow and reports
// whether it moved (Kafka's maybeIncrementLeaderHW, over durable ends).
func (l *Leader) advance(nowMs int64) bool {
	if len(l.isr) < l.minISR() {
		return false // KAFKA-15583: no progress under min ISR
	}
	hw := l.durable
	for i := range l.followers {
		f := &l.followers[i]
		if f.offset >= hw {
			continue
		}
		if l.inMaximalISR(f.id) || (l.eligible(f.id) && f.caughtUp(l.logEnd, nowMs, l.cfg.LagMaxMs)) {
			hw = f.offset
		}
	}
	if hw <= l.hw {
		return false
	}
	l.hw = hw
	return true
}

// HW is the high watermark: records below it are committed.
func (l *Leader) HW() int64 { return l.hw }

// LogEnd is the leader's log end as last reported.
func (l *Leader) LogEnd() int64 { return l.logEnd }

// DurableEnd is the leader's fsynced end as last reported.
func (l *Leader) DurableEnd() int64 { return l.durable }

// ISR is the committed ISR, sorted.
func (l *Leader) ISR() []int32 { return slices.Clone(l.isr) }

// MaximalISR is the committed ISR plus a pending addition, sorted (KIP-497):
// the set the high watermark and acks=all wait for.
func (l *Leader) MaximalISR() []int32 {
	m := slices.Clone(l.isr)
	if l.pending != nil {
		m = append(m, l.pending.Added...)
		slices.Sort(m)
	}
	return m
}

// Replicas is the assignment, in the controller's order.
func (l *Leader) Replicas() []int32 { return slices.Clone(l.replicas) }

// LeaderEpoch is the leader epoch this state belongs to.
func (l *Leader) LeaderEpoch() int32 { return l.leaderEpoch }

// PartitionEpoch is the partition epoch of the committed state.
func (l *Leader) PartitionEpoch() int32 { return l.partitionEpoch }

// Pending is the proposal in flight, or nil.
func (l *Leader) Pending() *Proposal { return l.pending }

// Follower returns the leader's view of follower id.
func (l *Leader) Follower(id int32) (FollowerState, bool) {
	f := l.follower(id)
	if f == nil {
		return FollowerState{}, false
	}
	return f.state(), true
}

// UnderMinISR reports whether the committed ISR is smaller than the
// effective min.insync.replicas (the high watermark is then held).
func (l *Leader) UnderMinISR() bool { return len(l.isr) < l.minISR() }

// CanAppend says whether a produce may append: acks=all needs an ISR of at
// least min.insync.replicas (Kafka's appendRecordsToLeader), or it gets
// ErrNotEnoughReplicas and nothing is appended.
// The configured value counts, not capped by the replication factor: a
// topic with one replica and min.insync.replicas=2 refuses acks=all, as
// Kafka does (only the high-watermark freeze of KAFKA-15583 uses the capped
// value).
func (l *Leader) CanAppend(acksAll bool) error {
	if acksAll && len(l.isr) < max(1, l.cfg.MinISR) {
		return ErrNotEnoughReplicas
	}
	return nil
}

// AckError tells an acks=all produce whose records end at end (last offset
// + 1) whether it is done: once the high watermark reaches end, it is
// answered, with ErrNotEnoughReplicasAfterAppend if the maximal ISR is
// smaller than min.insync.replicas by then (Kafka's
// checkEnoughReplicasReachOffset). Until then done is false.
func (l *Leader) AckError(end int64) (done bool, err error) {
	if l.hw < end {
		return false, nil
	}
	if len(l.MaximalISR()) < max(1, l.cfg.MinISR) {
		return true, ErrNotEnoughReplicasAfterAppend
	}
	return true, nil
}

// NextDeadline is when a time-driven decision falls due if no other input
// comes first: an ISR follower falls out of sync (Tick then proposes its
// removal; a deadline at or before nowMs means Tick now), or a caught-up
// follower outside the ISR stops holding the high watermark back. ok is
// false when nothing is due by time alone; ask again after every input.
func (l *Leader) NextDeadline(nowMs int64) (deadlineMs int64, ok bool) {
	for i := range l.followers {
		f := &l.followers[i]
		d, due := f.lagDeadline(l.logEnd, l.cfg.LagMaxMs)
		switch {
		case !due:
			continue
		case l.inISR(f.id):
			due = l.pending == nil
		default:
			due = !l.inMaximalISR(f.id) && l.eligible(f.id) && f.offset < l.durable && d > nowMs
		}
		if due && (!ok || d < deadlineMs) {
			deadlineMs, ok = d, true
		}
	}
	return deadlineMs, ok
}

// Followers returns the leader's view of every follower, sorted by ID.
func (l *Leader) Followers() []FollowerState {
	out := make([]FollowerState, len(l.followers))
	for i := range l.followers {
		out[i] = l.followers[i].state()
	}
	return out
}
