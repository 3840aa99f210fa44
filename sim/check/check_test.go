package check

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// hb builds histories tersely.
type hb struct {
	h History
	t int64
}

func (b *hb) send(proc int, val, off int64, res Result) *hb {
	b.t += 10
	b.h.Add(Op{Process: proc, Kind: Send, Result: res, Value: val, Offset: off, Call: b.t, Return: b.t + 5})
	return b
}

func (b *hb) poll(proc int, final, reset bool, recs ...int64) *hb {
	b.t += 10
	op := Op{Process: proc, Kind: Poll, Result: OK, Call: b.t, Return: b.t + 5, Final: final, Reset: reset}
	for i := 0; i+1 < len(recs); i += 2 {
		op.Records = append(op.Records, Record{Offset: recs[i], Value: recs[i+1]})
	}
	b.h.Add(op)
	return b
}

func (b *hb) list(end int64) *hb {
	b.t += 10
	b.h.Add(Op{Process: 9, Kind: ListOffsets, Result: OK, Offset: end, Call: b.t, Return: b.t + 5})
	return b
}

func (b *hb) fetch(from, hw int64, recs ...int64) *hb {
	b.t += 10
	op := Op{Process: 9, Kind: Fetch, Result: OK, Offset: from, HW: hw, Call: b.t, Return: b.t + 5}
	for i := 0; i+1 < len(recs); i += 2 {
		op.Records = append(op.Records, Record{Offset: recs[i], Value: recs[i+1]})
	}
	b.h.Add(op)
	return b
}

func kinds(vs []Violation) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Kind)
	}
	return strings.Join(out, ",")
}

func clean() *hb {
	b := &hb{}
	b.send(1, 100, 0, OK).send(1, 101, 1, OK).send(2, 200, 2, OK).send(2, 201, 0, Info)
	b.list(3).fetch(1, 3, 1, 101, 2, 200)
	b.poll(5, false, false, 0, 100, 1, 101).poll(5, true, false, 2, 200)
	return b
}

func TestCleanHistoryPasses(t *testing.T) {
	if vs := All(clean().h); len(vs) != 0 {
		t.Fatalf("clean history flagged: %v", vs)
	}
}

func TestEachAnomalyIsFlagged(t *testing.T) {
	cases := []struct {
		name string
		b    *hb
		want string
	}{
		{"lost write below a later read", (&hb{}).send(1, 1, 0, OK).send(1, 2, 1, OK).poll(5, true, false, 1, 2), "lost-write"},
		{"duplicate value at two offsets", (&hb{}).send(1, 1, 0, Info).poll(5, false, false, 0, 1).poll(6, true, false, 1, 1), "duplicate"},
		{"two values at one offset", (&hb{}).send(1, 1, 0, OK).send(1, 2, 0, OK).poll(5, true, false, 0, 1), "inconsistent-offsets"},
		{"poll goes backwards", (&hb{}).poll(5, false, false, 0, 1, 1, 2).poll(5, true, false, 0, 1), "nonmonotonic-poll"},
		{"poll skips a record", (&hb{}).poll(5, false, false, 0, 1, 1, 2, 2, 3).poll(6, true, false, 0, 1, 2, 3), "skipped-poll"},
		{"send offsets go backwards", (&hb{}).send(1, 1, 1, OK).send(1, 2, 0, OK).poll(5, true, false, 0, 2, 1, 1), "nonmonotonic-send"},
		{"acknowledged but absent from final read", (&hb{}).send(1, 1, 0, OK).send(1, 2, 1, OK).poll(5, true, false, 0, 1), "unseen"},
		{"high watermark goes backwards", (&hb{}).send(1, 1, 0, OK).list(1).list(0), "not-linearizable"},
		{"fetch misses an acknowledged record", (&hb{}).send(1, 1, 0, OK).fetch(0, 0), "not-linearizable"},
		{"send acknowledged at a stale offset", (&hb{}).send(1, 1, 0, OK).list(1).send(1, 2, 0, OK), "not-linearizable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := kinds(All(c.b.h))
			if !strings.Contains(got, c.want) {
				t.Fatalf("want %s, got [%s]", c.want, got)
			}
		})
	}
}

