package core

// OffsetForLeaderEpoch: v2-4
//
// Behavior: for each partition this broker leads, the end offset of the
// requested leader epoch from the log's leader-epoch cache (KIP-101,
// KIP-279): the largest epoch at most the requested one, and the start of
// the next epoch (the log end for the latest). Followers truncate with it
// before fetching from a new leader; consumers detect log truncation with
// it (KIP-320). CurrentLeaderEpoch is checked as for Fetch:
// FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.OffsetForLeaderEpoch, 2, 4, (*Broker).handleOffsetForLeaderEpoch) }

func (b *Broker) handleOffsetForLeaderEpoch(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		t := kmsg.NewOffsetForLeaderEpochResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			pr := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			pr.Partition, pr.LeaderEpoch, pr.EndOffset = rp.Partition, -1, -1
			p := b.partition(rt.Topic, rp.Partition)
			switch {
			case p == nil:
				pr.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case p.err() != nil:
				pr.ErrorCode = kerr.KafkaStorageError.Code
			default:
				if pr.ErrorCode = p.checkLeaderEpoch(rp.CurrentLeaderEpoch); pr.ErrorCode == 0 {
					pr.LeaderEpoch, pr.EndOffset = p.log.EndOffsetForEpoch(rp.LeaderEpoch)
				}
			}
			t.Partitions = append(t.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return reply{resp: resp}
}
