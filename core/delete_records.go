package core

// DeleteRecords: v0-2
//
// Behavior: moves each partition's log start offset up to the requested
// offset (-1: the high watermark), durably (storage.Log.DeleteBefore
// writes the start file and deletes the whole segments below it), and
// answers the new log start as the low watermark. Only the leader serves
// it (NOT_LEADER_OR_FOLLOWER elsewhere); an offset above the high
// watermark is OFFSET_OUT_OF_RANGE, as in Kafka's UnifiedLog; internal
// topics are INVALID_TOPIC_EXCEPTION and topics whose cleanup.policy lacks
// delete POLICY_VIOLATION, as in Kafka's ReplicaManager. An offset at or
// below the start changes nothing. Followers move their own start to the
// leader's LogStartOffset in Fetch responses (fetcher.go,
// followLeaderStart). Unlike Kafka, the answer does not wait for every
// follower to have moved its start: the low watermark is the leader's.

import (
	"context"
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/storage"
)

func init() { register(kmsg.DeleteRecords, 0, 2, (*Broker).handleDeleteRecords) }

func (b *Broker) handleDeleteRecords(_ context.Context, r *request) reply {
	req := r.msg.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	st := b.node.State()
	for _, rt := range req.Topics {
		t := kmsg.NewDeleteRecordsResponseTopic()
		t.Topic = rt.Topic
		top, known := st.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			pr := kmsg.NewDeleteRecordsResponseTopicPartition()
			pr.Partition, pr.LowWatermark = rp.Partition, -1
			switch {
			case !known:
				pr.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case isInternalTopic(top):
				pr.ErrorCode = kerr.InvalidTopicException.Code
			case !b.recordsDeletable(st, top):
				pr.ErrorCode = kerr.PolicyViolation.Code
			default:
				pr.LowWatermark, pr.ErrorCode = b.deleteRecords(top, rp.Partition, rp.Offset)
			}
			t.Partitions = append(t.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return reply{resp: resp}
}

// recordsDeletable reports whether t's cleanup.policy has delete: Kafka
// refuses DeleteRecords on a compacted-only topic.
func (b *Broker) recordsDeletable(st *cluster.State, t *cluster.Topic) bool {
	policy, _ := b.topicSetting(st, t, "cleanup.policy")
	return strings.Contains(","+strings.ReplaceAll(policy, " ", "")+",", ",delete,")
}

// deleteRecords moves one partition's log start to offset and returns the
// new log start and an error code.
func (b *Broker) deleteRecords(t *cluster.Topic, part int32, offset int64) (int64, int16) {
	p := b.partition(t.Name, part)
	if p == nil {
		return -1, noReplicaCode(t, part)
	}
	if !p.isLeader() {
		return -1, kerr.NotLeaderForPartition.Code
	}
	if p.err() != nil {
		return -1, kerr.KafkaStorageError.Code
	}
	hw := p.highWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return -1, kerr.OffsetOutOfRange.Code
	}
	if err := p.log.DeleteBefore(offset); err != nil {
		if errors.Is(err, storage.ErrOffsetOutOfRange) {
			return -1, kerr.OffsetOutOfRange.Code
		}
		if code, ok := partitionClosedCode(err); ok {
			return -1, code
		}
		p.fail(err)
		return -1, kerr.KafkaStorageError.Code
	}
	b.log.Info("records deleted", "topic", t.Name, "partition", part, "log_start", p.log.StartOffset())
	return p.log.StartOffset(), 0
}
