package core

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/cluster/controller"
)

// The controller's side of replica placement after creation: the admin
// requests it decides (ElectLeaders, AlterPartitionReassignments,
// ListPartitionReassignments) and the work its tick does
// (placementTick). Decisions are cluster/controller's; this file feeds
// them and proposes what they return.

// transactionStateTopic is Kafka's transaction log. Jocko creates none
// yet; one made by a later version is raised like __consumer_offsets.
const transactionStateTopic = "__transaction_state"

// internalReplication names each internal topic's replication factor
// setting.
var internalReplication = []struct{ topic, setting string }{
	{offsetsTopic, "offsets.topic.replication.factor"},
	{transactionStateTopic, "transaction.state.log.replication.factor"},
}

// raisePerTickMax bounds the reassignments one tick starts to raise
// internal topics, so a tick stays short; the next tick goes on.
const raisePerTickMax = 64

// controllerAdmin answers an admin request the controller decides: here
// when this broker is the controller (decide runs under the controller's
// round lock, after checking it is still active), else forwarded once to
// the controller, as Kafka 4 brokers forward these requests. A request
// another broker forwarded is not forwarded again, so a leadership change
// cannot bounce it between brokers; notController(msg) is the answer then,
// and when no controller is known or the forward fails (clients retry
// NOT_CONTROLLER).
func (b *Broker) controllerAdmin(ctx context.Context, r *request, decide func(ctx context.Context) kmsg.Response, notController func(msg string) kmsg.Response) reply {
	if b.node.IsLeader() {
		return reply{wait: func() kmsg.Response {
			c := &b.ctrl
			c.round.Lock()
			defer c.round.Unlock()
			if !c.activeNow(b.node.State(), b.env.Clock.Now().UnixMilli()) {
				return notController("this broker is no longer the controller")
			}
			return decide(ctx)
		}}
	}
	leader, ok := b.node.LeaderID()
	if !ok || forwardedByBroker(r) {
		return reply{resp: notController("no controller known; retry")}
	}
	return reply{wait: func() kmsg.Response {
		resp, err := b.peerRequest(ctx, leader, r.msg)
		if err != nil {
			return notController("forward to controller " + strconv.Itoa(int(leader)) + ": " + err.Error())
		}
		return resp
	}}
}

// decisionError maps what a controller decision or its proposal returned
// to a Kafka code and message.
func decisionError(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	var cerr *controller.Error
	if errors.As(err, &cerr) {
		return cerr.Code.Code, &cerr.Message
	}
	return errorCode(clusterErr(err))
}

// placementTick is the controller's periodic placement work, run by tick
// under the round lock: finish reassignments whose targets caught up,
// raise internal topics to their replication factor as brokers join, and
// move leadership back to preferred replicas.
func (c *controllerShell) placementTick(ctx context.Context, nowMs int64) {
	c.completeReassignments(ctx)
	c.raiseInternalTopics(ctx)
	c.autoRebalance(ctx, nowMs)
}

// completeReassignments proposes the completion of every reassignment
// whose target replicas are all in sync.
func (c *controllerShell) completeReassignments(ctx context.Context) {
	st := c.b.node.State()
	for _, cmd := range controller.CompleteReassignments(st, c.brokerInfos(st)) {
		c.b.log.Info("reassignment complete", "topic", cmd.Topic, "partition", cmd.Partition, "replicas", cmd.Replicas,
			"leader", cmd.Leader, "leader_epoch", cmd.LeaderEpoch)
		c.propose(ctx, cmd)
	}
}

// raiseInternalTopics starts reassignments that add replicas to internal
// topics created while the cluster had fewer live brokers than their
// replication factor setting (a setting lowered later removes nothing).
func (c *controllerShell) raiseInternalTopics(ctx context.Context) {
	st := c.b.node.State()
	budget := raisePerTickMax
	for _, it := range internalReplication {
		if _, ok := st.Topic(it.topic); !ok || budget == 0 {
			continue
		}
		rf := int(min(c.b.brokerInt(st, it.setting), int64(liveBrokers(st))))
		cmds := controller.RaiseReplication(st, c.brokerInfos(st), it.topic, rf, budget)
		for _, cmd := range cmds {
			c.b.log.Info("raising internal topic replication", "topic", cmd.Topic, "partition", cmd.Partition,
				"replication_factor", rf, "adding", cmd.AddingReplicas)
			c.propose(ctx, cmd)
		}
		budget -= len(cmds)
	}
}

// autoRebalance is Kafka's auto.leader.rebalance.enable: once every
// leader.imbalance.check.interval.seconds, brokers that do not lead more
// than leader.imbalance.per.broker.percentage of the partitions they are
// preferred for get those back. The tick that falls in the first
// controllerTick of each interval (on the clock, not since some start)
// checks, so the controller keeps no timer state and a new controller
// keeps the rhythm.
func (c *controllerShell) autoRebalance(ctx context.Context, nowMs int64) {
	st := c.b.node.State()
	if !c.b.brokerBool(st, "auto.leader.rebalance.enable") {
		return
	}
	intervalMs := max(1, c.b.brokerInt(st, "leader.imbalance.check.interval.seconds")) * 1000
	if nowMs%intervalMs >= controllerTick.Milliseconds() {
		return
	}
	percent := int(c.b.brokerInt(st, "leader.imbalance.per.broker.percentage"))
	for _, cmd := range controller.AutoRebalance(st, c.brokerInfos(st), percent) {
		c.b.log.Info("moving leadership back to the preferred replica", "topic", cmd.Topic, "partition", cmd.Partition,
			"leader", cmd.Leader, "leader_epoch", cmd.LeaderEpoch)
		c.propose(ctx, cmd)
	}
}

// reassignTimeoutDefault bounds a reassignment request whose TimeoutMillis
// is not positive.
const reassignTimeoutDefault = 30 * time.Second

// requestContext bounds ctx by a request's TimeoutMillis.
func (b *Broker) requestContext(ctx context.Context, timeoutMs int32) (context.Context, context.CancelFunc) {
	d := reassignTimeoutDefault
	if timeoutMs > 0 {
		d = time.Duration(timeoutMs) * time.Millisecond
	}
	return context.WithTimeout(ctx, d)
}

// proposeDecision proposes a decided partition command, deciding again
// once if a concurrent change overtook it (a stale partition epoch).
func (c *controllerShell) proposeDecision(ctx context.Context, decide func(*cluster.State) (cluster.Command, error)) error {
	for attempt := 0; ; attempt++ {
		cmd, err := decide(c.b.node.State())
		if err != nil || cmd == nil {
			return err
		}
		err = c.b.node.Propose(ctx, cmd)
		if !errors.Is(err, cluster.ErrStaleEpoch) || attempt == 1 {
			return err
		}
	}
}

// notControllerCode is the code and message of a NOT_CONTROLLER answer.
func notControllerCode(msg string) (int16, *string) {
	return kerr.NotController.Code, &msg
}
