package core

import (
	"context"
	"errors"
	"fmt"
	"github.com/jocko/jocko/io/buggify"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/cluster/controller"
)

// The controller is the shell around cluster/controller's decisions. It is
// active on the broker that leads the metadata Raft group. It keeps each
// broker's session (KRaft's broker heartbeats): a broker whose heartbeats
// stop for broker.session.timeout.ms is fenced, and every partition it led
// gets a new leader from its ISR. A registration starts fenced (KIP-903)
// and is unfenced by a heartbeat that shows the broker's metadata has
// caught up with it.

// controllerTick is how often the controller looks for expired sessions and
// partitions to elect leaders for.
const controllerTick = 250 * time.Millisecond

type controllerShell struct {
	b *Broker

	mu       sync.Mutex // guards active, sinceMs and sessions
	active   bool       // this broker led the metadata group at the last tick
	sinceMs  int64      // when this term as controller began
	sessions map[int32]*brokerSession
	// handedOffMs is when this broker last gave up the controller role
	// because it heard from too few brokers (tick's goroutine only).
	handedOffMs int64
	// round serialises decision rounds (tick and heartbeats), so that two
	// rounds never propose from the same state.
	round sync.Mutex
}

// brokerSession is what the controller knows of a broker between
// heartbeats; it lives only in the controller's memory.
type brokerSession struct {
	epoch        int64
	lastMs       int64
	shuttingDown bool
}

func init() {
	registerInternal(kmsg.BrokerHeartbeat, 0, 1, (*Broker).handleBrokerHeartbeat)
}

// run is the controller's loop, owned by Broker.Run.
func (c *controllerShell) run(ctx context.Context) error {
	t := c.b.env.Clock.Ticker(controllerTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		c.tick(ctx)
	}
}

// activeNow reports whether this broker is the controller, starting a new
// term of sessions when it just became one: every registered broker gets a
// full session before it can be fenced, as a new KRaft controller does.
func (c *controllerShell) activeNow(st *cluster.State, nowMs int64) bool {
	leader := c.b.node.IsLeader()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !leader {
		c.active, c.sessions = false, nil
		return false
	}
	if !c.active {
		c.active, c.sessions, c.sinceMs = true, map[int32]*brokerSession{}, nowMs
	}
	for _, id := range st.SortedBrokerIDs() {
		br := st.Brokers[id]
		if s := c.sessions[id]; s == nil || s.epoch != br.Epoch {
			c.sessions[id] = &brokerSession{epoch: br.Epoch, lastMs: nowMs}
		}
	}
	return true
}

// brokerInfos describes every registered broker for cluster/controller.
func (c *controllerShell) brokerInfos(st *cluster.State) []controller.BrokerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]controller.BrokerInfo, 0, len(st.Brokers))
	for _, id := range st.SortedBrokerIDs() {
		br := st.Brokers[id]
		info := controller.BrokerInfo{ID: id, Rack: br.Rack, Fenced: br.Fenced, Epoch: br.Epoch}
		if s := c.sessions[id]; s != nil {
			info.LastHeartbeatMs, info.ShuttingDown = s.lastMs, s.shuttingDown
		}
		out = append(out, info)
	}
	return out
}

// tick fences brokers whose session expired and elects leaders where needed.
func (c *controllerShell) tick(ctx context.Context) {
	c.round.Lock()
	defer c.round.Unlock()
	st := c.b.node.State()
	nowMs := c.b.env.Clock.Now().UnixMilli()
	if !c.activeNow(st, nowMs) {
		return
	}
	timeout := c.b.brokerInt(st, "broker.session.timeout.ms")
	// The controller runs, so its own session cannot lapse (its heartbeat
	// may just have been slow to find it).
	expired := slices.DeleteFunc(controller.ExpiredSessions(c.brokerInfos(st), nowMs, timeout),
		func(f cluster.FenceBroker) bool { return f.ID == c.b.cfg.NodeID })
	if c.cutOff(ctx, st, len(expired), nowMs, timeout) {
		return
	}
	for _, cmd := range c.gossipFailures(st, expired, nowMs) {
		c.propose(ctx, cmd)
	}
	for _, cmd := range expired {
		c.b.log.Warn("fencing broker: session expired", "broker", cmd.ID, "epoch", cmd.Epoch, "timeout_ms", timeout)
		c.propose(ctx, cmd)
	}
	c.elect(ctx)
	c.reconcileVoters(ctx, nowMs)
	c.placementTick(ctx, nowMs)
}

