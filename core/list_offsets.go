package core

// ListOffsets: v1-11
//
// Behavior: timestamp -1 (latest) answers the high watermark, or for
// IsolationLevel 1 (read_committed, v2+) the last stable offset: the first
// offset of the earliest open transaction when one is open below the high
// watermark. -2 (earliest) and -4 (earliest local, KIP-405) answer the log
// start offset, -3 (KIP-734) the record with the largest timestamp, -5
// (earliest pending upload, no tiered storage here) -1. Any other
// timestamp answers the first offset whose record timestamp is at or after
// it, or -1. The answers of -3 and of timestamps lie below what the
// consumer may read, the high watermark or (read_committed) the last
// stable offset, as Kafka's Partition.fetchOffsetForTimestamp.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ListOffsets, 1, 11, (*Broker).handleListOffsets) }

func (b *Broker) handleListOffsets(_ context.Context, r *request) reply {
	req := r.msg.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	st := b.node.State()
	for _, rt := range req.Topics {
		t := kmsg.NewListOffsetsResponseTopic()
		t.Topic = rt.Topic
		_, known := st.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			pr := kmsg.NewListOffsetsResponseTopicPartition()
			pr.Partition = rp.Partition
			pr.Offset, pr.Timestamp, pr.LeaderEpoch = -1, -1, -1
			p := b.partition(rt.Topic, rp.Partition)
			switch {
			case !known || p == nil:
				pr.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				pr.ErrorCode = p.checkLeaderEpoch(rp.CurrentLeaderEpoch)
				if pr.ErrorCode == 0 {
					pr.ErrorCode = listOffset(p, rp.Timestamp, req.IsolationLevel == 1, &pr)
				}
			}
			t.Partitions = append(t.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return reply{resp: resp}
}

// listOffset fills pr for one partition and returns its error code;
// committed is read_committed.
func listOffset(p *partition, ts int64, committed bool, pr *kmsg.ListOffsetsResponseTopicPartition) int16 {
	if p.err() != nil {
		return kerr.KafkaStorageError.Code
	}
	pr.LeaderEpoch = p.leaderEpoch.Load()
	bound := p.highWatermark() // what the consumer may read is below it
	if committed {
		bound = p.log.LastStableOffset(bound)
	}
	switch ts {
	case -1:
		pr.Offset = bound
	case -2, -4:
		pr.Offset = p.log.StartOffset()
	case -5:
	case -3:
		off, t, ok, err := p.log.MaxTimestamp()
		if err != nil {
			return kerr.KafkaStorageError.Code
		}
		if ok && off < bound {
			pr.Offset, pr.Timestamp = off, t
		}
	default:
		off, t, ok, err := p.log.OffsetForTime(ts)
		if err != nil {
			return kerr.KafkaStorageError.Code
		}
		if ok && off < bound {
			pr.Offset, pr.Timestamp = off, t
		}
	}
	return 0
}
