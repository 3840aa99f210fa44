package core

import (
	"context"
	"errors"
	"github.com/jocko/jocko/io/buggify"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/core/replica"
)

// The leader's side of replication: core/replica decides (followers'
// positions, the ISR, the high watermark over the ISR's durable ends); this
// file feeds it and carries out what it decides (moving the high
// watermark, sending AlterPartition to the controller).

// isrTick is how often a leader checks for followers fallen out of sync.
const isrTick = 500 * time.Millisecond

// roleFromMetadata brings the partition's role in line with its metadata:
// leader state for a new leader epoch, an ISR or assignment change for the
// same one, follower otherwise. Called by reconcile.
func (p *partition) roleFromMetadata(ps cluster.Partition) {
	p.leaderEpoch.Store(ps.LeaderEpoch)
	p.leader.Store(ps.Leader)
	p.isr.Store(int32(len(ps.ISR)))
	now := p.b.env.Clock.Now().UnixMilli()
	p.repMu.Lock()
	defer p.repMu.Unlock()
	if ps.Leader != p.b.cfg.NodeID {
		if p.lead != nil {
			p.leaderGen.Add(1)
			defer p.broadcast() // waiters for the high watermark fail now
			p.b.log.Info("no longer leader", "topic", p.topic, "partition", p.index, "leader", ps.Leader, "epoch", ps.LeaderEpoch,
				"log_end", p.log.EndOffset(), "hw", p.highWatermark())
		}
		p.lead = nil
		return
	}
	if p.lead != nil && p.lead.LeaderEpoch() == ps.LeaderEpoch {
		if p.lead.PartitionEpoch() != ps.PartitionEpoch {
			p.applyLocked(p.lead.PartitionChanged(ps.Replicas, ps.ISR, ps.PartitionEpoch, now))
		}
		p.applyLocked(p.lead.SetIneligible(p.b.ineligibleReplicas(ps.Replicas), now))
		return
	}
	// The new epoch starts at the log end: recorded now, so that followers
	// asking OffsetForLeaderEpoch before its first batch truncate right.
	if err := p.log.AssignEpoch(ps.LeaderEpoch); err != nil {
		p.b.log.Error("record leader epoch", "topic", p.topic, "partition", p.index, "epoch", ps.LeaderEpoch, "err", err)
	}
	end := p.log.EndOffset()
	p.b.log.Info("leading", "topic", p.topic, "partition", p.index, "epoch", ps.LeaderEpoch, "isr", ps.ISR,
		"log_end", end, "hw", p.highWatermark())
	if p.lead != nil {
		defer p.broadcast()
	}
	p.leaderGen.Add(1)
	p.lead = replica.NewLeader(p.replicaConfig(), replica.Start{
		Self: p.b.cfg.NodeID, SelfBrokerEpoch: p.b.epoch,
		LeaderEpoch: ps.LeaderEpoch, EpochStartOffset: end, PartitionEpoch: ps.PartitionEpoch,
		Replicas: ps.Replicas, ISR: ps.ISR,
		LogEnd: end, DurableEnd: min(p.log.DurableEnd(), end), HW: p.highWatermark(),
	}, now)
	// NewLeader may already have moved the high watermark (an ISR of
	// the leader alone, over a tail it had fsynced as a follower); a
	// later report that moves it no further says nothing, so take it now.
	p.advanceHW(p.lead.HW())
	p.applyLocked(p.lead.LocalDurable(p.durableForHW(), now))
	p.applyLocked(p.lead.SetIneligible(p.b.ineligibleReplicas(ps.Replicas), now))
	if p.config().durable() && p.log.DurableEnd() < end {
		// Records the follower appended and had not fsynced yet (its
		// fetcher stops between the append and the fsync): the flusher
		// makes them durable and leaderDurable moves the high watermark
		// over them. Otherwise only the next append would, and a
		// partition nothing appends to until it has loaded (the
		// coordinators' wait for the high watermark) would wait for good.
		p.kickFlusher()
	}
}

