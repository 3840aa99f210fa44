// Package check holds the simulator's checkers: the anomalies of Jepsen's
// Kafka queue workload (lost, duplicated, inconsistent and unseen records,
// non-monotonic and skipping polls, non-monotonic sends) and porcupine
// linearizability of each partition's produce / ListOffsets / fetch history.
//
// A History is plain data, built by the workload while the run goes and
// checked at the end; each checker is a pure function of it.
package check

import "fmt"

// Kind is what a client did.
type Kind uint8

const (
	// Send is one produced record (acks=all). Value is unique in the run.
	Send Kind = iota + 1
	// Poll is what a consumer got from one poll for one partition.
	Poll
	// ListOffsets asked for a partition's latest offset (the high watermark).
	ListOffsets
	// Fetch is a raw fetch from Offset: its records and the high watermark.
	Fetch
)

func (k Kind) String() string {
	switch k {
	case Send:
		return "send"
	case Poll:
		return "poll"
	case ListOffsets:
		return "list-offsets"
	case Fetch:
		return "fetch"
	}
	return fmt.Sprintf("kind%d", k)
}

// Result is how an operation ended.
type Result uint8

const (
	// OK means the broker answered success.
	OK Result = iota + 1
	// Fail means it definitely did not happen.
	Fail
	// Info means it may or may not have happened (timeouts, crashes).
	Info
)

func (r Result) String() string {
	switch r {
	case OK:
		return "ok"
	case Fail:
		return "fail"
	case Info:
		return "info"
	}
	return fmt.Sprintf("result%d", r)
}

// Record is one record a read returned.
type Record struct {
	Offset int64
	Value  int64
}

// Op is one completed operation.
type Op struct {
	Process   int
	Kind      Kind
	Result    Result
	Partition int32
	Value     int64    // Send: the value produced
	Offset    int64    // Send OK: the offset assigned; ListOffsets: the end; Fetch: from
	HW        int64    // Fetch: the high watermark returned
	Records   []Record // Poll, Fetch
	Call      int64    // invocation time, ns
	Return    int64    // completion time, ns (ignored for Info)
	Final     bool     // part of the final full read after the quiet phase
	Reset     bool     // Poll: the consumer was (re)positioned before this poll
}

// History is everything the clients observed, in completion order.
type History struct {
	Ops []Op
}

// Add appends an operation.
func (h *History) Add(op Op) { h.Ops = append(h.Ops, op) }

// Violation is one anomaly found.
type Violation struct {
	Kind      string `json:"kind"`
	Partition int32  `json:"partition"`
	Detail    string `json:"detail"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s p%d: %s", v.Kind, v.Partition, v.Detail)
}

// All runs every checker.
func All(h History) []Violation {
	out := append(CorruptReads(h), Queue(h)...)
	return append(out, Linearizable(h, false)...)
}