// silentMs is how long the registration of broker id at epoch has not
// heartbeated; ok=false when this controller keeps no session for it (-1
// matches any epoch).
func (c *controllerShell) silentMs(id int32, epoch, nowMs int64) (ms int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[id]
	if s == nil || (epoch >= 0 && s.epoch != epoch) {
		return 0, false
	}
	return nowMs - s.lastMs, true
}

// gossipFailures adds to the expired sessions the brokers that Serf's
// failure detector (direct and indirect probes) reports failed and that
// have not heartbeated for two heartbeat intervals: a crash is then acted
// on in about two heartbeats instead of a whole session timeout. A
// restarted broker heartbeats at once under its new epoch, so a failure
// report about its previous incarnation does not fence it.
func (c *controllerShell) gossipFailures(st *cluster.State, expired []cluster.FenceBroker, nowMs int64) []cluster.FenceBroker {
	if c.b.members == nil {
		return nil
	}
	quiet := 2 * c.b.brokerInt(st, "broker.heartbeat.interval.ms")
	var out []cluster.FenceBroker
	for _, m := range c.b.members.Members() {
		br, ok := st.Brokers[m.ID]
		if m.Status != cluster.StatusFailed || m.ID == c.b.cfg.NodeID || !ok || br.Fenced ||
			slices.ContainsFunc(expired, func(f cluster.FenceBroker) bool { return f.ID == m.ID }) {
			continue
		}
		if silent, ok := c.silentMs(m.ID, br.Epoch, nowMs); ok && silent > quiet {
			c.b.log.Warn("fencing broker: gossip reports it failed", "broker", m.ID, "epoch", br.Epoch)
			out = append(out, cluster.FenceBroker{ID: m.ID, Epoch: br.Epoch, Fenced: true})
		}
	}
	return out
}

// cutOff decides whether this controller, rather than the brokers, is the
// one cut off: the sessions of most other unfenced brokers expired at once
// while it has led for a while. Fencing them would take every partition
// offline; it hands the controller role to another voter instead (one that
// still hears from the brokers fences what is really gone). A controller
// that has led for less than two session timeouts trusts what it sees, so
// that a real failure of most brokers is still acted on after one handoff.
func (c *controllerShell) cutOff(ctx context.Context, st *cluster.State, expired int, nowMs, timeout int64) bool {
	others := 0
	for id, br := range st.Brokers { // a count: the order does not matter
		if id != c.b.cfg.NodeID && !br.Fenced {
			others++
		}
	}
	c.mu.Lock()
	tenure := nowMs - c.sinceMs
	c.mu.Unlock()
	if expired < 2 || 2*expired <= others || tenure < 2*timeout || nowMs-c.handedOffMs < 2*timeout {
		return false
	}
	c.handedOffMs = nowMs
	c.b.log.Warn("the sessions of most brokers expired at once: handing the controller role to another voter instead of fencing them",
		"expired", expired, "unfenced_others", others)
	if err := c.b.node.TransferLeadership(ctx); err != nil {
		c.b.log.Warn("controller handoff failed; fencing on a later tick if it persists", "err", err)
	}
	return true
}