// ineligibleReplicas are the replicas whose brokers are fenced or not
// registered (KIP-841): a follower the controller fenced holds back
// neither the ISR nor the high watermark, however recently it fetched.
func (b *Broker) ineligibleReplicas(replicas []int32) []int32 {
	st := b.node.State()
	var out []int32
	for _, id := range replicas {
		if br, ok := st.Brokers[id]; !ok || br.Fenced {
			out = append(out, id)
		}
	}
	return out
}

func (p *partition) replicaConfig() replica.Config {
	cfg := p.config()
	return replica.Config{LagMaxMs: p.b.brokerInt(p.b.node.State(), "replica.lag.time.max.ms"), MinISR: int(cfg.minISR)}
}

// durableForHW is what the leader counts as its own offset in the high
// watermark: its fsynced end with flush.messages=1 (Jocko's default), its
// log end in Kafka's page-cache mode.
func (p *partition) durableForHW() int64 {
	if p.config().durable() {
		return p.log.DurableEnd()
	}
	return p.log.EndOffset()
}

// applyLocked carries out a decision of the leader state; repMu is held.
func (p *partition) applyLocked(u replica.Update) {
	if u.HWMoved {
		p.advanceHW(u.HW)
	}
	if u.Propose != nil {
		lead, prop := p.lead, u.Propose
		p.b.spawn(func(ctx context.Context) { p.alterPartition(ctx, lead, prop) })
	}
}

// leaderAppended tells the leader state the log grew (and, in page-cache
// mode, that the new records count for the high watermark).
func (p *partition) leaderAppended(end int64) {
	now := p.b.env.Clock.Now().UnixMilli()
	p.repMu.Lock()
	if p.lead != nil {
		p.applyLocked(p.lead.LocalAppend(end, now))
		if !p.config().durable() {
			p.applyLocked(p.lead.LocalDurable(end, now))
		}
	}
	p.repMu.Unlock()
	p.broadcastEnd()
}

// leaderDurable tells the leader state the log is fsynced up to end; on a
// follower it moves the local high watermark up to what the leader said.
func (p *partition) leaderDurable(end int64) {
	now := p.b.env.Clock.Now().UnixMilli()
	p.repMu.Lock()
	if p.lead != nil {
		p.applyLocked(p.lead.LocalDurable(end, now))
		if buggify.Broken(buggify.AckBeforeISR) {
			p.broadcast() // acks=all waiters look at the durable end (partition.waitHW)
		}
		p.repMu.Unlock()
		return
	}
	p.repMu.Unlock()
	p.followerAdvanceHW(min(end, p.leaderHW.Load())) // takes mu: not under repMu (lock order)
}

