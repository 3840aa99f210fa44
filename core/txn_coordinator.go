package core

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/jocko/jocko/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnCoordinator is the transaction coordinator: one txnShard per
// __transaction_state partition whose leader is this broker (shardSet
// says how they follow the leadership), as the group coordinator's
// shards follow __consumer_offsets.
type txnCoordinator struct {
	shardSet[*txnShard]
}

func newTxnCoordinator(b *Broker) txnCoordinator {
	return txnCoordinator{newShardSet(b, transactionStateTopic, func(part int32, p *partition, after <-chan struct{}) *txnShard {
		return newTxnShard(b, part, p, after)
	})}
}

// shardFor returns the shard coordinating transactionalID, or
// NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS.
func (c *txnCoordinator) shardFor(transactionalID string) (*txnShard, error) {
	return c.shardOf(transactionalID, txn.Partition)
}

// txnConfig is the coordinator's configuration from the broker settings.
func (b *Broker) txnConfig() txn.Config {
	st := b.node.State()
	cfg := txn.DefaultConfig()
	cfg.TimeoutMaxMs = int32(b.brokerInt(st, "transaction.max.timeout.ms"))
	cfg.IDExpirationMs = b.brokerInt(st, "transactional.id.expiration.ms")
	cfg.TransactionVersion = finalizedLevel(st, transactionVersionFeature)
	return cfg
}

// ensureTxnTopic creates __transaction_state on first use, with
// transaction.state.log.num.partitions partitions, replication capped at
// the live brokers (the controller raises it as more join) and
// compaction.
func (b *Broker) ensureTxnTopic(ctx context.Context) error {
	st := b.node.State()
	if _, ok := st.Topic(transactionStateTopic); ok {
		return nil
	}
	rf := max(1, min(b.brokerInt(st, "transaction.state.log.replication.factor"), int64(liveBrokers(st))))
	err := b.createTopic(ctx, topicSpec{
		name:        transactionStateTopic,
		partitions:  int32(b.brokerInt(st, "transaction.state.log.num.partitions")),
		replication: int16(rf),
		configs: map[string]string{"cleanup.policy": "compact",
			"segment.bytes":                  strconv.FormatInt(b.brokerInt(st, "transaction.state.log.segment.bytes"), 10),
			"unclean.leader.election.enable": "false"},
		internal: true,
	}, false)
	if code, _ := errorCode(err); code == kerr.TopicAlreadyExists.Code {
		return nil
	}
	return err
}

// verify answers txnVerify: at the local shard when this broker
// coordinates transactionalID, else with AddPartitionsToTxn v4 (v5 to
// add) sent to the coordinator.
func (c *txnCoordinator) verify(ctx context.Context, transactionalID string, pid int64, epoch int16, topic string, part int32, add bool) error {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 4
	if add {
		req.Version = 5
	}
	rt := kmsg.NewAddPartitionsToTxnRequestTransaction()
	rt.TransactionalID, rt.ProducerID, rt.ProducerEpoch, rt.VerifyOnly = transactionalID, pid, epoch, !add
	tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	tt.Topic, tt.Partitions = topic, []int32{part}
	rt.Topics = append(rt.Topics, tt)
	req.Transactions = append(req.Transactions, rt)

	var resp *kmsg.AddPartitionsToTxnResponse
	if s, err := c.shardFor(transactionalID); err == nil {
		m, err := s.callSync(ctx, req, func(co *txn.Coordinator, now int64, h txn.Handle) txn.Output {
			return co.AddPartitions(now, h, req, c.b.txnPartitionErr)
		})
		if err != nil {
			return kerr.ErrorForCode(coordinatorCode(err))
		}
		resp = m.(*kmsg.AddPartitionsToTxnResponse)
	} else if errors.Is(err, errCoordinatorLoading) {
		return kerr.CoordinatorLoadInProgress
	} else {
		leader, ok := c.leaderOf(transactionalID)
		if !ok {
			return kerr.NotCoordinator
		}
		m, err := c.b.peerRequest(ctx, leader, req)
		if err != nil {
			return kerr.NotCoordinator
		}
		resp = m.(*kmsg.AddPartitionsToTxnResponse)
	}
	if resp.ErrorCode != 0 {
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	for _, t := range resp.Transactions {
		for _, tt := range t.Topics {
			for _, tp := range tt.Partitions {
				if tp.ErrorCode != 0 {
					return kerr.ErrorForCode(tp.ErrorCode)
				}
			}
		}
	}
	return nil
}

// leaderOf is the broker leading transactionalID's __transaction_state
// partition.
func (c *txnCoordinator) leaderOf(transactionalID string) (int32, bool) {
	t, ok := c.b.node.State().Topic(transactionStateTopic)
	if !ok || len(t.Partitions) == 0 {
		return 0, false
	}
	l := t.Partitions[txn.Partition(transactionalID, int32(len(t.Partitions)))].Leader
	return l, l >= 0
}

// txnPartitionErr is the Coordinator's check of a partition added to a
// transaction: it must exist.
func (b *Broker) txnPartitionErr(topic string, part int32) error {
	t, ok := b.node.State().Topic(topic)
	if !ok || part < 0 || int(part) >= len(t.Partitions) {
		return kerr.UnknownTopicOrPartition
	}
	return nil
}

// writeMarkers writes one round of a transaction's markers to partitions:
// those led here directly, the others with one WriteTxnMarkers per
// leader, all at once. It returns the partitions done (the marker is
// committed, or the partition is gone, as Kafka gives those up) and the
// ones to try again.
func (c *txnCoordinator) writeMarkers(ctx context.Context, m txn.Markers, tps []txn.TopicPartition) (done, rest []txn.TopicPartition) {
	st := c.b.node.State()
	byLeader := map[int32][]txn.TopicPartition{}
	var mu sync.Mutex // guards done and rest while the writes run
	result := func(tp txn.TopicPartition, code int16) {
		mu.Lock()
		defer mu.Unlock()
		switch code {
		case 0, kerr.UnknownTopicOrPartition.Code, kerr.InvalidProducerEpoch.Code:
			// INVALID_PRODUCER_EPOCH: a newer epoch already wrote its
			// marker there, which ended this transaction on the partition.
			if code != 0 {
				c.b.log.Warn("transaction marker not written", "transactional_id", m.TransactionalID,
					"topic", tp.Topic, "partition", tp.Partition, "err", kerr.ErrorForCode(code))
			}
			done = append(done, tp)
		default:
			rest = append(rest, tp)
		}
	}
	for _, tp := range tps {
		t, ok := st.Topic(tp.Topic)
		if !ok || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
			result(tp, kerr.UnknownTopicOrPartition.Code)
			continue
		}
		leader := t.Partitions[tp.Partition].Leader
		byLeader[leader] = append(byLeader[leader], tp)
	}
	var wg sync.WaitGroup
	for leader, tps := range byLeader {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if leader == c.b.cfg.NodeID {
				for _, tp := range tps {
					result(tp, c.b.writeMarker(ctx, tp.Topic, tp.Partition, m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Commit))
				}
				return
			}
			if leader < 0 {
				for _, tp := range tps {
					result(tp, kerr.LeaderNotAvailable.Code)
				}
				return
			}
			c.sendMarkers(ctx, leader, m, tps, result)
		}()
	}
	wg.Wait()
	return done, rest
}

