package check

import (
	"fmt"
	"sort"
)

// Unparseable is the value of a read record whose value is not a
// non-negative decimal number, which is all the workload's producers write.
const Unparseable int64 = -1

// CorruptReads flags reads of records no producer wrote to that partition
// ("corrupt-read"): a value that is not a decimal number (Unparseable), or
// a number no send to the partition carried, whatever the send's outcome
// (one that timed out may still have been written). Values are unique in a
// run, so either way the bytes served are not the bytes produced: a broker
// served a corrupted batch (in scenarios with bit flips the clients do not
// check batch CRCs themselves, so that such a batch reaches this check). A
// produced value at an offset where another was acknowledged is
// inconsistent-offsets (Queue). Run it on the whole history: a record
// deleted by retention was still produced.
func CorruptReads(h History) []Violation {
	sent := map[int32]map[int64]bool{}
	for _, op := range h.Ops {
		if op.Kind == Send {
			if sent[op.Partition] == nil {
				sent[op.Partition] = map[int64]bool{}
			}
			sent[op.Partition][op.Value] = true
		}
	}
	type key struct {
		p        int32
		off, val int64
	}
	reported := map[key]bool{}
	var out []Violation
	for _, op := range h.Ops {
		if (op.Kind != Poll && op.Kind != Fetch) || op.Result != OK {
			continue
		}
		for _, r := range op.Records {
			k := key{op.Partition, r.Offset, r.Value}
			if (r.Value != Unparseable && sent[op.Partition][r.Value]) || reported[k] {
				continue
			}
			reported[k] = true
			what := fmt.Sprintf("value %d, which no send to the partition carried", r.Value)
			if r.Value == Unparseable {
				what = "a value that is not a decimal number"
			}
			out = append(out, Violation{"corrupt-read", op.Partition, fmt.Sprintf(
				"a %s of process %d read at offset %d %s", op.Kind, op.Process, r.Offset, what)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}
