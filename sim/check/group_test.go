package check

import (
	"strings"
	"testing"
)

// gb builds group histories tersely: members 1, 2, 3.
type gb struct {
	hb
	g GroupHistory
}

func newGB() *gb { return &gb{g: GroupHistory{Members: map[int]bool{1: true, 2: true, 3: true}}} }

func (b *gb) ev(e GroupEvent) *gb {
	b.t += 10
	e.At = b.t
	b.g.Add(e)
	return b
}

func (b *gb) assign(m int, gen int32, ps ...int32) *gb {
	return b.ev(GroupEvent{Member: m, Kind: Assigned, Generation: gen, Partitions: ps})
}

func (b *gb) revoke(m int, gen int32, ps ...int32) *gb {
	return b.ev(GroupEvent{Member: m, Kind: Revoked, Generation: gen, Partitions: ps})
}

func (b *gb) lose(m int, gen int32, ps ...int32) *gb {
	return b.ev(GroupEvent{Member: m, Kind: Lost, Generation: gen, Partitions: ps})
}

func (b *gb) commit(m int, gen int32, p int32, off int64) *gb {
	return b.ev(GroupEvent{Member: m, Kind: Committed, Generation: gen, Offsets: map[int32]int64{p: off}})
}

func (b *gb) resume(m int, p int32, off int64) *gb {
	return b.ev(GroupEvent{Member: m, Kind: Resumed, Partition: p, Offset: off})
}

func (b *gb) final(offs map[int32]int64) *gb {
	return b.ev(GroupEvent{Kind: Final, Offsets: offs})
}

// consume adds a member's poll of partition p: (offset, value) pairs.
func (b *gb) consume(m int, p int32, recs ...int64) *gb {
	b.t += 10
	op := Op{Process: m, Kind: Poll, Result: OK, Partition: p, Call: b.t, Return: b.t}
	for i := 0; i+1 < len(recs); i += 2 {
		op.Records = append(op.Records, Record{Offset: recs[i], Value: recs[i+1]})
	}
	b.h.Add(op)
	return b
}

func (b *gb) sendTo(p int32, val, off int64) *gb {
	b.t += 10
	b.h.Add(Op{Process: 9, Kind: Send, Result: OK, Partition: p, Value: val, Offset: off, Call: b.t, Return: b.t + 5})
	return b
}

// cleanGroup: two members, a crash-style re-consumption (member 2 resumes
// p0 at the committed 1 and reads offset 1 again), a cooperative handover
// of p1 from member 1 to member 2 across generations, a lost commit that
// never was acknowledged, and a final OffsetFetch above every ack.
func cleanGroup() *gb {
	b := newGB()
	b.sendTo(0, 100, 0).sendTo(0, 101, 1).sendTo(1, 200, 0).sendTo(1, 201, 1)
	b.assign(1, 1, 0, 1).assign(2, 1)
	b.resume(1, 0, 0).consume(1, 0, 0, 100, 1, 101).commit(1, 1, 0, 1)
	b.resume(1, 1, 0).consume(1, 1, 0, 200).commit(1, 1, 1, 1)
	// Member 1 loses p0 (its session expired while it consumed offset 1 and
	// its commit of 2 was never acknowledged); member 2 takes it in
	// generation 2 and re-consumes from 1: at-least-once.
	b.lose(1, 1, 0).assign(1, 2, 1).assign(2, 2, 0)
	b.resume(2, 0, 1).consume(2, 0, 1, 101).commit(2, 2, 0, 2)
	// Cooperative handover of p1: revoked in generation 3, assigned in 4.
	b.consume(1, 1, 1, 201).revoke(1, 3, 1).commit(1, 3, 1, 2).assign(2, 3)
	b.assign(1, 4).assign(2, 4, 1).resume(2, 1, 2)
	b.final(map[int32]int64{0: 2, 1: 2})
	return b
}

func TestGroupCleanHistoryPasses(t *testing.T) {
	b := cleanGroup()
	if vs := Group(b.h, b.g); len(vs) != 0 {
		t.Fatalf("clean group history flagged: %v", vs)
	}
}

func TestGroupOwnershipAcrossGenerationsIsFine(t *testing.T) {
	// Member 1 still believes it owns p0 in generation 1 (it does not know
	// its session expired) while member 2 owns it in generation 2.
	b := newGB().assign(1, 1, 0).assign(2, 2, 0)
	if vs := Group(b.h, b.g); len(vs) != 0 {
		t.Fatalf("flagged: %v", vs)
	}
}

func TestGroupUnacknowledgedCommitsSetNoFloor(t *testing.T) {
	// Only acknowledged commits count: the final offset may be anything at
	// or above the highest of them, and a member may resume there.
	b := newGB().assign(1, 1, 0).commit(1, 1, 0, 5).assign(2, 2, 0).resume(2, 0, 5).
		final(map[int32]int64{0: 9})
	if vs := Group(b.h, b.g); len(vs) != 0 {
		t.Fatalf("flagged: %v", vs)
	}
}

