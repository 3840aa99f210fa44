package check

import (
	"fmt"
	"sort"
)

// perPartition indexes what was read and acknowledged in one partition.
type perPartition struct {
	atOffset  map[int64]int64          // offset -> value, from reads and acks
	offsetsOf map[int64]map[int64]bool // value -> offsets it was read at
	read      map[int64]bool           // values read
	finalRead bool                     // a final read covered this partition
	maxRead   int64
	acked     []Op
	order     []int64 // sorted offsets seen in reads
}

func index(h History) map[int32]*perPartition {
	parts := map[int32]*perPartition{}
	get := func(p int32) *perPartition {
		if parts[p] == nil {
			parts[p] = &perPartition{atOffset: map[int64]int64{}, offsetsOf: map[int64]map[int64]bool{},
				read: map[int64]bool{}, maxRead: -1}
		}
		return parts[p]
	}
	for _, op := range h.Ops {
		pp := get(op.Partition)
		switch {
		case op.Kind == Send && op.Result == OK:
			pp.acked = append(pp.acked, op)
		case (op.Kind == Poll || op.Kind == Fetch) && op.Result == OK:
			pp.finalRead = pp.finalRead || op.Final
			for _, r := range op.Records {
				pp.read[r.Value] = true
				if pp.offsetsOf[r.Value] == nil {
					pp.offsetsOf[r.Value] = map[int64]bool{}
				}
				pp.offsetsOf[r.Value][r.Offset] = true
				pp.maxRead = max(pp.maxRead, r.Offset)
			}
		}
	}
	for _, pp := range parts {
		seen := map[int64]bool{}
		for _, offs := range pp.offsetsOf {
			for o := range offs {
				seen[o] = true
			}
		}
		for o := range seen {
			pp.order = append(pp.order, o)
		}
		sort.Slice(pp.order, func(i, j int) bool { return pp.order[i] < pp.order[j] })
	}
	return parts
}

// Queue runs Jepsen's Kafka queue checks.
func Queue(h History) []Violation {
	var out []Violation
	parts := index(h)
	for _, p := range sortedParts(parts) {
		pp := parts[p]
		out = append(out, inconsistent(h, p)...)
		out = append(out, duplicates(p, pp)...)
		out = append(out, lostAndUnseen(p, pp)...)
	}
	out = append(out, polls(h, parts)...)
	out = append(out, sends(h)...)
	return out
}

// inconsistent: two different values at one offset (reads and acks alike).
func inconsistent(h History, p int32) []Violation {
	var out []Violation
	at := map[int64]int64{}
	reported := map[[3]int64]bool{}
	note := func(off, val int64, what string) {
		if prev, ok := at[off]; ok && prev != val {
			if k := [3]int64{off, prev, val}; !reported[k] {
				reported[k] = true
				out = append(out, Violation{"inconsistent-offsets", p,
					fmt.Sprintf("offset %d holds %d and %d (seen by a %s)", off, prev, val, what)})
			}
			return
		}
		at[off] = val
	}
	for _, op := range h.Ops {
		if op.Partition != p || op.Result != OK {
			continue
		}
		if op.Kind == Send {
			note(op.Offset, op.Value, "acknowledged send")
		}
		if op.Kind == Poll || op.Kind == Fetch {
			for _, r := range op.Records {
				note(r.Offset, r.Value, op.Kind.String())
			}
		}
	}
	return out
}

// duplicates: one value read at more than one offset.
func duplicates(p int32, pp *perPartition) []Violation {
	var out []Violation
	for _, v := range sortedKeys(pp.offsetsOf) {
		if offs := pp.offsetsOf[v]; len(offs) > 1 && v != Unparseable { // corrupt-read's
			out = append(out, Violation{"duplicate", p, fmt.Sprintf("value %d at offsets %v", v, sortedSet(offs))})
		}
	}
	return out
}

// lostAndUnseen: acknowledged sends never read. Below the highest offset
// read they are lost; above it, after a final read, unseen.
func lostAndUnseen(p int32, pp *perPartition) []Violation {
	var out []Violation
	for _, op := range pp.acked {
		if pp.read[op.Value] {
			continue
		}
		switch {
		case op.Offset <= pp.maxRead:
			out = append(out, Violation{"lost-write", p, fmt.Sprintf(
				"value %d acknowledged at offset %d by process %d, never read; reads reached offset %d",
				op.Value, op.Offset, op.Process, pp.maxRead)})
		case pp.finalRead:
			out = append(out, Violation{"unseen", p, fmt.Sprintf(
				"value %d acknowledged at offset %d by process %d, absent from the final read (which ended at %d)",
				op.Value, op.Offset, op.Process, pp.maxRead)})
		}
	}
	return out
}

// polls: per consumer and partition, offsets must rise, and a poll must not
// skip offsets other reads saw between its predecessor and itself.
func polls(h History, parts map[int32]*perPartition) []Violation {
	var out []Violation
	type key struct {
		proc int
		p    int32
	}
	last := map[key]int64{}
	for _, op := range h.Ops {
		if op.Kind != Poll || op.Result != OK || len(op.Records) == 0 {
			continue
		}
		k := key{op.Process, op.Partition}
		prev, ok := last[k]
		if op.Reset {
			ok = false
		}
		pp := parts[op.Partition]
		for _, r := range op.Records {
			if ok && r.Offset <= prev {
				out = append(out, Violation{"nonmonotonic-poll", op.Partition,
					fmt.Sprintf("process %d read offset %d after %d", op.Process, r.Offset, prev)})
			} else if ok && position(pp.order, r.Offset) > position(pp.order, prev)+1 {
				out = append(out, Violation{"skipped-poll", op.Partition,
					fmt.Sprintf("process %d read offset %d after %d, skipping %d", op.Process, r.Offset, prev,
						pp.order[position(pp.order, prev)+1])})
			}
			prev, ok = r.Offset, true
		}
		last[k] = prev
	}
	return out
}

// sends: per producer and partition, acknowledged offsets rise in send order.
func sends(h History) []Violation {
	var out []Violation
	type key struct {
		proc int
		p    int32
	}
	var acked []Op
	for _, op := range h.Ops {
		if op.Kind == Send && op.Result == OK {
			acked = append(acked, op)
		}
	}
	sort.SliceStable(acked, func(i, j int) bool { return acked[i].Call < acked[j].Call })
	last := map[key]Op{}
	for _, op := range acked {
		k := key{op.Process, op.Partition}
		if prev, ok := last[k]; ok && op.Offset <= prev.Offset {
			out = append(out, Violation{"nonmonotonic-send", op.Partition, fmt.Sprintf(
				"process %d: value %d got offset %d after value %d got %d", op.Process, op.Value, op.Offset,
				prev.Value, prev.Offset)})
		}
		last[k] = op
	}
	return out
}

func position(order []int64, off int64) int {
	return sort.Search(len(order), func(i int) bool { return order[i] >= off })
}

func sortedParts(m map[int32]*perPartition) []int32 {
	out := make([]int32, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sortedKeys(m map[int64]map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sortedSet(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
