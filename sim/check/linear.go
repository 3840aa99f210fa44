package check

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
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
	part   int32 // the partition (porcupine's partition of the history)
}

type linOut struct {
	offset int64 // Send OK: offset assigned; ListOffsets: end
	hw     int64 // Fetch: high watermark
}

var partitionModel = porcupine.Model{
	// Partitions are independent logs: one history per partition.
	Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
		var keys []int32
		by := map[int32][]porcupine.Operation{}
		for _, o := range ops {
			p := o.Input.(linIn).part
			if _, ok := by[p]; !ok {
				keys = append(keys, p)
			}
			by[p] = append(by[p], o)
		}
		slices.Sort(keys)
		out := make([][]porcupine.Operation, len(keys))
		for i, p := range keys {
			out[i] = by[p]
		}
		return out
	},
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
		switch in.kind {
		case Send:
			if in.offset >= 0 {
				return fmt.Sprintf("p%d send (unknown outcome, read at %d)", in.part, in.offset)
			}
			return fmt.Sprintf("p%d send acknowledged at %d", in.part, out.offset)
		case ListOffsets:
			return fmt.Sprintf("p%d list-offsets = %d", in.part, out.offset)
		case Fetch:
			return fmt.Sprintf("p%d fetch from %d: %d records, hw %d", in.part, in.offset, in.count, out.hw)
		}
		return fmt.Sprintf("%s in=%+v out=%+v", in.kind, in, out)
	},
	DescribeState: func(state interface{}) string { return fmt.Sprintf("hw=%d", state.(int64)) },
}

// LinOp is one operation of porcupine's input, as plain data: what a
// failing run hands back so that the host can check the history again and
// draw it (Visualize), since the program under the simulator writes no files.
type LinOp struct {
	Client    int   `json:"c"`
	Partition int32 `json:"p"`
	Kind      Kind  `json:"k"`
	In        int64 `json:"i"`           // Send: offset it must take (-1: the acknowledged one); Fetch: from
	Count     int64 `json:"n,omitempty"` // Fetch: records returned
	Out       int64 `json:"o"`           // Send: offset acknowledged; ListOffsets: end; Fetch: high watermark
	Call      int64 `json:"t0"`
	Return    int64 `json:"t1"`
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
	vs, _ := LinearizableInput(h, sendsOnly)
	return vs
}

// LinearizableInput is Linearizable that also returns porcupine's input
// for the partitions found not linearizable (nil when all are), for
// Visualize.
func LinearizableInput(h History, sendsOnly bool) ([]Violation, []LinOp) {
	var out []Violation
	var failed []LinOp
	parts := index(h)
	byPart := map[int32][]LinOp{}
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
		ops := porcupineOps(byPart[p])
		res, info := porcupine.CheckOperationsVerbose(partitionModel, ops, 0)
		if res == porcupine.Illegal {
			out = append(out, Violation{"not-linearizable", p, describe(ops, info)})
			failed = append(failed, byPart[p]...)
		}
	}
	return out, failed
}

// Visualize checks ops (LinearizableInput's) again and writes porcupine's
// HTML visualisation of them to w: one history per partition, with the
// longest partial linearizations and where each one gets stuck. It returns
// porcupine's verdict.
func Visualize(ops []LinOp, w io.Writer) (porcupine.CheckResult, error) {
	res, info := porcupine.CheckOperationsVerbose(partitionModel, porcupineOps(ops), 0)
	return res, porcupine.Visualize(partitionModel, info, w)
}

// VisualizePath is Visualize into a new file at path.
func VisualizePath(ops []LinOp, path string) (porcupine.CheckResult, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	res, err := Visualize(ops, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return res, err
}

func porcupineOps(ops []LinOp) []porcupine.Operation {
	out := make([]porcupine.Operation, len(ops))
	for i, o := range ops {
		in := linIn{kind: o.Kind, part: o.Partition}
		var lo linOut
		switch o.Kind {
		case Send:
			in.offset, lo.offset = o.In, o.Out
		case ListOffsets:
			lo.offset = o.Out
		case Fetch:
			in.offset, in.count, lo.hw = o.In, o.Count, o.Out
		}
		out[i] = porcupine.Operation{ClientId: o.Client, Input: in, Output: lo, Call: o.Call, Return: o.Return}
	}
	return out
}

func linOp(op Op, pp *perPartition) (LinOp, bool) {
	o := LinOp{Client: op.Process, Partition: op.Partition, Kind: op.Kind, Call: op.Call, Return: op.Return}
	switch {
	case op.Kind == Send && op.Result == OK:
		o.In, o.Out = -1, op.Offset
	case op.Kind == Send:
		offs := pp.offsetsOf[op.Value]
		if len(offs) == 0 {
			return o, false
		}
		o.In, o.Return = sortedSet(offs)[0], math.MaxInt64
	case op.Kind == ListOffsets && op.Result == OK:
		o.Out = op.Offset
	case op.Kind == Fetch && op.Result == OK:
		o.In, o.Count, o.Out = op.Offset, int64(len(op.Records)), op.HW
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