// followerFetched records a follower's fetch at offset. It answers the
// error code the partition gets in the Fetch response.
func (p *partition) followerFetched(id int32, brokerEpoch, offset int64) int16 {
	now := p.b.env.Clock.Now().UnixMilli()
	p.repMu.Lock()
	defer p.repMu.Unlock()
	if p.lead == nil {
		return kerr.NotLeaderForPartition.Code
	}
	u, err := p.lead.FollowerFetch(id, brokerEpoch, offset, now)
	switch {
	case errors.Is(err, replica.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case err != nil:
		return kerr.NotLeaderForPartition.Code
	}
	p.applyLocked(u)
	return 0
}

// tickISR lets the leader state drop followers that fell behind.
func (p *partition) tickISR() {
	now := p.b.env.Clock.Now().UnixMilli()
	p.repMu.Lock()
	defer p.repMu.Unlock()
	if p.lead != nil {
		p.applyLocked(p.lead.Tick(now))
	}
}

// ackError is what an acks=all produce whose records end at end gets once
// the high watermark covers them: nil, or NOT_ENOUGH_REPLICAS_AFTER_APPEND.
func (p *partition) ackError(end int64) error {
	p.repMu.Lock()
	defer p.repMu.Unlock()
	if p.lead == nil {
		return nil
	}
	if _, err := p.lead.AckError(end); errors.Is(err, replica.ErrNotEnoughReplicasAfterAppend) {
		return errNotEnoughReplicasAfterAppend
	}
	return nil
}

// canAppend refuses an acks=all append while the ISR is below
// min.insync.replicas.
func (p *partition) canAppend(acksAll bool) error {
	p.repMu.Lock()
	defer p.repMu.Unlock()
	if p.lead == nil {
		return nil
	}
	if err := p.lead.CanAppend(acksAll); err != nil {
		return errNotEnoughReplicas
	}
	return nil
}

var (
	errNotEnoughReplicas            = errors.New("not enough in-sync replicas")
	errNotEnoughReplicasAfterAppend = errors.New("the in-sync replicas fell below min.insync.replicas after the append")
)

// alterPartition sends the leader state's ISR proposal to the controller
// and feeds back the answer, unless leadership moved on meanwhile.
func (p *partition) alterPartition(ctx context.Context, lead *replica.Leader, prop *replica.Proposal) {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.SetVersion(3)
	req.BrokerID, req.BrokerEpoch = p.b.cfg.NodeID, p.b.epoch
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.TopicID = p.topicID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = p.index, prop.LeaderEpoch, prop.PartitionEpoch
	for _, m := range prop.ISR {
		e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
		e.BrokerID, e.BrokerEpoch = m.ID, m.BrokerEpoch
		rp.NewEpochISR = append(rp.NewEpochISR, e)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	var isr []int32
	epoch := int32(-1)
	code := kerr.RequestTimedOut.Code
	if len(prop.Added) > 0 && buggify.Broken(buggify.StuckISR) {
		code = kerr.InvalidRequest.Code
	} else if resp, err := p.b.controllerRequest(ctx, req, (*Broker).handleAlterPartition); err == nil {
		ar := resp.(*kmsg.AlterPartitionResponse)
		code = ar.ErrorCode
		if code == 0 && len(ar.Topics) == 1 && len(ar.Topics[0].Partitions) == 1 {
			pr := ar.Topics[0].Partitions[0]
			code, isr, epoch = pr.ErrorCode, pr.ISR, pr.PartitionEpoch
		}
	}
	now := p.b.env.Clock.Now().UnixMilli()
	p.repMu.Lock()
	defer p.repMu.Unlock()
	if p.lead != lead {
		return
	}
	if code != 0 {
		p.applyLocked(lead.ISRRejected(prop, now))
		return
	}
	if len(prop.Removed) > 0 {
		p.b.isrShrinks.Add(1)
	}
	if len(prop.Added) > 0 {
		p.b.isrExpands.Add(1)
	}
	p.applyLocked(lead.ISRCommitted(prop, isr, epoch, now))
}

// isrLoop ticks every led partition's ISR check, owned by Broker.Run.
func (b *Broker) isrLoop(ctx context.Context) error {
	t := b.env.Clock.Ticker(isrTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, p := range b.partitionsSnapshot() {
			p.tickISR()
		}
	}
}

// partitionsSnapshot lists the local partitions in topic/partition order.
func (b *Broker) partitionsSnapshot() []*partition {
	b.partsMu.RLock()
	out := make([]*partition, 0, len(b.parts))
	for _, p := range b.parts {
		out = append(out, p)
	}
	b.partsMu.RUnlock()
	slices.SortFunc(out, func(x, y *partition) int {
		if x.topic != y.topic {
			if x.topic < y.topic {
				return -1
			}
			return 1
		}
		return int(x.index - y.index)
	})
	return out
}

// controllerRequest sends req to the controller; when this broker is the
// controller, local (req's handler) answers it without the network.
func (b *Broker) controllerRequest(ctx context.Context, req kmsg.Request, local func(*Broker, context.Context, *request) reply) (kmsg.Response, error) {
	leader, ok := b.node.LeaderID()
	if !ok {
		return nil, cluster.ErrNotLeader
	}
	if leader == b.cfg.NodeID {
		rep := local(b, ctx, &request{msg: req})
		if rep.wait != nil {
			return rep.wait(), nil
		}
		return rep.resp, nil
	}
	return b.peerRequest(ctx, leader, req)
}
