package check

import (
	"fmt"
	"sort"
)

// EOSHistory is what a consume-transform-produce pipeline (franz-go's
// GroupTransactSession) did: it copied each record of an input topic to
// the same partition of an output topic, committing its group's offsets
// inside the same transactions.
type EOSHistory struct {
	// Input is the input topic's final read, per partition, in offset order.
	Input map[int32][]Record
	// Output is the output topic's final read, read_committed.
	Output []TxnRead
	// Committed is the group's committed offset per input partition once
	// the pipeline stopped (absent: none).
	Committed map[int32]int64
}

// ExactlyOnce checks the pipeline's output:
//
//   - eos-duplicate: a value is in the output more than once;
//   - eos-missing: a record of the input below its partition's committed
//     offset is not in the output (the offset committed without the
//     output, or the output aborted with the offset kept);
//   - eos-phantom: an output value is not in the input, or is in another
//     partition than its input record;
//   - eos-beyond: an output value lies at or past its partition's
//     committed offset (output committed without its offset);
//   - eos-no-progress: nothing was committed at all (the check would be
//     vacuous).
func ExactlyOnce(h EOSHistory) []Violation {
	var out []Violation
	type at struct {
		p   int32
		off int64
	}
	where := map[int64]at{}
	for p, recs := range h.Input {
		for _, r := range recs {
			where[r.Value] = at{p, r.Offset}
		}
	}
	count := map[int64]int{}
	for _, rd := range h.Output {
		for _, r := range rd.Records {
			count[r.Value]++
			in, ok := where[r.Value]
			switch {
			case !ok || in.p != rd.Partition:
				out = append(out, Violation{Kind: "eos-phantom", Partition: rd.Partition,
					Detail: fmt.Sprintf("output value %d at offset %d is not in input partition %d", r.Value, r.Offset, rd.Partition)})
			case in.off >= h.Committed[in.p]:
				out = append(out, Violation{Kind: "eos-beyond", Partition: in.p,
					Detail: fmt.Sprintf("output value %d (input offset %d) is at or past the committed offset %d", r.Value, in.off, h.Committed[in.p])})
			}
		}
	}
	var dups []int64
	for v, n := range count {
		if n > 1 {
			dups = append(dups, v)
		}
	}
	sort.Slice(dups, func(a, b int) bool { return dups[a] < dups[b] })
	for _, v := range dups {
		out = append(out, Violation{Kind: "eos-duplicate", Partition: where[v].p, Detail: fmt.Sprintf("value %d is in the output %d times", v, count[v])})
	}
	parts := make([]int32, 0, len(h.Input))
	for p := range h.Input {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(a, b int) bool { return parts[a] < parts[b] })
	progress := false
	for _, p := range parts {
		c := h.Committed[p]
		progress = progress || c > 0
		var missing []int64
		for _, r := range h.Input[p] {
			if r.Offset < c && count[r.Value] == 0 {
				missing = append(missing, r.Value)
			}
		}
		if len(missing) > 0 {
			out = append(out, Violation{Kind: "eos-missing", Partition: p,
				Detail: fmt.Sprintf("%d input records below the committed offset %d are not in the output, first %d", len(missing), c, missing[0])})
		}
	}
	if !progress {
		out = append(out, Violation{Kind: "eos-no-progress", Partition: -1, Detail: "the pipeline committed no offset"})
	}
	return out
}
