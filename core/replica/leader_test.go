package replica

import (
	"errors"
	"slices"
	"testing"
)

// Kafka's Replica.updateFetchStateOrThrow: lastCaughtUpTimeMs is the fetch
// time if the fetch reached the leader's log end now, else the previous
// fetch's time if it reached the log end of then, else unchanged.
func TestLastCaughtUpTime(t *testing.T) {
	type step struct {
		leaderEnd int64 // the leader's log end when the fetch arrives
		offset    int64
		at        int64
		want      int64
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"at the log end: now", []step{{10, 10, t0 + 5, t0 + 5}}},
		{"behind the log end, first fetch of the epoch: unchanged", []step{{10, 5, t0 + 5, t0}}},
		{"reached the previous fetch's log end: that fetch's time", []step{
			{10, 5, t0 + 5, t0},
			{20, 10, t0 + 9, t0 + 5},
		}},
		{"behind the previous fetch's log end: unchanged", []step{
			{10, 10, t0 + 5, t0 + 5},
			{20, 12, t0 + 9, t0 + 5},
			{30, 15, t0 + 20, t0 + 5},
		}},
		{"a steady follower always one batch behind stays caught up", []step{
			{10, 0, t0 + 100, t0},
			{20, 10, t0 + 200, t0 + 100},
			{30, 20, t0 + 300, t0 + 200},
			{40, 30, t0 + 400, t0 + 300},
		}},
		{"never goes back", []step{
			{10, 10, t0 + 50, t0 + 50},
			{10, 3, t0 + 60, t0 + 50},
			{10, 3, t0 + 70, t0 + 50},
		}},
		{"not even for a call that carries an older time", []step{
			{10, 10, t0 + 50, t0 + 50},
			{10, 10, t0 + 40, t0 + 50},
			{20, 10, t0 + 60, t0 + 50},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := leader3(t, 1, 1, 2)
			for i, s := range tt.steps {
				l.LocalAppend(max(l.LogEnd(), s.leaderEnd), s.at)
				fetch(t, l, 2, s.offset, s.at)
				if got := caughtUpMs(t, l, 2); got != s.want {
					t.Fatalf("step %d: lastCaughtUpTimeMs %d, want %d", i, got-t0, s.want-t0)
				}
			}
		})
	}
}

// An ISR follower that has not caught up for more than LagMaxMs is proposed
// for removal at the next Tick, all such followers at once; the leader never.
func TestShrinkAfterLag(t *testing.T) {
	l := leader3(t, 1, 1, 2, 3)
	write(l, 10, t0)
	fetch(t, l, 2, 10, t0+1000)
	fetch(t, l, 3, 10, t0+1000)
	write(l, 5, t0+2000)
	// 2 keeps up, 3 stops.
	fetch(t, l, 2, 15, t0+2000)
	wantNoProposal(t, l.Tick(t0+1000+30000))
	if d, ok := l.NextDeadline(t0 + 31000); !ok || d != t0+1000+30001 {
		t.Fatalf("next deadline %d %v, want %d", d-t0, ok, 31001)
	}
	p := wantProposal(t, l.Tick(t0+1000+30001), 1, 2)
	if !slices.Equal(p.Removed, []int32{3}) || p.Added != nil || p.PartitionEpoch != 10 || p.LeaderEpoch != 5 {
		t.Fatalf("proposal %+v", *p)
	}
	if want := []Member{{1, 100}, {2, 20}}; !slices.Equal(p.ISR, want) {
		t.Fatalf("members %v, want %v", p.ISR, want)
	}
	// A shrink is not in effect until committed: 3 still holds the HW.
	wantHW(t, l, 10)
	wantNoProposal(t, l.Tick(t0+100000)) // one in flight
	l.ISRCommitted(p, []int32{1, 2}, 11, t0+100000)
	wantHW(t, l, 15)

	// Both followers silent: both out, the leader stays.
	write(l, 1, t0+100000)
	wantProposal(t, l.Tick(t0+200000), 1)
}

// Kafka's isCaughtUp: a follower that has the leader's whole log is in sync
// however long ago it fetched (an idle partition keeps its ISR).
func TestIdleFollowerStaysInSync(t *testing.T) {
	l := leader3(t, 1, 1, 2)
	write(l, 10, t0)
	fetch(t, l, 2, 10, t0)
	wantNoProposal(t, l.Tick(t0+10*30000))
	if _, ok := l.NextDeadline(t0 + 10*30000); ok {
		t.Fatal("a deadline with nothing to expire")
	}
	write(l, 1, t0+10*30000)
	wantProposal(t, l.Tick(t0+10*30000+1), 1)
}

