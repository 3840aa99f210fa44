package check

import (
	"fmt"
	"sort"
)

// GroupKind is what happened to one consumer-group member.
type GroupKind uint8

const (
	// Assigned: the member's OnPartitionsAssigned ran at Generation with the
	// partitions newly added (franz-go calls it after every successful
	// SyncGroup, with nothing added too), so it marks the member's whole
	// ownership for that generation.
	Assigned GroupKind = iota + 1
	// Revoked: OnPartitionsRevoked gave up Partitions (after committing).
	Revoked
	// Lost: OnPartitionsLost dropped Partitions (session gone, fatal error).
	Lost
	// Committed: an OffsetCommit the broker acknowledged; Offsets holds the
	// partitions whose error code was 0 and the offset committed for each.
	Committed
	// Resumed: the first record the member consumed of Partition after it
	// was assigned, at Offset: where the committed offset put it.
	Resumed
	// Final: OffsetFetch of the group after every member stopped; Offsets
	// maps each partition to the committed offset (-1: none).
	Final
)

func (k GroupKind) String() string {
	switch k {
	case Assigned:
		return "assigned"
	case Revoked:
		return "revoked"
	case Lost:
		return "lost"
	case Committed:
		return "committed"
	case Resumed:
		return "resumed"
	case Final:
		return "final-offsets"
	}
	return fmt.Sprintf("group%d", k)
}

// GroupEvent is one thing a group member (or the final OffsetFetch) saw.
type GroupEvent struct {
	Member     int // the member's process; its polls are Poll ops of h
	Kind       GroupKind
	Generation int32
	Partitions []int32         // Assigned, Revoked, Lost
	Offsets    map[int32]int64 // Committed, Final
	Partition  int32           // Resumed
	Offset     int64           // Resumed
	At         int64           // when the member saw it, ns
}

// GroupHistory is what a consumer group's members saw, in the order they
// saw it (each member's events in its own order).
type GroupHistory struct {
	// Members are the processes that were group members.
	Members map[int]bool
	Events  []GroupEvent
}

// Add appends an event.
func (g *GroupHistory) Add(e GroupEvent) { g.Events = append(g.Events, e) }

// Group checks a consumer group's run against the queue history h (whose
// Poll ops by member processes are what the group consumed):
//
//   - group-lost: an acknowledged record that no member ever consumed. A
//     group may re-consume after a crash (at-least-once), so duplicates are
//     fine; a record nobody consumed means committed offsets skipped it.
//   - commit-regression: the group's committed offset of a partition went
//     backwards. An acknowledged commit is durable (the broker acknowledges
//     it once its record is committed), so a later acknowledged commit, a
//     member resuming a partition assigned after it, and the final
//     OffsetFetch must all be at or above it. Unacknowledged commits (the
//     broker crashed before answering) may or may not have happened: they
//     set no floor, and a value above every acknowledged commit is fine.
//   - double-ownership: two members own one partition in the same
//     generation. Across generations ownership may overlap (a member that
//     lost its session does not know it yet); within one it must not.
func Group(h History, g GroupHistory) []Violation {
	if len(g.Members) == 0 {
		return nil
	}
	var out []Violation
	out = append(out, groupLost(h, g)...)
	out = append(out, commitRegressions(g)...)
	out = append(out, doubleOwnership(g)...)
	return out
}

func groupLost(h History, g GroupHistory) []Violation {
	consumed := map[int32]map[int64]bool{}
	reached := map[int32]int64{}
	for _, op := range h.Ops {
		if op.Kind != Poll || op.Result != OK || !g.Members[op.Process] {
			continue
		}
		if consumed[op.Partition] == nil {
			consumed[op.Partition] = map[int64]bool{}
			reached[op.Partition] = -1
		}
		for _, r := range op.Records {
			consumed[op.Partition][r.Value] = true
			reached[op.Partition] = max(reached[op.Partition], r.Offset)
		}
	}
	var out []Violation
	for _, op := range h.Ops {
		if op.Kind != Send || op.Result != OK || consumed[op.Partition][op.Value] {
			continue
		}
		r, ok := reached[op.Partition]
		if !ok {
			r = -1
		}
		out = append(out, Violation{"group-lost", op.Partition, fmt.Sprintf(
			"value %d acknowledged at offset %d by process %d was never consumed by the group (it consumed up to offset %d)",
			op.Value, op.Offset, op.Process, r)})
	}
	return out
}

// floor is the highest acknowledged commit of a partition so far.
type floor struct {
	offset int64
	member int
	gen    int32
}

func commitRegressions(g GroupHistory) []Violation {
	var out []Violation
	best := map[int32]floor{}
	// atAssign[member][p]: the floor when member was last assigned p.
	atAssign := map[int]map[int32]floor{}
	get := func(p int32) floor {
		if f, ok := best[p]; ok {
			return f
		}
		return floor{offset: -1}
	}
	for _, e := range g.Events {
		switch e.Kind {
		case Assigned:
			if atAssign[e.Member] == nil {
				atAssign[e.Member] = map[int32]floor{}
			}
			for _, p := range e.Partitions {
				atAssign[e.Member][p] = get(p)
			}
		case Committed:
			for _, p := range sortedOffsetKeys(e.Offsets) {
				o, f := e.Offsets[p], get(p)
				if o < f.offset {
					out = append(out, Violation{"commit-regression", p, fmt.Sprintf(
						"member %d (generation %d) committed offset %d after member %d (generation %d) had committed %d",
						e.Member, e.Generation, o, f.member, f.gen, f.offset)})
					continue
				}
				best[p] = floor{o, e.Member, e.Generation}
			}
		case Resumed:
			f, ok := atAssign[e.Member][e.Partition]
			if ok && e.Offset < f.offset {
				out = append(out, Violation{"commit-regression", e.Partition, fmt.Sprintf(
					"member %d resumed at offset %d although member %d (generation %d) had committed %d before the assignment",
					e.Member, e.Offset, f.member, f.gen, f.offset)})
			}
		case Final:
			for _, p := range sortedOffsetKeys(e.Offsets) {
				if o, f := e.Offsets[p], get(p); o < f.offset {
					out = append(out, Violation{"commit-regression", p, fmt.Sprintf(
						"the final OffsetFetch returned %d, below the commit of %d acknowledged to member %d (generation %d)",
						o, f.offset, f.member, f.gen)})
				}
			}
		}
	}
	return out
}

func doubleOwnership(g GroupHistory) []Violation {
	var out []Violation
	owned := map[int]map[int32]bool{}
	type key struct {
		gen int32
		p   int32
	}
	owner := map[key]int{}
	reported := map[key]bool{}
	for _, e := range g.Events {
		if owned[e.Member] == nil {
			owned[e.Member] = map[int32]bool{}
		}
		mine := owned[e.Member]
		switch e.Kind {
		case Assigned:
			for _, p := range e.Partitions {
				mine[p] = true
			}
			for _, p := range sortedBoolKeys(mine) {
				k := key{e.Generation, p}
				other, ok := owner[k]
				if !ok {
					owner[k] = e.Member
					continue
				}
				if other != e.Member && !reported[k] {
					reported[k] = true
					out = append(out, Violation{"double-ownership", p, fmt.Sprintf(
						"members %d and %d both own the partition in generation %d", other, e.Member, e.Generation)})
				}
			}
		case Revoked, Lost:
			for _, p := range e.Partitions {
				delete(mine, p)
			}
		}
	}
	return out
}

func sortedOffsetKeys(m map[int32]int64) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sortedBoolKeys(m map[int32]bool) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