// elect proposes the leader and ISR changes that keep every partition led
// by an eligible broker.
func (c *controllerShell) elect(ctx context.Context) {
	st := c.b.node.State()
	policy := controller.Policy{UncleanLeaderElection: c.b.brokerBool(st, "unclean.leader.election.enable") ||
		buggify.Broken(buggify.ElectOutsideISR)}
	infos := c.brokerInfos(st)
	for _, cmd := range controller.Failover(st, infos, policy) {
		if buggify.Broken(buggify.ElectOutsideISR) {
			cmd = electAnyReplica(st, infos, cmd)
		}
		c.propose(ctx, cmd)
	}
}

// propose commits cmd on this (controller) broker; a stale compare-and-set
// or a lost leadership is retried by the next round.
func (c *controllerShell) propose(ctx context.Context, cmd cluster.Command) {
	if err := c.b.node.Propose(ctx, cmd); err != nil && !errors.Is(err, cluster.ErrStaleEpoch) &&
		!errors.Is(err, cluster.ErrNotLeader) && ctx.Err() == nil {
		c.b.log.Warn("controller proposal failed", "command", fmt.Sprintf("%T", cmd), "err", err)
	}
}

// heartbeat is the controller's answer to one broker heartbeat.
func (c *controllerShell) heartbeat(ctx context.Context, req *kmsg.BrokerHeartbeatRequest) *kmsg.BrokerHeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
	c.round.Lock()
	defer c.round.Unlock()
	st := c.b.node.State()
	nowMs := c.b.env.Clock.Now().UnixMilli()
	if !c.activeNow(st, nowMs) {
		resp.ErrorCode = kerr.NotController.Code
		return resp
	}
	br, ok := st.Brokers[req.BrokerID]
	if !ok || br.Epoch != req.BrokerEpoch {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp
	}
	c.mu.Lock()
	s := c.sessions[req.BrokerID]
	s.lastMs, s.shuttingDown = nowMs, req.WantShutdown
	c.mu.Unlock()
	resp.IsCaughtUp = req.CurrentMetadataOffset >= br.Epoch
	// A fenced registration leads nothing: move its leaderships (with a
	// new leader epoch) before it may be unfenced, or a restarted leader
	// would lead again in the epoch its previous incarnation wrote in.
	c.elect(ctx)
	switch {
	case br.Fenced && resp.IsCaughtUp && !req.WantFence && !req.WantShutdown:
		if br.LostLogs {
			for _, cmd := range controller.DropFromISRs(c.b.node.State(), br.ID) {
				c.propose(ctx, cmd)
			}
			if len(controller.DropFromISRs(c.b.node.State(), br.ID)) > 0 {
				break // not all went through: unfence on a later heartbeat
			}
		}
		c.propose(ctx, cluster.FenceBroker{ID: br.ID, Epoch: br.Epoch, Fenced: false})
	case !br.Fenced && req.WantFence:
		c.propose(ctx, cluster.FenceBroker{ID: br.ID, Epoch: br.Epoch, Fenced: true})
	}
	c.elect(ctx)
	st = c.b.node.State()
	resp.IsFenced = st.Brokers[req.BrokerID].Fenced
	resp.ShouldShutdown = req.WantShutdown && controller.ShutdownComplete(st, req.BrokerID)
	return resp
}

func (b *Broker) handleBrokerHeartbeat(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.BrokerHeartbeatRequest)
	return reply{wait: func() kmsg.Response { return b.ctrl.heartbeat(ctx, req) }}
}

