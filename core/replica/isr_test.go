package replica

import (
	"slices"
	"strings"
	"testing"
)

// One proposal in flight (Kafka's PendingPartitionChange): answers to
// another proposal, and partition epochs below the current one, are
// ignored; a rejection restores the committed state; a newer metadata
// update ends the pending proposal.
func TestProposalLifecycle(t *testing.T) {
	setup := func(t *testing.T) (*Leader, *Proposal) {
		l := leader3(t, 1, 1, 2)
		write(l, 10, t0)
		fetch(t, l, 2, 10, t0)
		return l, wantProposal(t, fetch(t, l, 3, 10, t0), 1, 2, 3)
	}
	t.Run("committed", func(t *testing.T) {
		l, p := setup(t)
		l.ISRCommitted(p, []int32{1, 2, 3}, 11, t0)
		if !slices.Equal(l.ISR(), []int32{1, 2, 3}) || l.PartitionEpoch() != 11 || l.Pending() != nil {
			t.Fatalf("ISR %v epoch %d pending %v", l.ISR(), l.PartitionEpoch(), l.Pending())
		}
	})
	t.Run("committed unchanged at the same partition epoch", func(t *testing.T) {
		l, p := setup(t)
		l.ISRCommitted(p, []int32{1, 2}, 10, t0)
		if !slices.Equal(l.ISR(), []int32{1, 2}) || l.Pending() != nil {
			t.Fatalf("ISR %v pending %v", l.ISR(), l.Pending())
		}
		wantProposal(t, fetch(t, l, 3, 10, t0), 1, 2, 3) // may propose again
	})
	t.Run("stale partition epoch", func(t *testing.T) {
		l, p := setup(t)
		l.ISRCommitted(p, []int32{1, 2, 3}, 9, t0)
		if l.Pending() != p || !slices.Equal(l.ISR(), []int32{1, 2}) {
			t.Fatalf("ISR %v pending %v", l.ISR(), l.Pending())
		}
	})
	t.Run("answer to another proposal", func(t *testing.T) {
		l, p := setup(t)
		l.ISRCommitted(&Proposal{}, []int32{1}, 12, t0)
		l.ISRRejected(&Proposal{}, t0)
		l.ISRCommitted(nil, []int32{1}, 12, t0)
		if l.Pending() != p || !slices.Equal(l.ISR(), []int32{1, 2}) {
			t.Fatalf("ISR %v pending %v", l.ISR(), l.Pending())
		}
	})
	t.Run("rejected", func(t *testing.T) {
		l, p := setup(t)
		l.ISRRejected(p, t0)
		if l.Pending() != nil || !slices.Equal(l.MaximalISR(), []int32{1, 2}) {
			t.Fatalf("maximal ISR %v pending %v", l.MaximalISR(), l.Pending())
		}
		wantProposal(t, fetch(t, l, 3, 10, t0), 1, 2, 3)
	})
	t.Run("metadata update", func(t *testing.T) {
		l, p := setup(t)
		l.PartitionChanged([]int32{1, 2, 3}, []int32{1, 2}, 10, t0) // a replay
		if l.Pending() != p {
			t.Fatal("a metadata replay dropped the pending proposal")
		}
		l.PartitionChanged([]int32{1, 2, 3}, []int32{1}, 12, t0) // the controller removed 2
		if l.Pending() != nil || !slices.Equal(l.ISR(), []int32{1}) || l.PartitionEpoch() != 12 {
			t.Fatalf("ISR %v epoch %d pending %v", l.ISR(), l.PartitionEpoch(), l.Pending())
		}
		l.ISRCommitted(p, []int32{1, 2, 3}, 13, t0) // the late answer
		if !slices.Equal(l.ISR(), []int32{1}) {
			t.Fatalf("a late answer applied: ISR %v", l.ISR())
		}
	})
}