// A follower that never fetches in the new leader epoch was caught up at the
// leader's start, and leaves after LagMaxMs.
func TestSilentISRFollowerLeaves(t *testing.T) {
	l := leader3(t, 1, 1, 2, 3)
	fetch(t, l, 2, 0, t0+100)
	wantNoProposal(t, l.Tick(t0+30000))
	wantProposal(t, l.Tick(t0+30001), 1, 2)
}

// Expansion (Partition.isFollowerInSync): offset >= HW and >= the leader
// epoch's start offset, not in the ISR, eligible, nothing in flight.
func TestExpand(t *testing.T) {
	tests := []struct {
		name       string
		epochStart int64
		ineligible []int32
		offset     int64
		pending    bool
		want       bool
	}{
		{"at the HW", 0, nil, 10, false, true},
		{"above the HW", 0, nil, 12, false, true},
		{"below the HW", 0, nil, 9, false, false},
		{"below the epoch start", 11, nil, 10, false, false},
		{"at the epoch start", 11, nil, 11, false, true},
		{"fenced or shutting down (KIP-841)", 0, []int32{3}, 12, false, false},
		{"another broker ineligible", 0, []int32{2}, 12, false, true},
		{"a proposal in flight", 0, nil, 12, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLeader(Config{LagMaxMs: 30000, MinISR: 1}, Start{
				Self: 1, LeaderEpoch: 5, EpochStartOffset: tt.epochStart, PartitionEpoch: 10,
				Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, LogEnd: 12, DurableEnd: 12, HW: 8,
			}, t0)
			fetch(t, l, 2, 10, t0)
			wantHW(t, l, 10)
			l.SetIneligible(tt.ineligible, t0)
			if tt.pending {
				fetch(t, l, 2, 0, t0) // a wiped follower
				wantProposal(t, l.Tick(t0+30001), 1)
			}
			u := fetch(t, l, 3, tt.offset, t0+30001)
			if !tt.want {
				wantNoProposal(t, u)
				return
			}
			p := wantProposal(t, u, 1, 2, 3)
			if !slices.Equal(p.Added, []int32{3}) || p.Removed != nil {
				t.Fatalf("proposal %+v", *p)
			}
		})
	}
}

// KIP-497: the HW waits for a follower whose addition is in flight; a
// rejected addition stops that.
func TestHWMaximalISR(t *testing.T) {
	l := leader3(t, 1, 1)
	write(l, 10, t0)
	wantHW(t, l, 10)
	p := wantProposal(t, fetch(t, l, 2, 10, t0), 1, 2)
	write(l, 10, t0)
	wantHW(t, l, 10) // 2 is in the maximal ISR
	if got := l.MaximalISR(); !slices.Equal(got, []int32{1, 2}) || !slices.Equal(l.ISR(), []int32{1}) {
		t.Fatalf("ISR %v, maximal %v", l.ISR(), got)
	}
	// 2 stops fetching: caught up at t0, so it holds the HW until the lag
	// passes even outside the ISR (Kafka's shouldWaitForReplicaToJoinIsr).
	l.ISRRejected(p, t0+1)
	wantHW(t, l, 10)
	l.Tick(t0 + 30001)
	wantHW(t, l, 20)
}

// The HW covers only what the leader has fsynced and every maximal-ISR
// member has fetched (that is, fsynced), and never goes down.
func TestHWDurable(t *testing.T) {
	l := leader3(t, 1, 1, 2)
	l.LocalAppend(10, t0)
	fetch(t, l, 2, 10, t0)
	wantHW(t, l, 0)
	if u := l.LocalDurable(6, t0); !u.HWMoved || u.HW != 6 {
		t.Fatalf("update %+v", u)
	}
	l.LocalDurable(4, t0) // late news of an older fsync
	wantHW(t, l, 6)
	l.LocalDurable(10, t0)
	wantHW(t, l, 10)
	l.LocalAppend(20, t0)
	l.LocalDurable(20, t0)
	fetch(t, l, 2, 15, t0)
	wantHW(t, l, 15)
	fetch(t, l, 2, 12, t0) // a follower that went back (wiped)
	wantHW(t, l, 15)

	// Reports out of order: an fsync overtaking its append's report, a
	// stale append report.
	l.LocalDurable(25, t0)
	l.LocalAppend(22, t0)
	if l.LogEnd() != 25 || l.DurableEnd() != 25 {
		t.Fatalf("log end %d durable %d, want 25 25", l.LogEnd(), l.DurableEnd())
	}
	fetch(t, l, 2, 25, t0)
	wantHW(t, l, 25)
}

