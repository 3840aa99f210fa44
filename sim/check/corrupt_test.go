package check

import (
	"strings"
	"testing"
)

// TestCorruptReadsAreFlagged: a record a broker served corrupted (its value
// unparseable, or a number no producer sent to the partition) is a
// corrupt-read, whether a poll or a raw fetch read it and whether or not its
// offset was acknowledged; a value that was sent, even with an unknown
// outcome, is not.
func TestCorruptReadsAreFlagged(t *testing.T) {
	cases := []struct {
		name  string
		b     *hb
		want  string // a kind of All's violations, "" for none
		count int    // corrupt-reads expected
	}{
		{"unparseable value at an acknowledged offset",
			(&hb{}).send(1, 100, 0, OK).send(1, 101, 1, OK).poll(5, true, false, 0, Unparseable, 1, 101), "corrupt-read", 1},
		{"value never produced, unacknowledged offset",
			(&hb{}).send(1, 100, 0, Info).poll(5, true, false, 0, 108), "corrupt-read", 1},
		{"never produced value in a raw fetch",
			(&hb{}).send(1, 100, 0, OK).list(1).fetch(0, 1, 0, 1100).poll(5, true, false, 0, 100), "corrupt-read", 1},
		{"the same corrupt record read twice is one violation",
			(&hb{}).send(1, 100, 0, OK).poll(5, false, false, 0, Unparseable).poll(6, true, false, 0, Unparseable), "corrupt-read", 1},
		{"two corrupt records",
			(&hb{}).send(1, 100, 0, OK).send(1, 101, 1, OK).poll(5, true, false, 0, Unparseable, 1, Unparseable), "corrupt-read", 2},
		{"a produced value at another acknowledged offset",
			(&hb{}).send(1, 100, 0, OK).send(1, 101, 1, OK).poll(5, true, false, 0, 101, 1, 101), "inconsistent-offsets", 0},
		{"a send that timed out but was written", (&hb{}).send(1, 100, 0, Info).poll(5, true, false, 0, 100), "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			all := All(c.b.h)
			got := kinds(all)
			if c.want == "" && len(all) != 0 || !strings.Contains(got, c.want) {
				t.Fatalf("want [%s], got [%s]: %v", c.want, got, all)
			}
			if n := len(CorruptReads(c.b.h)); n != c.count {
				t.Fatalf("%d corrupt-reads, want %d: %v", n, c.count, all)
			}
			if strings.Contains(kinds(Queue(c.b.h)), "duplicate") && c.count > 0 {
				t.Fatalf("corrupt records reported as duplicates too: %v", all)
			}
		})
	}
	// A value sent to another partition is not this partition's.
	var h History
	h.Add(Op{Process: 1, Kind: Send, Result: OK, Partition: 1, Value: 7, Offset: 0, Call: 1, Return: 2})
	h.Add(Op{Process: 5, Kind: Poll, Result: OK, Partition: 0, Final: true, Call: 3, Return: 4,
		Records: []Record{{Offset: 0, Value: 7}}})
	if vs := CorruptReads(h); len(vs) != 1 || vs[0].Partition != 0 {
		t.Fatalf("a value of partition 1 read in partition 0: %v", vs)
	}
}

// TestMonitorExcusesOneRepairPerFlip: a follower's high watermark dropping
// within an incarnation is hw-regressed, unless a bit flip in its copy of
// that partition was reported (Corrupted): each flip excuses one drop.
func TestMonitorExcusesOneRepairPerFlip(t *testing.T) {
	sample := func(hw0, hw1 int64) []PartitionSample {
		var out []PartitionSample
		for p, hw := range []int64{hw0, hw1} {
			out = append(out, PartitionSample{Topic: "t", Partition: int32(p), HW: hw, LogEnd: hw, DurableEnd: hw, Leader: 1, LeaderEpoch: 1})
		}
		return out
	}
	m := NewMonitor(false)
	m.Sample(2, 1, sample(100, 100))
	m.Corrupted(2, "t", 0)
	m.Corrupted(3, "t", 1) // another broker's copy: excuses nothing on broker 2
	if vs := m.Sample(2, 1, sample(10, 100)); len(vs) != 0 {
		t.Fatalf("a repair after a flip flagged: %v", vs)
	}
	if vs := m.Sample(2, 1, sample(10, 10)); kinds(vs) != "hw-regressed" {
		t.Fatalf("a drop without a flip in that copy: %v", vs)
	}
	m.Sample(2, 1, sample(50, 10))
	if vs := m.Sample(2, 1, sample(20, 10)); kinds(vs) != "hw-regressed" {
		t.Fatalf("a second drop after one flip: %v", vs)
	}
}
