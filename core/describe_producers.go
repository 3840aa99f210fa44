package core

// DescribeProducers: v0
//
// Behavior: for each partition asked for, the producers in its producer
// table (KIP-664, what `kafka-transactions.sh describe-producers` shows to
// find hanging transactions): producer id and epoch, the last sequence (-1
// for no batch since its epoch began), the timestamp of its last batch or
// marker, the coordinator epoch of its last marker (-1 for none) and the
// first offset of its open transaction (-1 for none; storage's
// OpenTransactions). A producer with an open transaction in the log but no
// table entry is listed too, with -1 for what the table would say: a
// hanging transaction is what the API is for. Producers come sorted by id.
// As Kafka (Partition.activeProducerState), any replica answers from its
// own table, a follower too (clients send the request to the leader; an
// admin may name another broker); a partition this broker has no replica
// of is NOT_LEADER_OR_FOLLOWER if it exists and UNKNOWN_TOPIC_OR_PARTITION
// if not, and one whose log failed KAFKA_STORAGE_ERROR.

import (
	"cmp"
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/storage"
)

func init() { register(kmsg.DescribeProducers, 0, 0, (*Broker).handleDescribeProducers) }

func (b *Broker) handleDescribeProducers(_ context.Context, r *request) reply {
	req := r.msg.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	st := b.node.State()
	for _, rt := range req.Topics {
		t := kmsg.NewDescribeProducersResponseTopic()
		t.Topic = rt.Topic
		top, known := st.Topic(rt.Topic)
		for _, part := range rt.Partitions {
			pr := kmsg.NewDescribeProducersResponseTopicPartition()
			pr.Partition = part
			p := b.partition(rt.Topic, part)
			switch {
			case !known:
				pr.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case p == nil:
				pr.ErrorCode = noReplicaCode(top, part)
			case p.err() != nil:
				pr.ErrorCode = kerr.KafkaStorageError.Code
			default:
				pr.ActiveProducers = activeProducers(p.producerSummaries(), p.log.OpenTransactions())
			}
			t.Partitions = append(t.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return reply{resp: resp}
}

// activeProducers joins a partition's producer table with its open
// transactions, sorted by producer id.
func activeProducers(table []producerSummary, open []storage.OpenTxn) []kmsg.DescribeProducersResponseTopicPartitionActiveProducer {
	txnStart := make(map[int64]int64, len(open))
	for _, o := range open {
		txnStart[o.ProducerID] = o.FirstOffset
	}
	out := make([]kmsg.DescribeProducersResponseTopicPartitionActiveProducer, 0, len(table)+len(open))
	for _, s := range table {
		a := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
		a.ProducerID, a.ProducerEpoch = s.ProducerID, int32(s.Epoch)
		a.LastSequence, a.LastTimestamp, a.CoordinatorEpoch = s.LastSeq, s.LastTs, s.CoordinatorEpoch
		a.CurrentTxnStartOffset = -1
		if f, ok := txnStart[s.ProducerID]; ok {
			a.CurrentTxnStartOffset = f
			delete(txnStart, s.ProducerID)
		}
		out = append(out, a)
	}
	for _, o := range open {
		if _, left := txnStart[o.ProducerID]; !left {
			continue // listed with its table entry
		}
		a := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
		a.ProducerID, a.ProducerEpoch, a.LastSequence, a.LastTimestamp, a.CoordinatorEpoch = o.ProducerID, -1, -1, -1, -1
		a.CurrentTxnStartOffset = o.FirstOffset
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y kmsg.DescribeProducersResponseTopicPartitionActiveProducer) int {
		return cmp.Compare(x.ProducerID, y.ProducerID)
	})
	return out
}
