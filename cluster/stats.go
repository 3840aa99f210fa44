package cluster

import (
	"github.com/hashicorp/raft"
)

// RaftStats is what a node's Raft reports for metrics: read at the time
// of the call, lock-free (hashicorp/raft keeps these in atomics).
type RaftStats struct {
	// State is "Leader", "Follower", "Candidate" or "Shutdown"; empty
	// before Run starts raft.
	State string
	// Term is the current term; CommitIndex, AppliedIndex and LastIndex
	// are the Raft log's commit index, the FSM's applied index and the
	// last index in the log.
	Term, CommitIndex, AppliedIndex, LastIndex uint64
	// LeaderChanges counts the leaders this node has seen elected or lost
	// since Run started (each raft LeaderObservation, a lost leader
	// included); only with Config.CountLeaderChanges.
	LeaderChanges uint64
}

// RaftStats returns the node's Raft state now.
func (n *Node) RaftStats() RaftStats {
	r := n.raft.Load()
	if r == nil {
		return RaftStats{}
	}
	return RaftStats{
		State:         r.State().String(),
		Term:          r.CurrentTerm(),
		CommitIndex:   r.CommitIndex(),
		AppliedIndex:  r.AppliedIndex(),
		LastIndex:     r.LastIndex(),
		LeaderChanges: n.leaderChanges.Load(),
	}
}

// countLeaderChanges counts raft's leader observations. The observer has
// no channel: raft calls its filter on raft's own goroutine, which counts
// and drops the observation, so no goroutine of ours is needed.
func (n *Node) countLeaderChanges(r *raft.Raft) {
	r.RegisterObserver(raft.NewObserver(nil, false, func(o *raft.Observation) bool {
		if _, ok := o.Data.(raft.LeaderObservation); ok {
			n.leaderChanges.Add(1)
		}
		return false
	}))
}
