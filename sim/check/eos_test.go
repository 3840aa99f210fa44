package check

import (
	"slices"
	"testing"
)

// TestExactlyOnce: each anomaly of a pipeline's output is reported under
// its kind; a clean copy passes.
func TestExactlyOnce(t *testing.T) {
	input := map[int32][]Record{0: {{0, 10}, {1, 11}, {2, 12}}, 1: {{0, 20}, {1, 21}}}
	out := func(p int32, vals ...int64) TxnRead {
		rd := TxnRead{Partition: p, Final: true}
		for i, v := range vals {
			rd.Records = append(rd.Records, Record{Offset: int64(i), Value: v})
		}
		return rd
	}
	cases := []struct {
		name      string
		output    []TxnRead
		committed map[int32]int64
		want      []string
	}{
		{"clean", []TxnRead{out(0, 10, 11), out(1, 20)}, map[int32]int64{0: 2, 1: 1}, nil},
		{"duplicate", []TxnRead{out(0, 10, 11, 10), out(1, 20)}, map[int32]int64{0: 2, 1: 1}, []string{"eos-duplicate"}},
		{"missing", []TxnRead{out(0, 10), out(1, 20)}, map[int32]int64{0: 2, 1: 1}, []string{"eos-missing"}},
		{"beyond", []TxnRead{out(0, 10, 11, 12), out(1, 20)}, map[int32]int64{0: 2, 1: 1}, []string{"eos-beyond"}},
		{"phantom", []TxnRead{out(0, 10, 11, 20), out(1, 20)}, map[int32]int64{0: 2, 1: 1}, []string{"eos-duplicate", "eos-phantom"}},
		{"no progress", nil, map[int32]int64{}, []string{"eos-no-progress"}},
	}
	for _, c := range cases {
		var got []string
		for _, v := range ExactlyOnce(EOSHistory{Input: input, Output: c.output, Committed: c.committed}) {
			got = append(got, v.Kind)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
