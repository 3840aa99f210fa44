package runner

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/jocko/jocko/sim/check"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// observer issues raw ListOffsets and Fetch requests whose invocation and
// completion times bracket the broker's answer, for the linearizability
// checker (a consumer's buffered polls cannot be used for that).
func (w *workload) observer(ctx context.Context, proc int, seed uint64) {
	cl, err := w.client("o1")
	if err != nil {
		w.c.fail("client", err.Error())
		return
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(seed, 0x0b5e))
	var id [16]byte
	ends := map[int32]int64{}
	for ctx.Err() == nil {
		sleepCtx(ctx, w.sc.SendEvery+time.Duration(rng.Int64N(int64(2*w.sc.SendEvery))))
		p := int32(rng.IntN(int(w.sc.Partitions)))
		if rng.IntN(2) == 0 {
			if end, ok := w.listEnd(ctx, cl, proc, p); ok {
				ends[p] = end
			}
			continue
		}
		if id == ([16]byte{}) {
			id = topicID(ctx, cl)
			continue
		}
		from := int64(0)
		if ends[p] > 0 {
			from = rng.Int64N(ends[p] + 1)
		}
		w.fetchOnce(ctx, cl, proc, p, id, from)
	}
}

// listEnds lists every partition's end (its high watermark), retrying
// each until ctx ends; a partition not listed by then is missing.
func (w *workload) listEnds(ctx context.Context, cl *kgo.Client, proc int) map[int32]int64 {
	ends := map[int32]int64{}
	for p := int32(0); p < w.sc.Partitions && ctx.Err() == nil; {
		if end, ok := w.listEnd(ctx, cl, proc, p); ok {
			ends[p] = end
			p++
			continue
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	return ends
}

func (w *workload) listEnd(ctx context.Context, cl *kgo.Client, proc int, p int32) (int64, bool) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	call := now()
	resp, err := cl.Request(ctx, req)
	ret := now()
	if err != nil {
		return 0, false
	}
	r := resp.(*kmsg.ListOffsetsResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		return 0, false
	}
	end := r.Topics[0].Partitions[0].Offset
	w.rec.add(check.Op{Process: proc, Kind: check.ListOffsets, Result: check.OK, Partition: p,
		Offset: end, Call: call, Return: ret})
	return end, true
}

func (w *workload) fetchOnce(ctx context.Context, cl *kgo.Client, proc int, p int32, id [16]byte, from int64) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 1, 1<<20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, from, 1<<20
	rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	call := now()
	resp, err := cl.Request(ctx, req)
	ret := now()
	if err != nil {
		return
	}
	r := resp.(*kmsg.FetchResponse)
	if r.ErrorCode != 0 || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		return
	}
	raw := &r.Topics[0].Partitions[0]
	if raw.ErrorCode != 0 {
		return
	}
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Offset: from, Topic: topic, Partition: p,
		DisableCRCValidation: w.sc.SkipClientCRC},
		raw, kgo.DefaultDecompressor(), nil)
	if fp.Err != nil && fp.Err != kerr.ErrorForCode(0) {
		return
	}
	op := check.Op{Process: proc, Kind: check.Fetch, Result: check.OK, Partition: p, Offset: from,
		HW: raw.HighWatermark, Call: call, Return: ret}
	for _, rec := range fp.Records {
		op.Records = append(op.Records, check.Record{Offset: rec.Offset, Value: parseVal(rec.Value)})
	}
	w.rec.add(op)
}

// topicID looks the workload topic's UUID up (Fetch v13+ names topics by ID).
func topicID(ctx context.Context, cl *kgo.Client) [16]byte {
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	name := topic
	mt.Topic = &name
	req.Topics = append(req.Topics, mt)
	resp, err := cl.Request(ctx, req)
	if err != nil {
		return [16]byte{}
	}
	for _, t := range resp.(*kmsg.MetadataResponse).Topics {
		if t.Topic != nil && *t.Topic == topic && t.ErrorCode == 0 {
			return t.TopicID
		}
	}
	return [16]byte{}
}
