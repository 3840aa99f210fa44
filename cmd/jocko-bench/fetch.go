package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchRaw reads every partition of topic from the start with franz-go's
// protocol layer (kmsg Fetch requests through a kgo client) without decoding
// records: what the broker serves, apart from the consumer library's
// per-record work, which bounds "consume" on a 2-core machine for any broker.
func fetchRaw(ctx context.Context, cfg config, addr, topic string, parts int) (result, error) {
	r := result{Test: "fetch", Partitions: parts}
	cl, err := newClient(addr)
	if err != nil {
		return r, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return r, err
	}
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return r, err
	}
	id := topics[topic].ID // Fetch v13+ names topics by ID
	next := make([]int64, parts)
	end := make([]int64, parts)
	ends.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	var records int64
	start := time.Now()
	for records < int64(cfg.records) {
		req := fetchRequest(topic, id, next, end)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return r, err
		}
		n, err := advance(resp, next)
		if err != nil {
			return r, err
		}
		if n == 0 && time.Since(start) > stallTimeout {
			return r, fmt.Errorf("stalled at %d of %d records", records, cfg.records)
		}
		records += n
	}
	// MB counts record values, as the other tests do.
	fill(&r, records, records*int64(cfg.valueLen), time.Since(start))
	return r, nil
}

func fetchRequest(topic string, id [16]byte, next, end []int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 500, 1, 64<<20
	req.SessionEpoch = -1
	t := kmsg.NewFetchRequestTopic()
	t.Topic, t.TopicID = topic, id
	for p := range next {
		if next[p] >= end[p] {
			continue
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = int32(p), next[p], 16<<20
		rp.CurrentLeaderEpoch = -1
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = []kmsg.FetchRequestTopic{t}
	return req
}

// advance walks the batch headers of a response, moving next past them, and
// returns how many records it held.
func advance(resp *kmsg.FetchResponse, next []int64) (records int64, err error) {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return 0, fmt.Errorf("fetch partition %d: error %d", p.Partition, p.ErrorCode)
			}
			b := p.RecordBatches
			for len(b) >= wire.BatchHeaderLen {
				h, err := wire.ParseBatchHeader(b)
				if err != nil || h.Size() > len(b) {
					break // a partial batch at the end of the response
				}
				if h.LastOffset() >= next[p.Partition] {
					records += int64(h.NumRecords)
					next[p.Partition] = h.NextOffset()
				}
				b = b[h.Size():]
			}
		}
	}
	return records, nil
}
