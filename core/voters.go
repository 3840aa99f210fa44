package core

import (
	"context"
	"time"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/cluster/controller"
)

// The controller keeps the metadata Raft group in shape: ControllerVoters
// brokers vote, chosen by controller.PlanVoters (the first brokers; a voter
// gone longer than controller.voter.replace.ms is removed and replaced by a
// live broker). Every other broker is an observer that pulls the metadata
// (cluster/observer.go, metadata_pull.go); so does a removed voter when it
// comes back, until it is added again.

// voterChangeTimeout bounds one Raft configuration change.
const voterChangeTimeout = 10 * time.Second

// voterGoal is how many voters the group should have.
func (b *Broker) voterGoal() int {
	switch {
	case b.cfg.ControllerVoters > 0:
		return b.cfg.ControllerVoters
	case len(b.cfg.Voters) > 0:
		return len(b.cfg.Voters)
	}
	return 3
}

// reconcileVoters brings the metadata group one or two changes closer to
// its goal. The controller's tick calls it, under c.round.
func (c *controllerShell) reconcileVoters(ctx context.Context, nowMs int64) {
	// A voter added to an odd set is followed at once by the next (PlanVoters
	// saw a second candidate): the even set in between stalls if either
	// new voter fails, so it must last as short a time as possible.
	for range 2 {
		if c.reconcileVotersOnce(ctx, c.b.node.State(), nowMs) != changedVoters {
			return
		}
	}
}

type voterOutcome int

const (
	noVoterChange voterOutcome = iota
	changedVoters              // a voter was added
	changedOther               // a voter removed, or a change failed
)

// reconcileVotersOnce makes at most one Raft configuration change.
func (c *controllerShell) reconcileVotersOnce(ctx context.Context, st *cluster.State, nowMs int64) voterOutcome {
	servers, err := c.b.node.Servers()
	if err != nil {
		return changedOther
	}
	ctx, cancel := context.WithTimeout(ctx, voterChangeTimeout)
	defer cancel()
	timeout := c.b.brokerInt(st, "broker.session.timeout.ms")
	var voters []controller.Voter
	for _, s := range servers {
		if s.Voter {
			voters = append(voters, controller.Voter{ID: s.ID, UnreachableMs: c.unreachableMs(s.ID, nowMs, timeout)})
		}
	}
	goal := controller.VoterGoal{Count: c.b.voterGoal(), Self: c.b.cfg.NodeID,
		ReplaceAfterMs: c.b.brokerInt(st, "controller.voter.replace.ms")}
	switch ch := controller.PlanVoters(voters, c.brokerInfos(st), goal); {
	case ch.Add >= 0:
		addr := st.Brokers[ch.Add].RaftAddr
		if s, ok := servers[ch.Add]; ok {
			addr = s.Addr
		}
		c.b.log.Info("promoting broker to metadata voter", "broker", ch.Add, "raft", addr)
		if err := c.b.node.AddVoter(ctx, ch.Add, addr); err != nil {
			c.raftChange(ctx, "add voter", err)
			return changedOther
		}
		return changedVoters
	case ch.Remove >= 0:
		c.b.log.Warn("removing metadata voter", "broker", ch.Remove)
		c.raftChange(ctx, "remove voter", c.b.node.RemoveServer(ctx, ch.Remove))
		return changedOther
	}
	return noVoterChange
}

// unreachableMs is how long broker id's session has been silent, once it
// has been silent longer than the session timeout; 0 while it heartbeats.
func (c *controllerShell) unreachableMs(id int32, nowMs, timeout int64) int64 {
	if silent, ok := c.silentMs(id, -1, nowMs); ok && silent > timeout {
		return silent
	}
	return 0
}

func (c *controllerShell) raftChange(ctx context.Context, what string, err error) {
	if err != nil && ctx.Err() == nil {
		c.b.log.Warn("metadata group change failed", "change", what, "err", err)
	}
}