// Follower offsets are unknown at a new leader epoch: the HW stays where it
// was until every maximal-ISR member has fetched.
func TestHWUnknownAtStart(t *testing.T) {
	l := NewLeader(Config{LagMaxMs: 30000, MinISR: 1}, Start{
		Self: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, LogEnd: 20, DurableEnd: 20, HW: 7,
	}, t0)
	wantHW(t, l, 7)
	fetch(t, l, 2, 20, t0)
	wantHW(t, l, 7)
	fetch(t, l, 3, 18, t0)
	wantHW(t, l, 18)

	// Given a HW above its durable end, the leader clamps it.
	l = NewLeader(Config{LagMaxMs: 30000, MinISR: 1}, Start{
		Self: 1, Replicas: []int32{1}, ISR: []int32{1}, LogEnd: 20, DurableEnd: 12, HW: 15,
	}, t0)
	wantHW(t, l, 12)
}

// KAFKA-15583: the HW does not move while the committed ISR is below the
// effective min.insync.replicas (capped at the replication factor).
func TestHWUnderMinISR(t *testing.T) {
	l := leader3(t, 2, 1)
	write(l, 10, t0)
	wantHW(t, l, 0)
	if !l.UnderMinISR() {
		t.Fatal("not under min ISR")
	}
	p := wantProposal(t, fetch(t, l, 2, 0, t0), 1, 2)
	wantHW(t, l, 0) // the maximal ISR does not count
	fetch(t, l, 2, 10, t0)
	wantHW(t, l, 0)
	l.ISRCommitted(p, []int32{1, 2}, 11, t0)
	wantHW(t, l, 10)
	l.SetConfig(Config{LagMaxMs: 30000, MinISR: 5}, t0) // 5 > RF: effectively 3
	write(l, 1, t0)
	fetch(t, l, 2, 11, t0)
	wantHW(t, l, 10)
	l.SetConfig(Config{LagMaxMs: 30000, MinISR: 1}, t0)
	wantHW(t, l, 11)

	single := NewLeader(Config{LagMaxMs: 30000, MinISR: 3}, Start{Self: 1, Replicas: []int32{1}, ISR: []int32{1}}, t0)
	write(single, 4, t0)
	wantHW(t, single, 4)
}

// acks=all: NOT_ENOUGH_REPLICAS before the append, and
// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the records are committed while the
// maximal ISR is too small.
func TestAcks(t *testing.T) {
	l := leader3(t, 2, 1, 2)
	if err := l.CanAppend(true); err != nil {
		t.Fatal(err)
	}
	write(l, 10, t0)
	if done, _ := l.AckError(10); done {
		t.Fatal("done before the follower has it")
	}
	fetch(t, l, 2, 10, t0)
	if done, err := l.AckError(10); !done || err != nil {
		t.Fatalf("done %v err %v", done, err)
	}
	write(l, 5, t0)
	p := wantProposal(t, l.Tick(t0+30001), 1)
	l.ISRCommitted(p, []int32{1}, 11, t0+30001)
	if done, err := l.AckError(10); !done || !errors.Is(err, ErrNotEnoughReplicasAfterAppend) {
		t.Fatalf("done %v err %v", done, err)
	}
	if done, _ := l.AckError(15); done {
		t.Fatal("the HW moved under min ISR")
	}
	if err := l.CanAppend(true); !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("CanAppend(acks=all): %v", err)
	}
	if err := l.CanAppend(false); err != nil {
		t.Fatalf("CanAppend(acks=1): %v", err)
	}
}

func TestFetchErrors(t *testing.T) {
	l := leader3(t, 1, 1, 2)
	write(l, 10, t0)
	for _, tt := range []struct {
		id     int32
		offset int64
		want   error
	}{
		{1, 0, ErrUnknownReplica},
		{4, 0, ErrUnknownReplica},
		{2, 11, ErrOffsetOutOfRange},
		{2, -1, ErrOffsetOutOfRange},
	} {
		if _, err := l.FollowerFetch(tt.id, -1, tt.offset, t0); !errors.Is(err, tt.want) {
			t.Fatalf("fetch by %d at %d: %v, want %v", tt.id, tt.offset, err, tt.want)
		}
	}
	if f, _ := l.Follower(2); f.Offset != -1 {
		t.Fatalf("a refused fetch changed the follower: %+v", f)
	}
}
