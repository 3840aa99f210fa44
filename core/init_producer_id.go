package core

// InitProducerId: v0-5
//
// Behavior: idempotent producers (no transactional ID) get a fresh producer
// ID with epoch 0, from a block of IDs this broker reserved through the
// metadata log, so IDs never repeat across restarts or brokers. A request
// that names its current ID and epoch (KIP-360, v3+) also gets a fresh ID,
// which restarts its sequences. A request with a transactional ID goes to
// the transaction coordinator (txn_handlers.go).

import (
	"context"
	"sync"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.InitProducerID, 0, 5, (*Broker).handleInitProducerID) }

func (b *Broker) handleInitProducerID(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		return b.initTransactionalProducer(ctx, req)
	}
	id, err := b.pids.next(ctx)
	if err != nil {
		resp.ErrorCode, _ = errorCode(err)
		return reply{resp: resp}
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return reply{resp: resp}
}

// producerIDBlockSize is how many producer IDs a broker reserves at once.
const producerIDBlockSize = 1000

// producerIDs hands out producer IDs from blocks reserved in the metadata log.
type producerIDs struct {
	b      *Broker
	mu     sync.Mutex
	lo, hi int64 // [lo, hi) is what is left of the current block
}

func (p *producerIDs) next(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lo >= p.hi {
		cmd := cluster.AllocateProducerIDs{BrokerID: p.b.cfg.NodeID, Count: producerIDBlockSize}
		if err := p.b.commit(ctx, cmd); err != nil {
			return 0, clusterErr(err)
		}
		blk := p.b.node.State().ProducerIDBlocks[p.b.cfg.NodeID]
		p.lo, p.hi = blk.Start, blk.Start+blk.Count
	}
	id := p.lo
	p.lo++
	return id, nil
}