// sendHeartbeat sends this broker's heartbeat to the controller (itself,
// without the network, when it is the controller).
func (b *Broker) sendHeartbeat(ctx context.Context, epoch int64, wantShutdown bool) (*kmsg.BrokerHeartbeatResponse, error) {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.SetVersion(1)
	req.BrokerID, req.BrokerEpoch, req.WantShutdown = b.cfg.NodeID, epoch, wantShutdown
	// A broker alone has nobody to hand its partitions to: fencing it
	// would only take its healthy partitions offline too.
	req.WantFence = b.dirFailed.Load() && liveBrokers(b.node.State()) > 1
	st := b.node.State()
	req.CurrentMetadataOffset = int64(st.AppliedIndex)
	leader, ok := b.node.LeaderID()
	if !ok {
		return nil, cluster.ErrNotLeader
	}
	if leader == b.cfg.NodeID {
		return b.ctrl.heartbeat(ctx, req), nil
	}
	// Bounded well within the session: a heartbeat stuck on a controller
	// that is gone (a cut link answers nothing) must not keep this broker
	// from finding the new one before its session expires there.
	ctx, cancel := context.WithTimeout(ctx, heartbeatRequestTimeout(b.brokerInt(st, "broker.heartbeat.interval.ms"),
		b.brokerInt(st, "broker.session.timeout.ms")))
	defer cancel()
	resp, err := b.peerRequest(ctx, leader, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.BrokerHeartbeatResponse), nil
}

// heartbeatRequestTimeout bounds one heartbeat: twice the interval (at
// least a second), at most a third of the session timeout.
func heartbeatRequestTimeout(intervalMs, sessionMs int64) time.Duration {
	return time.Duration(min(max(2*intervalMs, 1000), max(sessionMs/3, 1))) * time.Millisecond
}

// heartbeatLoop keeps this broker's session with the controller, owned by
// Broker.Run.
func (b *Broker) heartbeatLoop(ctx context.Context, epoch int64) error {
	for {
		every := time.Duration(b.brokerInt(b.node.State(), "broker.heartbeat.interval.ms")) * time.Millisecond
		if err := b.sleep(ctx, every); err != nil {
			return nil
		}
		resp, err := b.sendHeartbeat(ctx, epoch, b.shuttingDown.Load())
		if err == nil && resp.ErrorCode == kerr.StaleBrokerEpoch.Code {
			b.log.Error("the controller knows a newer registration of this broker ID; stopping heartbeats", "epoch", epoch)
			return nil
		}
	}
}

// awaitUnfenced heartbeats quickly until the controller has unfenced this
// registration and this broker's metadata shows it.
func (b *Broker) awaitUnfenced(ctx context.Context, epoch int64) error {
	backoff := 20 * time.Millisecond
	for {
		if br, ok := b.node.State().Brokers[b.cfg.NodeID]; ok && br.Epoch == epoch && !br.Fenced {
			return nil
		}
		changed := b.node.Changed()
		resp, err := b.sendHeartbeat(ctx, epoch, false)
		wait := backoff
		if err == nil && resp.ErrorCode == 0 && !resp.IsFenced {
			wait = 500 * time.Millisecond // unfenced: the metadata will show it
		} else {
			backoff = min(2*backoff, 500*time.Millisecond)
		}
		t := b.env.Clock.Timer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// electAnyReplica is the elect-outside-isr broken variant: a leader change
// goes to a live replica outside the ISR when there is one (else the first
// live replica), as a controller that ignores the ISR may do.
func electAnyReplica(st *cluster.State, infos []controller.BrokerInfo, cmd cluster.UpdatePartition) cluster.UpdatePartition {
	t, ok := st.Topic(cmd.Topic)
	if !ok || int(cmd.Partition) >= len(t.Partitions) {
		return cmd
	}
	p := t.Partitions[cmd.Partition]
	if cmd.Leader == p.Leader {
		return cmd
	}
	live := func(r int32) bool {
		for _, b := range infos {
			if b.ID == r && !b.Fenced && !b.ShuttingDown {
				return true
			}
		}
		return false
	}
	pick := int32(-1)
	for _, r := range p.Replicas {
		if live(r) && (pick < 0 || !slices.Contains(p.ISR, r)) {
			pick = r
			if !slices.Contains(p.ISR, r) {
				break
			}
		}
	}
	if pick >= 0 {
		cmd.Leader = pick
		if !slices.Contains(cmd.ISR, pick) {
			cmd.ISR = append(slices.Clone(cmd.ISR), pick)
		}
	}
	return cmd
}
