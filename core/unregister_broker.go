package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

// UnregisterBroker (KIP-631) removes a broker that is gone for good: what
// `jocko cluster remove-broker ID` sends. The controller refuses a broker
// that still heartbeats; otherwise it takes it out of the metadata Raft
// group (when it was a voter the controller promotes a replacement on its
// next tick) and removes its registration. Its partitions keep it among
// their replicas until they are reassigned.

func init() { register(kmsg.UnregisterBroker, 0, 0, (*Broker).handleUnregisterBroker) }

func (b *Broker) handleUnregisterBroker(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.UnregisterBrokerRequest)
	notController := func(msg string) kmsg.Response {
		resp := req.ResponseKind().(*kmsg.UnregisterBrokerResponse)
		resp.ErrorCode, resp.ErrorMessage = notControllerCode(msg)
		return resp
	}
	return b.controllerAdmin(ctx, r, func(ctx context.Context) kmsg.Response {
		resp := req.ResponseKind().(*kmsg.UnregisterBrokerResponse)
		if err := b.ctrl.unregister(ctx, req.BrokerID); err != nil {
			var kerrE *kerr.Error
			resp.ErrorCode = kerr.InvalidRequest.Code
			if errors.As(err, &kerrE) {
				resp.ErrorCode = kerrE.Code
			}
			msg := err.Error()
			resp.ErrorMessage = &msg
		}
		return resp
	}, notController)
}

// unregister removes broker id; the caller holds the round lock.
func (c *controllerShell) unregister(ctx context.Context, id int32) error {
	st := c.b.node.State()
	nowMs := c.b.env.Clock.Now().UnixMilli()
	if _, ok := st.Brokers[id]; !ok {
		return fmt.Errorf("%w: broker %d is not registered", kerr.BrokerIDNotRegistered, id)
	}
	if id == c.b.cfg.NodeID || c.alive(st, id, nowMs) {
		return fmt.Errorf("%w: broker %d is alive; stop it before removing it", kerr.InvalidRequest, id)
	}
	if !st.Brokers[id].Fenced {
		// Its session lapsed but the fencing is not committed yet.
		c.propose(ctx, cluster.FenceBroker{ID: id, Epoch: st.Brokers[id].Epoch, Fenced: true})
	}
	servers, err := c.b.node.Servers()
	if err != nil {
		return err
	}
	if _, ok := servers[id]; ok {
		if err := c.b.node.RemoveServer(ctx, id); err != nil {
			return fmt.Errorf("remove broker %d from the metadata group: %w", id, err)
		}
		c.b.log.Warn("removed broker from the metadata group by request", "broker", id)
	}
	if err := c.b.node.Propose(ctx, cluster.UnregisterBroker{ID: id}); err != nil {
		return err
	}
	c.b.log.Warn("unregistered broker by request", "broker", id)
	return nil
}
