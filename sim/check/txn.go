package check

import (
	"fmt"
	"sort"
)

// Txn is one transaction of a transactional producer, as the client saw
// it end. Its values are unique in the run.
type Txn struct {
	Process int
	Values  []int64 // the values sent in it, produce acknowledged or not
	Commit  bool    // what the client asked for at the end
	// Result: OK when EndTransaction succeeded (committed if Commit, else
	// aborted), Info when the end is unknown (an error; the coordinator
	// may still have committed it, or abort it on its timeout). Fail is
	// not used.
	Result Result
}

// TxnRead is what a read_committed consumer got from one poll of one
// partition.
type TxnRead struct {
	Process   int
	Partition int32
	Final     bool // part of the final read, which reads every partition to its stable end
	Records   []Record
}

// TxnHistory is the transactional workload's history.
type TxnHistory struct {
	Txns  []Txn
	Reads []TxnRead
	// Hanging lists partitions whose last stable offset never reached
	// their high watermark after healing: a transaction left open.
	Hanging []string
}

// Transactions checks a transactional history (Jepsen's Kafka workload,
// KIP-98's guarantees for read_committed consumers):
//
//   - aborted-read (Jepsen's G1a): a record of a transaction whose abort
//     succeeded was read;
//   - txn-lost: a record of a transaction whose commit succeeded is not in
//     the final read;
//   - txn-partial: the final read has some but not all of a transaction's
//     records (atomic visibility across partitions);
//   - txn-duplicate: the final read has a value twice;
//   - txn-phantom: a record read was never sent;
//   - txn-hanging: a transaction stayed open after healing (the last
//     stable offset never reached the high watermark).
func Transactions(h TxnHistory) []Violation {
	var out []Violation
	owner := map[int64]int{} // value -> index of its transaction
	for i, t := range h.Txns {
		for _, v := range t.Values {
			owner[v] = i
		}
	}
	final := map[int64]int{} // value -> times in the final read
	for _, r := range h.Reads {
		for _, rec := range r.Records {
			i, ok := owner[rec.Value]
			if !ok {
				out = append(out, Violation{Kind: "txn-phantom", Partition: r.Partition,
					Detail: fmt.Sprintf("value %d at offset %d read by process %d was never sent", rec.Value, rec.Offset, r.Process)})
				continue
			}
			if t := h.Txns[i]; t.Result == OK && !t.Commit {
				out = append(out, Violation{Kind: "aborted-read", Partition: r.Partition,
					Detail: fmt.Sprintf("value %d at offset %d, of a transaction of process %d whose abort succeeded, read by process %d (final read: %v)",
						rec.Value, rec.Offset, t.Process, r.Process, r.Final)})
			}
			if r.Final {
				final[rec.Value]++
			}
		}
	}
	var dups []int64
	for v, n := range final {
		if n > 1 {
			dups = append(dups, v)
		}
	}
	sort.Slice(dups, func(a, b int) bool { return dups[a] < dups[b] })
	for _, v := range dups {
		out = append(out, Violation{Kind: "txn-duplicate", Partition: -1, Detail: fmt.Sprintf("value %d read %d times in the final read", v, final[v])})
	}
	for _, t := range h.Txns {
		seen := 0
		var missing []int64
		for _, v := range t.Values {
			if final[v] > 0 {
				seen++
			} else {
				missing = append(missing, v)
			}
		}
		switch {
		case t.Result == OK && t.Commit && seen < len(t.Values):
			out = append(out, Violation{Kind: "txn-lost", Partition: -1,
				Detail: fmt.Sprintf("a committed transaction of process %d: %d of its values %v missing from the final read: %v", t.Process, len(missing), t.Values, missing)})
		case seen > 0 && seen < len(t.Values):
			out = append(out, Violation{Kind: "txn-partial", Partition: -1,
				Detail: fmt.Sprintf("a transaction of process %d (commit %v, result %v): %d of its values %v visible, missing %v", t.Process, t.Commit, t.Result, seen, t.Values, missing)})
		}
	}
	for _, p := range h.Hanging {
		out = append(out, Violation{Kind: "txn-hanging", Partition: -1, Detail: p})
	}
	return out
}
