package core

// TxnOffsetCommit: v0-5
//
// Behavior: a transactional producer (franz-go's GroupTransactSession,
// Kafka Streams) commits a consumer group's offsets inside its
// transaction. Partitions of topics that do not exist answer
// UNKNOWN_TOPIC_OR_PARTITION and are not stored. Unless the producer's
// transaction already has a batch in the group's __consumer_offsets
// partition, the transaction coordinator first verifies that the partition
// is in the transaction (KIP-890; v5 adds it, as AddOffsetsToTxn would;
// CONCURRENT_TRANSACTIONS is retried for a moment, as for produce): its
// error answers every partition (as Kafka's coordinator maps it:
// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH, a coordinator that cannot be
// reached COORDINATOR_LOAD_IN_PROGRESS). The group then checks member and
// generation (v3+) as OffsetCommit does, without enforcing the group state,
// and the offsets are appended as one transactional batch of the producer,
// answered once committed; an epoch older than the partition knows for the
// producer is INVALID_PRODUCER_EPOCH. They stay invisible to
// OffsetFetch (UNSTABLE_OFFSET_COMMIT with RequireStable) until the
// producer's COMMIT marker reaches the partition (coordinator.txnCompleted);
// ABORT drops them. v0-1 get COORDINATOR_NOT_AVAILABLE for
// COORDINATOR_LOAD_IN_PROGRESS, which 0.11-2.0 producers do not retry
// (KAFKA-7296), as Kafka answers.

import (
	"context"
	"errors"
	"fmt"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/core/group"
	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.TxnOffsetCommit, 0, 5, (*Broker).handleTxnOffsetCommit) }

func (b *Broker) handleTxnOffsetCommit(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.TxnOffsetCommitRequest)
	s, err := b.coord.shardFor(req.Group)
	if err != nil {
		return reply{resp: oldTxnCommitCodes(coordinatorError(req, err).(*kmsg.TxnOffsetCommitResponse))}
	}
	known, unknown := splitTxnCommitTopics(b.node.State(), req)
	finish := func(resp *kmsg.TxnOffsetCommitResponse) *kmsg.TxnOffsetCommitResponse {
		resp.Topics = append(resp.Topics, unknown...)
		return oldTxnCommitCodes(resp)
	}
	if len(known.Topics) == 0 {
		return reply{resp: finish(req.ResponseKind().(*kmsg.TxnOffsetCommitResponse))}
	}
	// Outside the shard's lock: verification may ask another broker.
	if s.p.needsVerify(req.ProducerID, req.ProducerEpoch) {
		h := wire.BatchHeader{ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch}
		if err := b.verifyRetrying(ctx, req.TransactionalID, h, offsetsTopic, s.part, req.Version >= 5); err != nil {
			code := txnCommitVerifyCode(req.Version, err)
			return reply{resp: finish(group.TxnCommitResponse(known, func(string, kmsg.TxnOffsetCommitRequestTopicPartition) int16 { return code }))}
		}
		s.p.markVerified(req.ProducerID, req.ProducerEpoch)
	}
	rep := s.call(ctx, known, func(gs *group.Groups, now int64, h group.Handle) group.Output {
		// A fenced producer is refused before the groups take the
		// offsets: its batch would not append, and a failed append
		// reloads the groups.
		if _, err := s.p.txnOffsetSeq(known.ProducerID, known.ProducerEpoch); err != nil {
			code := kerr.InvalidProducerEpoch.Code
			return group.Output{Replies: []group.Reply{{To: h, Msg: group.TxnCommitResponse(known, func(string, kmsg.TxnOffsetCommitRequestTopicPartition) int16 { return code })}}}
		}
		return gs.TxnCommit(now, h, known)
	})
	return mapReply(rep, func(m kmsg.Response) kmsg.Response {
		return finish(m.(*kmsg.TxnOffsetCommitResponse))
	})
}

// splitTxnCommitTopics separates the partitions of existing topics
// (returned as a request) from the others (answered
// UNKNOWN_TOPIC_OR_PARTITION), as KafkaApis does.
func splitTxnCommitTopics(st *cluster.State, req *kmsg.TxnOffsetCommitRequest) (*kmsg.TxnOffsetCommitRequest, []kmsg.TxnOffsetCommitResponseTopic) {
	known := *req
	known.Topics = nil
	var unknown []kmsg.TxnOffsetCommitResponseTopic
	for _, t := range req.Topics {
		top, ok := st.Topic(t.Topic)
		keep := t
		keep.Partitions = nil
		bad := kmsg.NewTxnOffsetCommitResponseTopic()
		bad.Topic = t.Topic
		for _, p := range t.Partitions {
			if ok && p.Partition >= 0 && int(p.Partition) < len(top.Partitions) {
				keep.Partitions = append(keep.Partitions, p)
				continue
			}
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, kerr.UnknownTopicOrPartition.Code
			bad.Partitions = append(bad.Partitions, rp)
		}
		if len(keep.Partitions) > 0 {
			known.Topics = append(known.Topics, keep)
		}
		if len(bad.Partitions) > 0 {
			unknown = append(unknown, bad)
		}
	}
	return &known, unknown
}

// txnOffsetSeq is the base sequence of the group coordinator's next
// transactional batch of producer pid at epoch on p: the one after the
// producer's last at that epoch, 0 for a new producer or epoch. Kafka writes
// 0 and skips the sequence checks for the coordinator's appends; following
// on keeps them valid for this partition's producer table, whose epoch check
// still applies: an epoch older than it knows is errProducerFenced.
func (p *partition) txnOffsetSeq(pid int64, epoch int16) (int32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.producers.m[pid]
	switch {
	case e == nil || epoch > e.epoch:
		return 0, nil
	case epoch < e.epoch:
		return 0, fmt.Errorf("%w: producer %d epoch %d is older than %d", errProducerFenced, pid, epoch, e.epoch)
	}
	return nextSeq(e.lastSeq()), nil
}

// txnCommitVerifyCode maps a failed verification to the code a
// TxnOffsetCommit answers: Kafka's AddPartitionsToTxnManager and
// CoordinatorOperationExceptionHelper.handleOperationException.
func txnCommitVerifyCode(version int16, err error) int16 {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		// Kafka's NETWORK_EXCEPTION: retried without a coordinator lookup.
		return kerr.CoordinatorLoadInProgress.Code
	}
	switch ke {
	case kerr.ProducerFenced:
		return kerr.InvalidProducerEpoch.Code
	case kerr.TransactionAbortable:
		if version < 4 { // before the generic transaction errors (KIP-890)
			return kerr.InvalidTxnState.Code
		}
	case kerr.NetworkException:
		return kerr.CoordinatorLoadInProgress.Code
	case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.RequestTimedOut:
		return kerr.CoordinatorNotAvailable.Code
	case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
		return kerr.NotCoordinator.Code
	}
	return ke.Code
}

// oldTxnCommitCodes answers COORDINATOR_NOT_AVAILABLE instead of
// COORDINATOR_LOAD_IN_PROGRESS to v0-1, as KafkaApis does.
func oldTxnCommitCodes(resp *kmsg.TxnOffsetCommitResponse) *kmsg.TxnOffsetCommitResponse {
	if resp.Version >= 2 {
		return resp
	}
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if p := &resp.Topics[i].Partitions[j]; p.ErrorCode == kerr.CoordinatorLoadInProgress.Code {
				p.ErrorCode = kerr.CoordinatorNotAvailable.Code
			}
		}
	}
	return resp
}
