package check

import (
	"fmt"
	"math"
	"sort"

	"github.com/anishathalye/porcupine"
)

// The linearizability model of one partition. The state is the number of
// committed records n (the high watermark): an acknowledged send linearizes
// at offset n, ListOffsets(latest) sees n, a fetch from f returning k records
// needs f+k <= n and reports n as its high watermark. Which value sits at
// which offset is the queue checks' business (inconsistent offsets), so the
// state stays an integer and the search stays cheap.
//
// A send whose outcome is unknown is kept only if some read saw its value:
// then it must linearize exactly at the offset it was read at, before any
// return time (it stays pending forever). A send never read by the final
// read was not committed, so it is dropped.

type linIn struct {
	kind   Kind
	offset int64 // Send: offset it must take (-1: from the output); Fetch: from
	count  int64 // Fetch: records returned
}

type linOut struct {
	offset int64 // Send OK: offset assigned; ListOffsets: end
	hw     int64 // Fetch: high watermark
}

var partitionModel = porcupine.Model{
	Init: func() interface{} { return int64(0) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		n := state.(int64)
		in, out := input.(linIn), output.(linOut)
		switch in.kind {
		case Send:
			want := in.offset
			if want < 0 {
				want = out.offset
			}
			return want == n, n + 1
		case ListOffsets:
			return out.offset == n, n
		case Fetch:
			return in.offset+in.count <= n && out.hw == n, n
		}
		return false, n
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(linIn), output.(linOut)
		return fmt.Sprintf("%s in=%+v out=%+v", in.kind, in, out)
	},
}

// Linearizable checks each partition's send / ListOffsets / Fetch history
// with porcupine. Polls are not included: a consumer's buffered fetch has no
// meaningful invocation time.
//
// With sendsOnly (a cluster), only sends are checked: Kafka lets a deposed
// leader serve reads below its last high watermark for a moment, so reads
// are not linearizable there, while offsets handed to acknowledged sends
// still are.
func Linearizable(h History, sendsOnly bool) []Violation {
	var out []Violation
	parts := index(h)
	byPart := map[int32][]porcupine.Operation{}
	for _, op := range h.Ops {
		if sendsOnly && op.Kind != Send {
			continue
		}
		if o, ok := linOp(op, parts[op.Partition]); ok {
			byPart[op.Partition] = append(byPart[op.Partition], o)
		}
	}
	keys := make([]int32, 0, len(byPart))
	for p := range byPart {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, p := range keys {
		ops := byPart[p]
		res, info := porcupine.CheckOperationsVerbose(partitionModel, ops, 0)
		if res == porcupine.Illegal {
			out = append(out, Violation{"not-linearizable", p, describe(ops, info)})
		}
	}
	return out
}

func linOp(op Op, pp *perPartition) (porcupine.Operation, bool) {
	o := porcupine.Operation{ClientId: op.Process, Call: op.Call, Return: op.Return}
	switch {
	case op.Kind == Send && op.Result == OK:
		o.Input, o.Output = linIn{kind: Send, offset: -1}, linOut{offset: op.Offset}
	case op.Kind == Send:
		offs := pp.offsetsOf[op.Value]
		if len(offs) == 0 {
			return o, false
		}
		o.Input, o.Output, o.Return = linIn{kind: Send, offset: sortedSet(offs)[0]}, linOut{}, math.MaxInt64
	case op.Kind == ListOffsets && op.Result == OK:
		o.Input, o.Output = linIn{kind: ListOffsets}, linOut{offset: op.Offset}
	case op.Kind == Fetch && op.Result == OK:
		o.Input, o.Output = linIn{kind: Fetch, offset: op.Offset, count: int64(len(op.Records))}, linOut{hw: op.HW}
	default:
		return o, false
	}
	return o, true
}

func describe(ops []porcupine.Operation, info porcupine.LinearizationInfo) string {
	longest := 0
	for _, part := range info.PartialLinearizations() {
		for _, lin := range part {
			longest = max(longest, len(lin))
		}
	}
	return fmt.Sprintf("%d operations; the longest linearizable prefix holds %d", len(ops), longest)
}
