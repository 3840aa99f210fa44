package replica

import (
	"slices"
	"testing"
)

const t0 = 1_000_000 // tests' clock starts here, not at zero

// leader3 starts broker 1 as leader of replicas 1, 2, 3 with the given ISR,
// an empty log and a 30 s lag limit.
func leader3(t *testing.T, minISR int, isr ...int32) *Leader {
	t.Helper()
	return NewLeader(Config{LagMaxMs: 30000, MinISR: minISR}, Start{
		Self: 1, SelfBrokerEpoch: 100, LeaderEpoch: 5, PartitionEpoch: 10,
		Replicas: []int32{1, 2, 3}, ISR: isr,
	}, t0)
}

// write appends n records and fsyncs them on the leader.
func write(l *Leader, n int64, nowMs int64) Update {
	l.LocalAppend(l.LogEnd()+n, nowMs)
	return l.LocalDurable(l.LogEnd(), nowMs)
}

func fetch(t *testing.T, l *Leader, id int32, offset, nowMs int64) Update {
	t.Helper()
	u, err := l.FollowerFetch(id, int64(id)*10, offset, nowMs)
	if err != nil {
		t.Fatalf("fetch of %d at %d: %v", id, offset, err)
	}
	return u
}

func wantHW(t *testing.T, l *Leader, want int64) {
	t.Helper()
	if l.HW() != want {
		t.Fatalf("high watermark %d, want %d (ISR %v, maximal %v, followers %+v)", l.HW(), want, l.ISR(), l.MaximalISR(), l.Followers())
	}
}

func wantProposal(t *testing.T, u Update, isr ...int32) *Proposal {
	t.Helper()
	if u.Propose == nil {
		t.Fatalf("no proposal, want ISR %v", isr)
	}
	if got := u.Propose.IDs(); !slices.Equal(got, isr) {
		t.Fatalf("proposed ISR %v, want %v", got, isr)
	}
	return u.Propose
}

func wantNoProposal(t *testing.T, u Update) {
	t.Helper()
	if u.Propose != nil {
		t.Fatalf("unexpected proposal %+v", *u.Propose)
	}
}

func caughtUpMs(t *testing.T, l *Leader, id int32) int64 {
	t.Helper()
	f, ok := l.Follower(id)
	if !ok {
		t.Fatalf("no follower %d", id)
	}
	return f.LastCaughtUpMs
}
