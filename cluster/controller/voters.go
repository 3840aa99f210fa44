package controller

import (
	"cmp"
	"slices"
)

// Voter is a member of the Raft voter set as the Raft leader sees it.
type Voter struct {
	ID int32
	// UnreachableMs is how long the leader has not heard from it (0 while
	// it answers).
	UnreachableMs int64
}

// VoterGoal is what the voter set should look like.
type VoterGoal struct {
	Count int // voters wanted: 3, or 5 with --controller-voters 5
	// ReplaceAfterMs is how long a voter may be unreachable before it is
	// removed, to be replaced by a live broker.
	ReplaceAfterMs int64
	Self           int32 // the Raft leader, never removed
}

// VoterChange is one Raft configuration change: add the broker Add as a
// voter, or remove the voter Remove. At most one is set; -1 is none.
type VoterChange struct {
	Add    int32
	Remove int32
}

// None reports whether no change is needed.
func (c VoterChange) None() bool { return c.Add < 0 && c.Remove < 0 }

// PlanVoters decides the next change of the voter set, one server at a
// time, lowest ID first where there is a choice:
//
//  1. A voter unreachable for ReplaceAfterMs or longer is removed, if the
//     voters left are still a majority of goal.Count. It goes before its
//     replacement is added: adding first would raise the quorum while the
//     dead voter still counts, and a replacement that never comes up would
//     then stall the cluster. Removing a dead voter never lowers the number
//     of failures the rest can survive.
//  2. Below goal.Count, the lowest-ID broker that is eligible (not fenced,
//     not shutting down) and not a voter is added. A removed voter that
//     comes back is added again this way. From an odd number of voters
//     one is added only when a second candidate can follow it: an even
//     voter set tolerates no more failures than the odd one below it,
//     and two voters would stall on the loss of either.
//  3. Above goal.Count, a voter is removed: the unreachable one with the
//     lowest ID, else the one with the highest ID (the oldest brokers stay),
//     never Self.
//
// Call it again after each change is committed, until it returns None. A
// removed voter that still heartbeats is eligible, so it may be added back
// at once; if Raft still cannot reach it, it is removed again after
// ReplaceAfterMs (one change each way per period, never a tight loop).
func PlanVoters(voters []Voter, brokers []BrokerInfo, goal VoterGoal) VoterChange {
	vs := slices.Clone(voters)
	slices.SortFunc(vs, func(a, b Voter) int { return cmp.Compare(a.ID, b.ID) })
	want := max(goal.Count, 1)
	none := VoterChange{Add: -1, Remove: -1}
	for _, v := range vs {
		if v.ID != goal.Self && v.UnreachableMs > 0 && v.UnreachableMs >= goal.ReplaceAfterMs && len(vs)-1 >= want/2+1 {
			return VoterChange{Add: -1, Remove: v.ID}
		}
	}
	if len(vs) < want {
		id := newVoter(vs, brokers)
		if id >= 0 && len(vs)%2 == 1 {
			after := append(slices.Clone(vs), Voter{ID: id})
			if newVoter(after, brokers) < 0 {
				return none
			}
		}
		if id >= 0 {
			return VoterChange{Add: id, Remove: -1}
		}
		return none
	}
	if len(vs) > want {
		for _, v := range vs {
			if v.ID != goal.Self && v.UnreachableMs > 0 {
				return VoterChange{Add: -1, Remove: v.ID}
			}
		}
		for i := len(vs) - 1; i >= 0; i-- {
			if vs[i].ID != goal.Self {
				return VoterChange{Add: -1, Remove: vs[i].ID}
			}
		}
	}
	return none
}

// newVoter returns the lowest-ID eligible broker that is not a voter, or -1.
func newVoter(voters []Voter, brokers []BrokerInfo) int32 {
	best := int32(-1)
	for _, b := range brokers {
		if !b.eligible() || slices.ContainsFunc(voters, func(v Voter) bool { return v.ID == b.ID }) {
			continue
		}
		if best < 0 || b.ID < best {
			best = b.ID
		}
	}
	return best
}
