package core

import (
	"container/heap"

	"github.com/jocko/jocko/storage"
)

// Retention by percent of disk, the decision (pure; the shell that feeds
// it and deletes is disk_retention.go). log.retention.disk.percent is a
// budget for the whole file system holding the data directory: whatever
// fills it (other topics, the metadata log, other programs), the broker
// deletes its own oldest closed segments until the file system is back
// under the budget. retention.disk.percent caps one topic's bytes on this
// broker at a share of the same capacity, whatever the rest of the disk
// holds.
//
// Who gives up what, when the file system is over the budget: each topic
// in proportion to how far it is over its share (its retention.topic.bytes
// for the partitions it has here, else an equal part of the budget, and
// never more than its own cap); if none is over its share (the disk holds
// other things), in proportion to its size. Within a topic, and for what
// a topic cannot give, the oldest data goes first: the segment whose
// newest batch is oldest, among the first remaining segment of each
// partition, so that each partition loses a prefix of its log.

// diskTopic is what the plan knows of one topic on this broker.
type diskTopic struct {
	name  string
	bytes int64 // its partitions' bytes here, leaders' and followers' alike
	// capBytes is retention.disk.percent of the capacity (-1: none).
	capBytes int64
	// shareBytes is its retention.topic.bytes for the partitions it has
	// here (-1: none set; it then gets an equal part of the budget).
	shareBytes int64
	parts      []diskPart // the partitions it leads here, whose segments it may delete
}

// diskPart is one partition this broker leads: its closed segments below
// the high watermark, oldest first (the only ones retention may delete).
type diskPart struct {
	key  tp
	segs []storage.SegmentInfo
}

// diskCut is a decision: delete the partition's log before offset.
type diskCut struct {
	key    tp
	offset int64
	bytes  int64 // what the cut frees (the segments' .log bytes)
}

// planDiskRetention decides what to delete. used and total are the file
// system's bytes in use and capacity; budgetPercent is
// log.retention.disk.percent (<= 0: off, only topic caps apply). It
// returns the cuts, at most one per partition, in topic order.
func planDiskRetention(used, total int64, budgetPercent float64, topics []diskTopic) []diskCut {
	if total <= 0 || len(topics) == 0 {
		return nil
	}
	p := newDiskPicker(topics)
	gone := make([]int64, len(topics)) // bytes each topic gave up for its own cap
	var capFreed int64
	for i, t := range topics {
		if t.capBytes >= 0 && t.bytes > t.capBytes {
			gone[i] = p.take(i, t.bytes-t.capBytes)
			capFreed += gone[i]
		}
	}
	if budgetPercent <= 0 {
		return p.cuts()
	}
	budget := int64(float64(total) * budgetPercent / 100)
	excess := used - capFreed - budget // what the file system must still give up
	if excess <= 0 {
		return p.cuts()
	}
	// What the topics cannot give of their parts is taken from the oldest
	// segments anywhere.
	var freed int64
	for i, part := range spreadExcess(topics, gone, budget, excess) {
		freed += p.take(i, part)
	}
	if freed < excess {
		p.take(-1, excess-freed)
	}
	return p.cuts()
}

// spreadExcess returns each topic's part of excess: in proportion to how
// far it is over its share, or to its size if none is. gone is what each
// has given up already.
func spreadExcess(topics []diskTopic, gone []int64, budget, excess int64) []int64 {
	equal := budget / int64(len(topics))
	weight := make([]int64, len(topics))
	part := make([]int64, len(topics))
	var sum int64
	for i, t := range topics {
		share := t.shareBytes
		if share < 0 {
			share = equal
		}
		if t.capBytes >= 0 {
			share = min(share, t.capBytes)
		}
		weight[i] = max(0, t.bytes-gone[i]-share)
		sum += weight[i]
	}
	if sum == 0 {
		for i, t := range topics {
			weight[i] = max(0, t.bytes-gone[i])
			sum += weight[i]
		}
	}
	if sum == 0 {
		return part // nothing here to weigh: the oldest anywhere goes
	}
	for i := range topics {
		// Rounded up, so that the parts cover the excess.
		part[i] = int64((float64(excess)*float64(weight[i]) + float64(sum) - 1) / float64(sum))
	}
	return part
}

// diskPicker hands out the partitions' segments oldest first.
type diskPicker struct {
	topics []diskTopic
	next   map[tp]int // segments taken per partition
	freed  map[tp]int64
}

func newDiskPicker(topics []diskTopic) *diskPicker {
	return &diskPicker{topics: topics, next: map[tp]int{}, freed: map[tp]int64{}}
}

// take deletes the oldest segments of topic i (-1: of every topic) until
// want bytes are freed or none is left, and returns what it freed.
func (p *diskPicker) take(i int, want int64) int64 {
	if want <= 0 {
		return 0
	}
	h := &segHeap{}
	for j, t := range p.topics {
		if i >= 0 && j != i {
			continue
		}
		for _, part := range t.parts {
			if n := p.next[part.key]; n < len(part.segs) {
				*h = append(*h, segHead{part: part, n: n})
			}
		}
	}
	heap.Init(h)
	var freed int64
	for freed < want && h.Len() > 0 {
		head := (*h)[0]
		s := head.part.segs[head.n]
		freed += s.Bytes
		p.next[head.part.key] = head.n + 1
		p.freed[head.part.key] += s.Bytes
		if head.n+1 < len(head.part.segs) {
			(*h)[0].n++
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return freed
}

// cuts lists the decisions, in topic and partition order.
func (p *diskPicker) cuts() []diskCut {
	var out []diskCut
	for _, t := range p.topics {
		for _, part := range t.parts {
			if n := p.next[part.key]; n > 0 {
				out = append(out, diskCut{key: part.key, offset: part.segs[n-1].Next, bytes: p.freed[part.key]})
			}
		}
	}
	return out
}

// segHead is a partition's oldest segment not yet taken.
type segHead struct {
	part diskPart
	n    int
}

// segHeap orders partitions by their next segment's age: its newest
// timestamp, then topic and partition (a deterministic order for ties).
type segHeap []segHead

func (h segHeap) Len() int { return len(h) }
func (h segHeap) Less(i, j int) bool {
	a, b := h[i].part.segs[h[i].n], h[j].part.segs[h[j].n]
	if a.MaxTimestamp != b.MaxTimestamp {
		return a.MaxTimestamp < b.MaxTimestamp
	}
	if h[i].part.key.topic != h[j].part.key.topic {
		return h[i].part.key.topic < h[j].part.key.topic
	}
	return h[i].part.key.part < h[j].part.key.part
}
func (h segHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *segHeap) Push(x any)   { *h = append(*h, x.(segHead)) }
func (h *segHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