func TestGroupAnomaliesAreFlagged(t *testing.T) {
	cases := []struct {
		name string
		b    *gb
		want string
	}{
		{"acknowledged record never consumed", newGB().sendTo(0, 100, 0).sendTo(0, 101, 1).assign(1, 1, 0).
			consume(1, 0, 1, 101), "group-lost"},
		{"nothing consumed at all", newGB().sendTo(1, 200, 0).assign(1, 1, 1), "group-lost"},
		{"later commit below an acknowledged one", newGB().assign(1, 1, 0).commit(1, 1, 0, 10).
			lose(1, 1, 0).assign(2, 2, 0).commit(2, 2, 0, 4), "commit-regression"},
		{"resumed below an acknowledged commit", newGB().assign(1, 1, 0).commit(1, 1, 0, 10).
			revoke(1, 2, 0).assign(2, 3, 0).resume(2, 0, 0), "commit-regression"},
		{"final OffsetFetch below an acknowledged commit", newGB().assign(1, 1, 0).commit(1, 1, 0, 10).
			final(map[int32]int64{0: -1}), "commit-regression"},
		{"two owners in one generation", newGB().assign(1, 3, 0, 1).assign(2, 3, 1), "double-ownership"},
		{"an owner keeps a partition into a generation that gave it away", newGB().assign(1, 3, 0).
			assign(2, 4, 0).assign(1, 4), "double-ownership"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, v := range Group(c.b.h, c.b.g) {
				got = append(got, v.Kind)
			}
			if !strings.Contains(strings.Join(got, ","), c.want) {
				t.Fatalf("want %s, got %v", c.want, got)
			}
		})
	}
}

func TestGroupWithoutMembersChecksNothing(t *testing.T) {
	b := (&hb{}).send(1, 1, 0, OK)
	if vs := Group(b.h, GroupHistory{}); len(vs) != 0 {
		t.Fatalf("flagged: %v", vs)
	}
}

func TestMonitorInvariants(t *testing.T) {
	ok := func(hw, durable, end int64) PartitionSample {
		return PartitionSample{Topic: "t", Partition: 0, HW: hw, DurableEnd: durable, LogEnd: end, Durable: true}
	}
	cases := []struct {
		name  string
		steps func(m *Monitor) []Violation
		want  string // "" = nothing flagged
	}{
		{"rising high watermark, restart keeps what was durable", func(m *Monitor) []Violation {
			vs := m.Sample(1, 1, []PartitionSample{ok(0, 0, 2), ok(3, 4, 5), ok(5, 5, 9)})
			return append(vs, m.Sample(1, 2, []PartitionSample{ok(5, 5, 5), ok(7, 7, 7)})...)
		}, ""},
		{"restart drops unsynced data only", func(m *Monitor) []Violation {
			vs := m.Sample(1, 1, []PartitionSample{ok(5, 5, 9)})
			return append(vs, m.Sample(1, 2, []PartitionSample{ok(5, 5, 5)})...)
		}, ""},
		{"high watermark above the log end", func(m *Monitor) []Violation {
			return m.Sample(1, 1, []PartitionSample{{Topic: "t", HW: 6, DurableEnd: 6, LogEnd: 5}})
		}, "hw-above-end"},
		{"high watermark above the durable end", func(m *Monitor) []Violation {
			return m.Sample(1, 1, []PartitionSample{ok(6, 5, 9)})
		}, "hw-above-durable"},
		{"page-cache mode may run ahead of fsync", func(m *Monitor) []Violation {
			s := ok(6, 5, 9)
			s.Durable = false
			return m.Sample(1, 1, []PartitionSample{s})
		}, ""},
		{"high watermark down in one incarnation", func(m *Monitor) []Violation {
			return m.Sample(1, 1, []PartitionSample{ok(5, 5, 9), ok(4, 5, 9)})
		}, "hw-regressed"},
		{"a restart loses durable data", func(m *Monitor) []Violation {
			vs := m.Sample(1, 1, []PartitionSample{ok(5, 7, 9)})
			return append(vs, m.Sample(1, 2, []PartitionSample{ok(6, 6, 6)})...)
		}, "hw-regressed"},
		{"another broker's partition is its own", func(m *Monitor) []Violation {
			vs := m.Sample(1, 1, []PartitionSample{ok(5, 5, 9)})
			return append(vs, m.Sample(2, 1, []PartitionSample{ok(1, 1, 1)})...)
		}, ""},
		{"a partition with committed data vanishes", func(m *Monitor) []Violation {
			vs := m.Sample(1, 1, []PartitionSample{ok(5, 5, 9)})
			return append(vs, m.Sample(1, 2, nil)...)
		}, "partition-vanished"},
		{"a partition moved away by a reassignment may vanish", func(m *Monitor) []Violation {
			vs := m.Sample(1, 1, []PartitionSample{ok(5, 5, 9)})
			m.Forget(1, func(string, int32) bool { return false })
			return append(vs, m.Sample(1, 1, nil)...)
		}, ""},
		{"a partition the broker still replicates may not vanish", func(m *Monitor) []Violation {
			vs := m.Sample(1, 1, []PartitionSample{ok(5, 5, 9)})
			m.Forget(1, func(string, int32) bool { return true })
			return append(vs, m.Sample(1, 1, nil)...)
		}, "partition-vanished"},
		{"an empty partition may be absent", func(m *Monitor) []Violation {
			vs := m.Sample(1, 1, []PartitionSample{ok(0, 0, 0)})
			return append(vs, m.Sample(1, 2, nil)...)
		}, ""},
		{"one value per offset", func(m *Monitor) []Violation {
			vs := m.Observe(0, 3, 100, "send")
			vs = append(vs, m.Observe(0, 3, 100, "poll")...)
			return append(vs, m.Observe(1, 3, 101, "poll")...)
		}, ""},
		{"an offset handed out twice", func(m *Monitor) []Violation {
			vs := m.Observe(0, 3, 100, "send")
			return append(vs, m.Observe(0, 3, 101, "fetch")...)
		}, "offset-reused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := c.steps(NewMonitor(true))
			var got []string
			for _, v := range vs {
				got = append(got, v.Kind)
			}
			if c.want == "" && len(vs) > 0 || c.want != "" && !strings.Contains(strings.Join(got, ","), c.want) {
				t.Fatalf("want [%s], got %v", c.want, vs)
			}
		})
	}
}
