package check

import (
	"slices"
	"testing"
)

// TestTransactions: each anomaly of a transactional history is reported
// under its kind, and a clean history (a committed transaction whole, an
// aborted one unseen, an unknown one wholly visible or wholly not) passes.
func TestTransactions(t *testing.T) {
	txns := []Txn{
		{Process: 1, Values: []int64{1, 2}, Commit: true, Result: OK},   // committed
		{Process: 1, Values: []int64{3, 4}, Commit: false, Result: OK},  // aborted
		{Process: 2, Values: []int64{5, 6}, Commit: true, Result: Info}, // unknown
		{Process: 2, Values: []int64{7}, Commit: true, Result: Info},    // unknown
	}
	read := func(final bool, vals ...int64) TxnRead {
		r := TxnRead{Process: 9, Final: final}
		for i, v := range vals {
			r.Records = append(r.Records, Record{Offset: int64(i), Value: v})
		}
		return r
	}
	kinds := func(h TxnHistory) []string {
		var ks []string
		for _, v := range Transactions(h) {
			ks = append(ks, v.Kind)
		}
		slices.Sort(ks)
		return ks
	}
	cases := []struct {
		name  string
		reads []TxnRead
		hang  []string
		want  []string
	}{
		{"clean", []TxnRead{read(false, 1), read(true, 1, 2, 5, 6)}, nil, nil},
		{"aborted read during the run", []TxnRead{read(false, 3), read(true, 1, 2)}, nil, []string{"aborted-read"}},
		{"aborted read in the final read", []TxnRead{read(true, 1, 2, 4)}, nil, []string{"aborted-read", "txn-partial"}},
		{"committed lost", []TxnRead{read(true, 1)}, nil, []string{"txn-lost"}},
		{"unknown partial", []TxnRead{read(true, 1, 2, 6)}, nil, []string{"txn-partial"}},
		{"duplicate", []TxnRead{read(true, 1, 2, 2)}, nil, []string{"txn-duplicate"}},
		{"phantom", []TxnRead{read(true, 1, 2, 99)}, nil, []string{"txn-phantom"}},
		{"hanging", []TxnRead{read(true, 1, 2)}, []string{"txn p0: stable 3, high watermark 5"}, []string{"txn-hanging"}},
	}
	for _, c := range cases {
		got := kinds(TxnHistory{Txns: txns, Reads: c.reads, Hanging: c.hang})
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
