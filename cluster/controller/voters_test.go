package controller

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func TestPlanVoters(t *testing.T) {
	const after = 60_000
	goal := func(n int) VoterGoal { return VoterGoal{Count: n, ReplaceAfterMs: after, Self: 1} }
	v := func(id int32, ms int64) Voter { return Voter{ID: id, UnreachableMs: ms} }
	tests := []struct {
		name    string
		voters  []Voter
		brokers []BrokerInfo
		goal    VoterGoal
		want    string // {Add Remove}
	}{
		{"first broker alone", []Voter{v(1, 0)}, live(1), goal(3), "{-1 -1}"},
		{"grow to 3, lowest ID first", []Voter{v(1, 0)}, live(1, 5, 3), goal(3), "{3 -1}"},
		{"grow skips fenced and shutting down", []Voter{v(1, 0)}, []BrokerInfo{{ID: 1}, {ID: 2, Fenced: true}, {ID: 3, ShuttingDown: true}, {ID: 4}, {ID: 6}}, goal(3), "{4 -1}"},
		{"one voter, one candidate: wait for a second", []Voter{v(1, 0)}, live(1, 2), goal(3), "{-1 -1}"},
		{"three voters, one candidate: wait", []Voter{v(1, 0), v(2, 0), v(3, 0)}, live(1, 2, 3, 4), goal(5), "{-1 -1}"},
		{"two voters: the third joins alone", []Voter{v(1, 0), v(2, 0)}, live(1, 2, 3), goal(3), "{3 -1}"},
		{"full: nothing", []Voter{v(1, 0), v(2, 0), v(3, 0)}, live(1, 2, 3, 4), goal(3), "{-1 -1}"},
		{"unreachable but not for long: nothing", []Voter{v(1, 0), v(2, after-1), v(3, 0)}, live(1, 3, 4), goal(3), "{-1 -1}"},
		{"gone too long: removed first", []Voter{v(1, 0), v(2, after), v(3, 0)}, live(1, 3, 4), goal(3), "{-1 2}"},
		{"then replaced", []Voter{v(1, 0), v(3, 0)}, live(1, 3, 4), goal(3), "{4 -1}"},
		{"lowest dead ID first", []Voter{v(1, 0), v(2, 0), v(3, after*2), v(4, 0), v(5, after)}, live(1, 2, 4), goal(5), "{-1 3}"},
		{"never below a majority of 3", []Voter{v(1, 0), v(3, after)}, live(1), goal(3), "{-1 -1}"},
		{"never below a majority of 5", []Voter{v(1, 0), v(2, 0), v(3, after)}, live(1, 2), goal(5), "{-1 -1}"},
		{"below majority: add instead", []Voter{v(1, 0), v(3, after)}, live(1, 4), goal(3), "{4 -1}"},
		{"never remove self", []Voter{v(1, after), v(2, 0), v(3, 0)}, live(2, 3, 4), goal(3), "{-1 -1}"},
		{"too many: the unreachable goes", []Voter{v(1, 0), v(2, 0), v(3, 5), v(4, 0), v(5, 0)}, live(1, 2, 4, 5), goal(3), "{-1 3}"},
		{"too many: the highest ID goes", []Voter{v(1, 0), v(2, 0), v(3, 0), v(4, 0), v(5, 0)}, live(1, 2, 3, 4, 5), goal(3), "{-1 5}"},
		{"too many: not self", []Voter{v(5, 0), v(1, 0), v(2, 0), v(3, 0)}, live(1, 2, 3, 5), VoterGoal{Count: 3, ReplaceAfterMs: after, Self: 5}, "{-1 3}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := PlanVoters(tc.voters, tc.brokers, tc.goal)
			if fmt.Sprint(got) != tc.want {
				t.Fatalf("got %v, want %s", got, tc.want)
			}
		})
	}
}

// Following the plan step by step (at one instant: no time passes)
// terminates, every step keeps a majority
// of the goal when it removes, adds only eligible non-voters, never removes
// the leader, and ends with as many voters as wanted when brokers allow.
func TestPlanVotersProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 9).Draw(t, "brokers")
		var brokers []BrokerInfo
		unreachable := map[int32]int64{}
		for id := int32(1); id <= int32(n); id++ {
			b := BrokerInfo{ID: id}
			switch rapid.IntRange(0, 4).Draw(t, "health") {
			case 0:
				b.Fenced = true
			case 1:
				b.ShuttingDown = true
			}
			brokers = append(brokers, b)
			if id > 1 && rapid.IntRange(0, 3).Draw(t, "reach") == 0 {
				unreachable[id] = rapid.Int64Range(1, 120_000).Draw(t, "unreachableMs")
			}
		}
		goal := VoterGoal{Count: rapid.SampledFrom([]int{1, 3, 5}).Draw(t, "count"), ReplaceAfterMs: 60_000, Self: 1}
		ids := []int32{1}
		for id := int32(2); id <= int32(n); id++ {
			if rapid.Bool().Draw(t, "voter") {
				ids = append(ids, id)
			}
		}
		for step := 0; ; step++ {
			if step > 2*n+2 {
				t.Fatalf("no fixed point after %d steps: voters %v", step, ids)
			}
			voters := make([]Voter, len(ids))
			for i, id := range ids {
				voters[i] = Voter{ID: id, UnreachableMs: unreachable[id]}
			}
			c := PlanVoters(voters, brokers, goal)
			switch {
			case c.None():
				checkVoterFixedPoint(t, voters, brokers, goal)
				return
			case c.Add >= 0 && c.Remove >= 0:
				t.Fatalf("two changes at once: %v", c)
			case c.Add >= 0:
				if slices.Contains(ids, c.Add) || !brokers[c.Add-1].eligible() || len(ids) >= goal.Count {
					t.Fatalf("voters %v: bad add %d", ids, c.Add)
				}
				ids = append(ids, c.Add)
			default:
				if c.Remove == goal.Self || !slices.Contains(ids, c.Remove) || len(ids)-1 < goal.Count/2+1 {
					t.Fatalf("voters %v: bad remove %d", ids, c.Remove)
				}
				ids = slices.DeleteFunc(ids, func(id int32) bool { return id == c.Remove })
				delete(unreachable, c.Remove) // a non-voter's reachability is unknown; re-added, it starts afresh
			}
		}
	})
}

// checkVoterFixedPoint: no more than wanted; fewer only when no broker can
// join; a long-gone voter only when removing it would break the majority.
func checkVoterFixedPoint(t *rapid.T, voters []Voter, brokers []BrokerInfo, goal VoterGoal) {
	if len(voters) > goal.Count {
		t.Fatalf("voters %v above %d", voters, goal.Count)
	}
	isVoter := func(id int32) bool { return slices.ContainsFunc(voters, func(v Voter) bool { return v.ID == id }) }
	var candidates []int32
	for _, b := range brokers {
		if b.eligible() && !isVoter(b.ID) {
			candidates = append(candidates, b.ID)
		}
	}
	// Below the goal only when nobody can join, or when an odd voter set
	// has a single candidate (it waits for a second, never going even).
	if len(voters) < goal.Count && len(candidates) > 0 && !(len(voters)%2 == 1 && len(candidates) == 1) {
		t.Fatalf("voters %v below %d while brokers %v could join", voters, goal.Count, candidates)
	}
	for _, v := range voters {
		if v.ID != goal.Self && v.UnreachableMs >= goal.ReplaceAfterMs && len(voters)-1 >= goal.Count/2+1 {
			t.Fatalf("voters %v keep %d, gone %d ms", voters, v.ID, v.UnreachableMs)
		}
	}
}