// A reassignment within the leader epoch: new replicas start unknown, the
// state of those that stay is kept, removed ones are forgotten.
func TestReassignment(t *testing.T) {
	l := leader3(t, 1, 1, 2, 3)
	write(l, 10, t0)
	fetch(t, l, 2, 10, t0)
	fetch(t, l, 3, 10, t0)
	l.PartitionChanged([]int32{1, 2, 4}, []int32{1, 2}, 11, t0)
	if _, ok := l.Follower(3); ok {
		t.Fatal("removed replica still known")
	}
	if f, _ := l.Follower(4); f.Offset != -1 || f.LastCaughtUpMs != never {
		t.Fatalf("new replica %+v", f)
	}
	if f, _ := l.Follower(2); f.Offset != 10 {
		t.Fatalf("kept replica %+v", f)
	}
	if !slices.Equal(l.Replicas(), []int32{1, 2, 4}) {
		t.Fatalf("replicas %v", l.Replicas())
	}
	write(l, 5, t0)
	fetch(t, l, 2, 15, t0)
	wantHW(t, l, 15)
	wantProposal(t, fetch(t, l, 4, 15, t0), 1, 2, 4)
}

// NewLeader and PartitionChanged refuse states the metadata never has.
func TestInvariantPanics(t *testing.T) {
	cfg := DefaultConfig()
	for _, tt := range []struct {
		name string
		f    func()
		want string
	}{
		{"leader outside the ISR", func() {
			NewLeader(cfg, Start{Self: 1, Replicas: []int32{1, 2}, ISR: []int32{2}}, t0)
		}, "lacks the leader"},
		{"ISR outside the replicas", func() {
			NewLeader(cfg, Start{Self: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 3}}, t0)
		}, "not within the replicas"},
		{"repeated replica", func() {
			NewLeader(cfg, Start{Self: 1, Replicas: []int32{1, 2, 2}, ISR: []int32{1}}, t0)
		}, "repeat"},
		{"durable beyond the end", func() {
			NewLeader(cfg, Start{Self: 1, Replicas: []int32{1}, ISR: []int32{1}, LogEnd: 3, DurableEnd: 4}, t0)
		}, "durable end"},
		{"committed ISR without the leader", func() {
			l := NewLeader(cfg, Start{Self: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}, t0)
			l.PartitionChanged([]int32{1, 2}, []int32{2}, 1, t0)
		}, "lacks the leader"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tt.want) {
					t.Fatalf("panic %v, want one saying %q", r, tt.want)
				}
			}()
			tt.f()
		})
	}
}

// NextDeadline names the Tick that would act, and nothing when only an
// append could make a follower fall behind.
func TestNextDeadline(t *testing.T) {
	l := leader3(t, 1, 1, 2)
	if d, ok := l.NextDeadline(t0); !ok || d != t0+30001 {
		t.Fatalf("deadline %d %v: the silent ISR follower expires at 30001", d-t0, ok)
	}
	fetch(t, l, 2, 0, t0+5)
	if _, ok := l.NextDeadline(t0 + 5); ok {
		t.Fatal("deadline while every follower has the whole log")
	}
	write(l, 10, t0+10)
	if d, ok := l.NextDeadline(t0 + 10); !ok || d != t0+5+30001 {
		t.Fatalf("deadline %d %v", d-t0, ok)
	}
	// A caught-up follower outside the ISR holds the HW until its deadline.
	p := wantProposal(t, fetch(t, l, 3, 10, t0+20), 1, 2, 3)
	l.ISRRejected(p, t0+20)
	fetch(t, l, 2, 10, t0+20)
	write(l, 10, t0+30)
	fetch(t, l, 2, 20, t0+30)
	wantHW(t, l, 10)
	if d, ok := l.NextDeadline(t0 + 30); !ok || d != t0+20+30001 {
		t.Fatalf("deadline %d %v", d-t0, ok)
	}
	l.Tick(t0 + 20 + 30001)
	wantHW(t, l, 20)
	if _, ok := l.NextDeadline(t0 + 20 + 30001); ok {
		t.Fatal("deadline for a follower that no longer holds the HW")
	}
}