func TestResetPollIsNotNonMonotonic(t *testing.T) {
	b := (&hb{}).poll(5, false, false, 0, 1, 1, 2).poll(5, true, true, 0, 1, 1, 2)
	if vs := Queue(b.h); len(vs) != 0 {
		t.Fatalf("re-positioned consumer flagged: %v", vs)
	}
}

func TestUnknownSendsNeverReadAreIgnored(t *testing.T) {
	b := (&hb{}).send(1, 1, 0, OK)
	for v := int64(2); v < 40; v++ {
		b.send(1, v, 0, Info) // many pending unknowns must not blow up the search
	}
	b.list(1).poll(5, true, false, 0, 1)
	if vs := All(b.h); len(vs) != 0 {
		t.Fatalf("flagged: %v", vs)
	}
}

// TestMonitorClusterInvariants: committed-lost, two-leaders and
// epoch-regressed are flagged, and a restarted follower whose high
// watermark starts low is not.
func TestMonitorClusterInvariants(t *testing.T) {
	kinds := func(vs []Violation) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.Kind)
		}
		return out
	}
	sample := func(leader, epoch int32, hw, end int64) []PartitionSample {
		return []PartitionSample{{Topic: "t", Partition: 0, HW: hw, DurableEnd: end, LogEnd: end, Durable: true, Leader: leader, LeaderEpoch: epoch}}
	}
	m := NewMonitor(false)
	if vs := m.Sample(1, 1, sample(1, 0, 10, 12)); len(vs) != 0 {
		t.Fatalf("leader sample: %v", vs)
	}
	if vs := m.Sample(2, 2, sample(1, 0, 0, 12)); len(vs) != 0 {
		t.Fatalf("a restarted follower with a low high watermark: %v", vs)
	}
	if vs := m.Sample(2, 2, sample(2, 1, 8, 9)); !slices.Equal(kinds(vs), []string{"committed-lost"}) {
		t.Fatalf("new leader below the old committed high watermark: %v", vs)
	}
	if vs := m.Sample(3, 1, sample(3, 1, 9, 20)); !slices.Equal(kinds(vs), []string{"two-leaders"}) {
		t.Fatalf("a second leader in epoch 1: %v", vs)
	}
	if vs := m.Sample(3, 1, sample(3, 0, 9, 20)); !slices.Contains(kinds(vs), "epoch-regressed") {
		t.Fatalf("epoch went from 1 to 0: %v", vs)
	}
	re := NewMonitor(false)
	re.Sample(1, 1, sample(1, 0, 10, 12))
	if vs := re.Sample(1, 2, sample(1, 0, 10, 12)); !slices.Equal(kinds(vs), []string{"epoch-reused"}) {
		t.Fatalf("a restarted broker leading its old epoch: %v", vs)
	}
	ok := NewMonitor(false)
	ok.Sample(1, 1, sample(1, 0, 10, 12))
	if vs := ok.Sample(2, 1, sample(2, 1, 10, 12)); len(vs) != 0 {
		t.Fatalf("a clean failover: %v", vs)
	}
}

// TestVisualizeNotLinearizable: the input LinearizableInput returns for a
// history porcupine rejects is rejected again and drawn as porcupine's HTML.
func TestVisualizeNotLinearizable(t *testing.T) {
	b := (&hb{}).send(1, 1, 0, OK).list(1).send(1, 2, 0, OK) // acknowledged at a stale offset
	vs, ops := LinearizableInput(b.h, false)
	if kinds(vs) != "not-linearizable" || len(ops) != 3 {
		t.Fatalf("violations %v, input %v", vs, ops)
	}
	path := filepath.Join(t.TempDir(), "porcupine.html")
	res, err := VisualizePath(ops, path)
	if err != nil {
		t.Fatal(err)
	}
	if res != porcupine.Illegal {
		t.Fatalf("porcupine says %s on the host", res)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<html", "p0 send acknowledged at 0", "p0 list-offsets = 1", "hw=1", "PartialLinearizations"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("the visualisation lacks %q", want)
		}
	}
	if _, ok := LinearizableInput(clean().h, false); ok != nil {
		t.Fatalf("a linearizable history returned input %v", ok)
	}
}
