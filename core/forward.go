package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

// A metadata command reaches the controller from any broker inside Kafka's
// Envelope API (the one Kafka 4 forwards admin requests with): principal
// commandPrincipal, RequestData the encoded cluster.Command. The controller
// answers with a forwardResult in ResponseData, or NOT_CONTROLLER.
const commandPrincipal = "jocko:command"

// forwardResult is the controller's answer to a forwarded command.
type forwardResult struct {
	Index   uint64 `json:"index"`           // Raft index the command was applied at
	Error   string `json:"error,omitempty"` // cluster.ErrorName of the verdict
	Message string `json:"message,omitempty"`
}

// proposeRetryBackoff is how long propose waits before asking again when no
// controller is known or the one asked was no longer it.
const proposeRetryBackoff = 50 * time.Millisecond

func init() {
	registerInternal(kmsg.Envelope, 0, 0, (*Broker).handleEnvelope)
}

// commit makes cmd part of the metadata, wherever the controller is: on the
// controller it is proposed to Raft; elsewhere it is forwarded. It returns
// the state machine's verdict once this broker's own metadata has applied
// the command, so that the caller's answer sees it.
func (b *Broker) commit(ctx context.Context, cmd cluster.Command) error {
	data, err := cluster.EncodeCommand(cmd)
	if err != nil {
		return err
	}
	for {
		var index uint64
		index, err = b.node.ProposeEncoded(ctx, data)
		if errors.Is(err, cluster.ErrNotLeader) {
			index, err = b.forwardCommand(ctx, data)
		}
		if !errors.Is(err, cluster.ErrNotLeader) {
			if index > 0 {
				if werr := b.node.WaitApplied(ctx, index); werr != nil {
					return werr
				}
			}
			return err
		}
		if serr := b.sleep(ctx, proposeRetryBackoff); serr != nil {
			return fmt.Errorf("%w (last: %v)", serr, err)
		}
	}
}

// forwardCommand sends an encoded command to the controller.
func (b *Broker) forwardCommand(ctx context.Context, data []byte) (uint64, error) {
	leader, ok := b.node.LeaderID()
	if !ok || leader == b.cfg.NodeID {
		return 0, fmt.Errorf("%w: no controller known", cluster.ErrNotLeader)
	}
	req := kmsg.NewPtrEnvelopeRequest()
	req.RequestData, req.RequestPrincipal = data, []byte(commandPrincipal)
	resp, err := b.peerRequest(ctx, leader, req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("%w: forward to broker %d: %v", cluster.ErrNotLeader, leader, err)
	}
	er := resp.(*kmsg.EnvelopeResponse)
	if er.ErrorCode != 0 {
		return 0, fmt.Errorf("%w: broker %d: %v", cluster.ErrNotLeader, leader, kerr.ErrorForCode(er.ErrorCode))
	}
	var fr forwardResult
	if err := json.Unmarshal(er.ResponseData, &fr); err != nil {
		return 0, fmt.Errorf("forwarded command: bad answer from broker %d: %v", leader, err)
	}
	return fr.Index, cluster.ErrorFromName(fr.Error, fr.Message)
}

// handleEnvelope is the controller's side of forwarding. Kafka's Envelope
// carries forwarded client requests; Jocko uses it only between its own
// brokers, for commands (anything else is refused).
func (b *Broker) handleEnvelope(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.EnvelopeRequest)
	resp := req.ResponseKind().(*kmsg.EnvelopeResponse)
	switch string(req.RequestPrincipal) {
	case joinPrincipal:
		return reply{wait: func() kmsg.Response { return b.handleJoin(ctx, req) }}
	case pullPrincipal:
		return reply{wait: func() kmsg.Response { return b.handlePull(ctx, req) }}
	}
	if string(req.RequestPrincipal) != commandPrincipal {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return reply{resp: resp}
	}
	if !b.node.IsLeader() {
		resp.ErrorCode = kerr.NotController.Code
		return reply{resp: resp}
	}
	return reply{wait: func() kmsg.Response {
		index, err := b.node.ProposeEncoded(ctx, req.RequestData)
		if errors.Is(err, cluster.ErrNotLeader) || (err != nil && ctx.Err() != nil) {
			resp.ErrorCode = kerr.NotController.Code
			return resp
		}
		fr := forwardResult{Index: index, Error: cluster.ErrorName(err)}
		if err != nil {
			fr.Message = err.Error()
		}
		resp.ResponseData, _ = json.Marshal(fr)
		return resp
	}}
}

// sleep waits d on the broker's clock, or until ctx ends.
func (b *Broker) sleep(ctx context.Context, d time.Duration) error {
	t := b.env.Clock.Timer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
