package replica

import "math"

// never is a time that has not happened: a follower that never caught up,
// or never fetched, in this leader epoch.
const never = math.MinInt64

// follower is the leader's record of one follower (Kafka's ReplicaState).
type follower struct {
	id          int32
	brokerEpoch int64 // from its last Fetch; -1 unknown
	offset      int64 // its last fetch offset; -1 until it fetches
	// fetchedMs and fetchedLeaderEnd are the time of its last fetch and
	// the leader's log end then (the largest seen): what the next fetch
	// needs to tell whether the follower had caught up at that time.
	fetchedMs        int64
	fetchedLeaderEnd int64
	// caughtUpMs is the last time the follower was known to have everything
	// the leader had (lastCaughtUpTimeMs).
	caughtUpMs int64
}

func newFollower(id int32) follower {
	return follower{id: id, brokerEpoch: -1, offset: -1, fetchedMs: never, fetchedLeaderEnd: -1, caughtUpMs: never}
}

// reset starts a leader epoch, as Kafka's Replica.resetReplicaState for a
// new leader: the offset is unknown, and an ISR member counts as caught up
// now, so it has LagMaxMs to fetch before it is removed.
func (f *follower) reset(inISR bool, nowMs int64) {
	*f = newFollower(f.id)
	if inISR {
		f.caughtUpMs = nowMs
	}
}

// fetched applies a Fetch at offset while the leader's log ends at
// leaderEnd (Replica.updateFetchStateOrThrow).
func (f *follower) fetched(offset, brokerEpoch, leaderEnd, nowMs int64) {
	switch {
	case offset >= leaderEnd:
		f.caughtUpMs = max(f.caughtUpMs, nowMs)
	case offset >= f.fetchedLeaderEnd && f.fetchedMs != never:
		f.caughtUpMs = max(f.caughtUpMs, f.fetchedMs)
	}
	f.offset = offset
	f.brokerEpoch = brokerEpoch
	f.fetchedLeaderEnd = max(f.fetchedLeaderEnd, leaderEnd)
	f.fetchedMs = nowMs
}

// caughtUp is Kafka's ReplicaState.isCaughtUp: the follower has the whole
// log, or caught up with it within the last lagMaxMs.
func (f *follower) caughtUp(leaderEnd, nowMs, lagMaxMs int64) bool {
	if f.offset == leaderEnd {
		return true
	}
	return f.caughtUpMs != never && nowMs-f.caughtUpMs <= lagMaxMs
}

// lagDeadline is the first time caughtUp turns false if nothing else
// happens, or false when it cannot turn false without an append.
func (f *follower) lagDeadline(leaderEnd, lagMaxMs int64) (int64, bool) {
	if f.offset == leaderEnd {
		return 0, false
	}
	if f.caughtUpMs == never {
		return never, true
	}
	return f.caughtUpMs + lagMaxMs + 1, true
}

// FollowerState is the leader's view of one follower, for describing the
// partition and for tests.
type FollowerState struct {
	ID          int32
	BrokerEpoch int64 // from its last Fetch; -1 unknown
	Offset      int64 // its last fetch offset (its durable end); -1 unknown
	// LastFetchMs and LastCaughtUpMs are math.MinInt64 when it has not
	// fetched, or not caught up, in this leader epoch.
	LastFetchMs    int64
	LastCaughtUpMs int64
}

func (f *follower) state() FollowerState {
	return FollowerState{ID: f.id, BrokerEpoch: f.brokerEpoch, Offset: f.offset, LastFetchMs: f.fetchedMs, LastCaughtUpMs: f.caughtUpMs}
}
