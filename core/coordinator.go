package core

import (
	"context"
	"errors"
	"strconv"

	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// coordinator is the group coordinator: one shard per __consumer_offsets
// partition whose leader is this broker (shardSet says how they follow
// the leadership).
type coordinator struct {
	shardSet[*shard]
}

func newCoordinator(b *Broker) coordinator {
	return coordinator{newShardSet(b, offsetsTopic, func(part int32, p *partition, after <-chan struct{}) *shard {
		return newShard(b, part, p, after)
	})}
}

// shardFor returns the shard coordinating groupID, or an error to answer:
// NOT_COORDINATOR when another broker coordinates it (or the offsets topic
// does not exist yet), COORDINATOR_LOAD_IN_PROGRESS while its shard loads.
func (c *coordinator) shardFor(groupID string) (*shard, error) {
	return c.shardOf(groupID, group.Partition)
}

// txnCompleted tells the shard of __consumer_offsets partition part, if
// this broker has one, that a COMMIT (commit set) or ABORT marker of
// producerID was appended to the partition: the producer's pending
// transactional offsets are committed or dropped. WriteTxnMarkers calls it
// right after the append, before the marker is committed. Without a shard
// here the partition's next coordinator loads the marker from the log.
func (c *coordinator) txnCompleted(part int32, producerID int64, commit bool) {
	if s, ok := c.shard(part); ok {
		s.txnCompleted(producerID, commit)
	}
}

// ensureOffsetsTopic creates __consumer_offsets on first use, with
// offsets.topic.num.partitions partitions, replication capped at the live
// brokers (the controller raises it as more join), and compaction.
func (b *Broker) ensureOffsetsTopic(ctx context.Context) error {
	st := b.node.State()
	if _, ok := st.Topic(offsetsTopic); ok {
		return nil
	}
	rf := max(1, min(b.brokerInt(st, "offsets.topic.replication.factor"), int64(liveBrokers(st))))
	err := b.createTopic(ctx, topicSpec{
		name:        offsetsTopic,
		partitions:  int32(b.brokerInt(st, "offsets.topic.num.partitions")),
		replication: int16(rf),
		configs:     map[string]string{"cleanup.policy": "compact", "segment.bytes": strconv.FormatInt(b.brokerInt(st, "offsets.topic.segment.bytes"), 10)},
		internal:    true,
	}, false)
	if code, _ := errorCode(err); code == kerr.TopicAlreadyExists.Code {
		return nil
	}
	return err
}

// groupConfig is the group state machine's configuration from the broker
// settings.
func (b *Broker) groupConfig() group.Config {
	st := b.node.State()
	cfg := group.DefaultConfig()
	cfg.SessionTimeoutMinMs = int32(b.brokerInt(st, "group.min.session.timeout.ms"))
	cfg.SessionTimeoutMaxMs = int32(b.brokerInt(st, "group.max.session.timeout.ms"))
	cfg.InitialRebalanceDelayMs = int32(b.brokerInt(st, "group.initial.rebalance.delay.ms"))
	cfg.OffsetsRetentionMs = b.brokerInt(st, "offsets.retention.minutes") * 60 * 1000
	return cfg
}

// coordinatorCode maps a coordinator error to its Kafka code.
func coordinatorCode(err error) int16 {
	switch {
	case errors.Is(err, errCoordinatorLoading):
		return kerr.CoordinatorLoadInProgress.Code
	case errors.Is(err, errNotCoordinator):
		return kerr.NotCoordinator.Code
	default:
		return kerr.CoordinatorNotAvailable.Code
	}
}

// coordinatorError builds req's response with every error field set to the
// code for err, as Kafka answers a request its coordinator cannot serve.
func coordinatorError(req kmsg.Request, err error) kmsg.Response {
	code := coordinatorCode(err)
	resp := req.ResponseKind()
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		r.ErrorCode, r.Generation = code, -1
	case *kmsg.SyncGroupResponse:
		r.ErrorCode = code
		if code == kerr.CoordinatorLoadInProgress.Code {
			r.ErrorCode = kerr.RebalanceInProgress.Code
		}
	case *kmsg.HeartbeatResponse:
		if code != kerr.CoordinatorLoadInProgress.Code {
			r.ErrorCode = code
		}
	case *kmsg.LeaveGroupResponse:
		r.ErrorCode = code
	case *kmsg.OffsetDeleteResponse:
		r.ErrorCode = code
	case *kmsg.OffsetCommitResponse:
		return group.CommitResponse(req.(*kmsg.OffsetCommitRequest), func(string, kmsg.OffsetCommitRequestTopicPartition) int16 { return code })
	case *kmsg.TxnOffsetCommitResponse:
		return group.TxnCommitResponse(req.(*kmsg.TxnOffsetCommitRequest), func(string, kmsg.TxnOffsetCommitRequestTopicPartition) int16 { return code })
	case *kmsg.OffsetFetchResponse:
		q := req.(*kmsg.OffsetFetchRequest)
		r.ErrorCode = code
		for _, g := range group.OffsetFetchGroups(q) {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, code
			r.Groups = append(r.Groups, rg)
		}
	}
	return resp
}
