package core

// AlterPartition: v0-3 (between brokers only; not advertised to clients)
//
// Behavior: a partition leader asks the controller to commit an ISR change
// (KRaft's AlterPartition). cluster/controller validates it (leader epoch,
// partition epoch, broker epochs, eligible members) and the controller
// commits an UpdatePartition; the answer carries the partition's committed
// state or the error. Only the controller answers; others say
// NOT_CONTROLLER.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/cluster/controller"
)

func init() { registerInternal(kmsg.AlterPartition, 2, 3, (*Broker).handleAlterPartition) }

func (b *Broker) handleAlterPartition(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.AlterPartitionRequest)
	return reply{wait: func() kmsg.Response { return b.ctrl.alterPartition(ctx, req) }}
}

func (c *controllerShell) alterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	c.round.Lock()
	defer c.round.Unlock()
	st := c.b.node.State()
	if !c.activeNow(st, c.b.env.Clock.Now().UnixMilli()) {
		resp.ErrorCode = kerr.NotController.Code
		return resp
	}
	for _, rt := range req.Topics {
		t := kmsg.NewAlterPartitionResponseTopic()
		t.TopidID = rt.TopicID // sic: kmsg spells the response field so
		top, known := st.TopicByID(rt.TopicID)
		for _, rp := range rt.Partitions {
			pr := kmsg.NewAlterPartitionResponseTopicPartition()
			pr.Partition = rp.Partition
			if !known {
				pr.ErrorCode = kerr.UnknownTopicID.Code
				t.Partitions = append(t.Partitions, pr)
				continue
			}
			c.alterOne(ctx, req, top.Name, rp, &pr)
			t.Partitions = append(t.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// alterOne validates and commits one partition's ISR change into pr.
func (c *controllerShell) alterOne(ctx context.Context, req *kmsg.AlterPartitionRequest, topic string, rp kmsg.AlterPartitionRequestTopicPartition, pr *kmsg.AlterPartitionResponseTopicPartition) {
	ar := controller.AlterPartitionRequest{Broker: req.BrokerID, BrokerEpoch: req.BrokerEpoch, Topic: topic,
		Partition: rp.Partition, LeaderEpoch: rp.LeaderEpoch, PartitionEpoch: rp.PartitionEpoch}
	for _, m := range rp.NewEpochISR {
		ar.NewISR = append(ar.NewISR, controller.ISRMember{ID: m.BrokerID, Epoch: m.BrokerEpoch})
	}
	st := c.b.node.State()
	alter := controller.AlterPartition
	if controller.Leaving(ar) {
		alter = controller.LeaveISR // a replica with a corrupt copy (corrupt.go)
	}
	cmd, changed, err := alter(st, c.brokerInfos(st), ar)
	if err == nil && changed {
		err = c.b.node.Propose(ctx, cmd)
	}
	var cerr *controller.Error
	switch {
	case errors.As(err, &cerr):
		pr.ErrorCode = cerr.Code.Code
		return
	case errors.Is(err, cluster.ErrStaleEpoch):
		pr.ErrorCode = kerr.InvalidUpdateVersion.Code
		return
	case err != nil:
		pr.ErrorCode = kerr.NotController.Code
		return
	}
	t, _ := c.b.node.State().Topic(topic)
	p := t.Partitions[rp.Partition]
	pr.LeaderID, pr.LeaderEpoch, pr.ISR, pr.PartitionEpoch = p.Leader, p.LeaderEpoch, p.ISR, p.PartitionEpoch
}
