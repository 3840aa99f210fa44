package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceStats counts what `jocko produce` sent, per partition; the
// client's promises add to it concurrently.
type produceStats struct {
	noOffsets bool         // acks=0: the broker answers nothing, so offsets are unknown
	sent      atomic.Int64 // records settled (acknowledged or failed), for the progress bar

	mu      sync.Mutex
	records int64 // acknowledged
	bytes   int64 // keys, values and headers of the acknowledged records
	failed  int64
	parts   map[int32]*partitionSummary
}

// produceSummary is the summary `jocko produce` prints (--format json
// prints it as is).
type produceSummary struct {
	Topic      string             `json:"topic"`
	Records    int64              `json:"records"`
	Bytes      int64              `json:"bytes"`
	Failed     int64              `json:"failed"`
	Partitions []partitionSummary `json:"partitions"`
}

type partitionSummary struct {
	Partition int32 `json:"partition"`
	Records   int64 `json:"records"`
	Bytes     int64 `json:"bytes"`
	// FirstOffset and LastOffset are absent with acks=0.
	FirstOffset *int64 `json:"first_offset,omitempty"`
	LastOffset  *int64 `json:"last_offset,omitempty"`
}

func newProduceStats(noOffsets bool) *produceStats {
	return &produceStats{noOffsets: noOffsets, parts: map[int32]*partitionSummary{}}
}

// add counts one settled record and returns how many have failed so far.
func (s *produceStats) add(r *kgo.Record, err error) int64 {
	defer s.sent.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed++
		return s.failed
	}
	size := int64(len(r.Key) + len(r.Value))
	for _, h := range r.Headers {
		size += int64(len(h.Key) + len(h.Value))
	}
	s.records++
	s.bytes += size
	p := s.parts[r.Partition]
	if p == nil {
		p = &partitionSummary{Partition: r.Partition}
		if !s.noOffsets {
			first, last := r.Offset, r.Offset
			p.FirstOffset, p.LastOffset = &first, &last
		}
		s.parts[r.Partition] = p
	}
	p.Records++
	p.Bytes += size
	if p.FirstOffset != nil {
		*p.FirstOffset = min(*p.FirstOffset, r.Offset)
		*p.LastOffset = max(*p.LastOffset, r.Offset)
	}
	return s.failed
}

func (s *produceStats) failedAndTotal() (failed, total int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed, s.failed + s.records
}

func (s *produceStats) summary(topic string) produceSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := produceSummary{Topic: topic, Records: s.records, Bytes: s.bytes, Failed: s.failed, Partitions: []partitionSummary{}}
	for _, id := range slices.Sorted(maps.Keys(s.parts)) {
		sum.Partitions = append(sum.Partitions, *s.parts[id])
	}
	return sum
}

// print writes the summary: a table of partitions and a total line, or
// JSON.
func (s *produceStats) print(out io.Writer, topic, format string) error {
	sum := s.summary(topic)
	if format == formatJSON {
		return writeJSON(out, sum)
	}
	if len(sum.Partitions) > 0 {
		w := newTable(out)
		fmt.Fprintln(w, "PARTITION\tRECORDS\tBYTES\tOFFSETS")
		for _, p := range sum.Partitions {
			offsets := "-"
			if p.FirstOffset != nil {
				offsets = fmt.Sprintf("%d-%d", *p.FirstOffset, *p.LastOffset)
			}
			fmt.Fprintf(w, "%d\t%d\t%d\t%s\n", p.Partition, p.Records, p.Bytes, offsets)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(out, "produced %d records (%d bytes) to %s in %d partitions; %d failed\n",
		sum.Records, sum.Bytes, topic, len(sum.Partitions), sum.Failed)
	return err
}