// sendMarkers sends WriteTxnMarkers for tps to the broker leader.
func (c *txnCoordinator) sendMarkers(ctx context.Context, leader int32, m txn.Markers, tps []txn.TopicPartition, result func(txn.TopicPartition, int16)) {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = 1
	rm := kmsg.NewWriteTxnMarkersRequestMarker()
	rm.ProducerID, rm.ProducerEpoch, rm.Committed, rm.CoordinatorEpoch = m.ProducerID, m.ProducerEpoch, m.Commit, m.CoordinatorEpoch
	for _, tp := range tps {
		n := len(rm.Topics)
		if n == 0 || rm.Topics[n-1].Topic != tp.Topic {
			rm.Topics = append(rm.Topics, kmsg.WriteTxnMarkersRequestMarkerTopic{Topic: tp.Topic})
			n++
		}
		rm.Topics[n-1].Partitions = append(rm.Topics[n-1].Partitions, tp.Partition)
	}
	req.Markers = append(req.Markers, rm)
	resp, err := c.b.peerRequest(ctx, leader, req)
	if err != nil {
		for _, tp := range tps {
			result(tp, kerr.NetworkException.Code)
		}
		return
	}
	answered := map[txn.TopicPartition]int16{}
	for _, rm := range resp.(*kmsg.WriteTxnMarkersResponse).Markers {
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				answered[txn.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = rp.ErrorCode
			}
		}
	}
	for _, tp := range tps {
		code, ok := answered[tp]
		if !ok {
			code = kerr.UnknownServerError.Code
		}
		result(tp, code)
	}
}

// txnCoordinatorError builds req's response with every error field set to
// the code for err (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS).
func txnCoordinatorError(req kmsg.Request, err error) kmsg.Response {
	code := coordinatorCode(err)
	resp := req.ResponseKind()
	switch r := resp.(type) {
	case *kmsg.InitProducerIDResponse:
		r.ErrorCode, r.ProducerID, r.ProducerEpoch = code, -1, -1
	case *kmsg.EndTxnResponse:
		r.ErrorCode, r.ProducerID, r.ProducerEpoch = code, -1, -1
	case *kmsg.AddOffsetsToTxnResponse:
		r.ErrorCode = code
	case *kmsg.AddPartitionsToTxnResponse:
		q := req.(*kmsg.AddPartitionsToTxnRequest)
		if q.Version >= 4 {
			r.ErrorCode = code
			break
		}
		for _, t := range q.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			r.Topics = append(r.Topics, rt)
		}
	}
	return resp
}
