package core

// WriteTxnMarkers: v0-2
//
// Behavior: the transaction coordinator sends it to the leaders of a
// transaction's partitions once the transaction's PrepareCommit or
// PrepareAbort is durable (and Kafka's Admin.abortTransaction sends it for
// a hanging transaction). Each partition led here gets a COMMIT or ABORT
// control batch for the producer, stamped with the coordinator epoch, and
// is answered once the marker is committed (the high watermark passes it,
// as for acks=all). A marker from an older producer epoch is
// INVALID_PRODUCER_EPOCH, from an older coordinator
// TRANSACTION_COORDINATOR_FENCED; a partition not led here
// NOT_LEADER_OR_FOLLOWER, an unknown one UNKNOWN_TOPIC_OR_PARTITION. A
// marker on a __consumer_offsets partition also completes the producer's
// transactional offset commits in the group coordinator. v2's
// TransactionVersion is accepted and not needed: the marker is the same.

import (
	"context"
	"errors"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.WriteTxnMarkers, 0, 2, (*Broker).handleWriteTxnMarkers) }

func (b *Broker) handleWriteTxnMarkers(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.WriteTxnMarkersRequest)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	type job struct {
		code *int16
		m    kmsg.WriteTxnMarkersRequestMarker
		tp   string
		part int32
	}
	var jobs []job
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		rm.Topics = make([]kmsg.WriteTxnMarkersResponseMarkerTopic, 0, len(m.Topics))
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			rt.Partitions = make([]kmsg.WriteTxnMarkersResponseMarkerTopicPartition, len(t.Partitions))
			rm.Topics = append(rm.Topics, rt)
			for i, part := range t.Partitions {
				rt.Partitions[i].Partition = part
				jobs = append(jobs, job{code: &rt.Partitions[i].ErrorCode, m: m, tp: t.Topic, part: part})
			}
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return reply{wait: func() kmsg.Response {
		// Every partition at once: each waits for its own replication.
		var wg sync.WaitGroup
		for _, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				*j.code = b.writeMarker(ctx, j.tp, j.part, j.m.ProducerID, j.m.ProducerEpoch, j.m.CoordinatorEpoch, j.m.Committed)
			}()
		}
		wg.Wait()
		return resp
	}}
}

// writeMarker writes one transaction marker to a partition this broker
// leads and waits until it is committed; it returns the Kafka error code.
func (b *Broker) writeMarker(ctx context.Context, topic string, part int32, pid int64, epoch int16, coordEpoch int32, commit bool) int16 {
	t, ok := b.node.State().Topic(topic)
	if !ok || part < 0 || int(part) >= len(t.Partitions) {
		return kerr.UnknownTopicOrPartition.Code
	}
	p := b.partition(topic, part)
	if p == nil {
		return kerr.NotLeaderForPartition.Code
	}
	gen := p.leaderGen.Load()
	if !p.isLeader() {
		return kerr.NotLeaderForPartition.Code
	}
	end, err := p.appendMarker(pid, epoch, coordEpoch, commit)
	if err != nil {
		return markerErrorCode(err)
	}
	if topic == offsetsTopic {
		// The group coordinator's replies wait for the high watermark,
		// so completing the offsets now reveals nothing uncommitted.
		b.coord.txnCompleted(part, pid, commit)
	}
	ctx, cancel := b.env.Clock.WithTimeout(ctx, peerRequestTimeout)
	defer cancel()
	if err := p.waitHW(ctx, end, gen); err != nil {
		return markerErrorCode(err)
	}
	return 0
}

func markerErrorCode(err error) int16 {
	switch {
	case errors.Is(err, errCoordinatorFenced):
		return kerr.TransactionCoordinatorFenced.Code
	case errors.Is(err, errProducerFenced):
		return kerr.InvalidProducerEpoch.Code
	}
	return appendErrorCode(err)
}
