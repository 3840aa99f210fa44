package core

// ListOffsets: v1-11
//
// Behavior: timestamp -1 (latest) answers the high watermark (also the last
// stable offset, as there are no transactions), -2 (earliest) and -4
// (earliest local, KIP-405) the log start offset, -3 (KIP-734) the record
// with the largest timestamp, -5 (earliest pending upload, no tiered
// storage here) -1. Any other timestamp answers the first offset whose
// record timestamp is at or after it, below the high watermark, or -1.

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
					pr.ErrorCode = listOffset(p, rp.Timestamp, &pr)
				}
			}
			t.Partitions = append(t.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return reply{resp: resp}
}

// listOffset fills pr for one partition and returns its error code.
func listOffset(p *partition, ts int64, pr *kmsg.ListOffsetsResponseTopicPartition) int16 {
	if p.err() != nil {
		return kerr.KafkaStorageError.Code
	}
	pr.LeaderEpoch = p.leaderEpoch.Load()
	hw := p.highWatermark()
	switch ts {
	case -1:
		pr.Offset = hw
	case -2, -4:
		pr.Offset = p.log.StartOffset()
	case -5:
	case -3:
		off, t, ok, err := p.log.MaxTimestamp()
		if err != nil {
			return kerr.KafkaStorageError.Code
		}
		if ok && off < hw {
			pr.Offset, pr.Timestamp = off, t
		}
	default:
		off, t, ok, err := p.log.OffsetForTime(ts)
		if err != nil {
			return kerr.KafkaStorageError.Code
		}
		if ok && off < hw {
			pr.Offset, pr.Timestamp = off, t
		}
	}
	return 0
}
