package txn

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"pgregory.net/rapid"
)

// replay loads the tester's log into a fresh Coordinator.
func replay(t tb, x *tester) (*Coordinator, Output) {
	l := NewLoader()
	for _, r := range x.log {
		if err := l.Apply(r[0], r[1]); err != nil {
			t.Fatalf("replay: %v", err)
		}
	}
	return l.Done(x.now, DefaultConfig(), &seqPIDs{}, 6)
}

// sameState compares two coordinators' durable state (the previous epoch
// of KIP-360 is not in the log, so it is not compared).
func sameState(a, b *Coordinator) error {
	ia, ib := a.IDs(), b.IDs()
	if !slices.Equal(ia, ib) {
		return fmt.Errorf("ids %v vs %v", ia, ib)
	}
	for _, id := range ia {
		ma, _, _ := a.Get(id)
		mb, _, _ := b.Get(id)
		if !metaEqual(&ma, &mb) {
			return fmt.Errorf("%s: %+v vs %+v", id, ma, mb)
		}
	}
	return nil
}

func TestLoaderReplaysLiveState(t *testing.T) {
	x := begin(t)
	x.init("b", 1000, 4, -1, -1)
	x.add("b", 1002, 0, 3, tpA, tpB)
	x.end("b", 1002, 0, true, 5) // b is writing markers
	x.init("c", 1000, 4, -1, -1)
	x.add("c", 1003, 0, 3, tpB)
	x.end("c", 1003, 0, false, 4)
	x.writeMarkers("c")
	x.init("gone", 1000, 4, -1, -1)
	x.now += DefaultConfig().IDExpirationMs + 1
	x.take(x.c.ExpireIDs(x.now))
	if _, _, ok := x.c.Get("gone"); ok {
		t.Fatal("gone not expired")
	}
	c, out := replay(t, x)
	if err := sameState(x.c, c); err != nil {
		t.Fatal(err)
	}
	if len(out.Markers) != 1 || out.Markers[0].TransactionalID != "b" || !out.Markers[0].Commit ||
		out.Markers[0].ProducerEpoch != 1 || len(out.Markers[0].Partitions) != 2 || out.Markers[0].CoordinatorEpoch != 6 {
		t.Fatalf("resumed markers: %+v", out.Markers)
	}
	// The resumed transaction completes on the new coordinator.
	y := &tester{t: t, c: c, now: x.now, replies: x.replies, markers: map[string]Markers{"b": out.Markers[0]}, auto: true}
	y.writeMarkers("b")
	if m, _, _ := c.Get("b"); m.State != CompleteCommit {
		t.Fatalf("resumed b: %v", m.State)
	}
}

// TestProperties drives random requests, ticks, marker writes and failed
// appends, and checks after every step: no illegal transition (the package
// panics on one), an Ongoing transaction holds exactly the partitions
// added since it began, every marker work names exactly the partitions of
// the transaction that prepared, every handle is answered once, and
// replaying the log gives the live state.
func TestProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		x := newTester(rt)
		x.auto = false
		ids := []string{"t1", "t2", "t3"}
		tps := []TopicPartition{{"a", 0}, {"a", 1}, {"b", 0}}
		model := map[string][]TopicPartition{} // partitions added since the transaction began
		asked := map[Handle]bool{}
		type added struct {
			id string
			tp TopicPartition
		}
		adds := map[Handle]added{}
		for i := 0; i < 60; i++ {
			id := rapid.SampledFrom(ids).Draw(rt, "id")
			m, _, known := x.c.Get(id)
			pid, epoch := m.ProducerID, m.ProducerEpoch
			if rapid.IntRange(0, 9).Draw(rt, "stale") == 0 {
				epoch--
			}
			before := map[string]State{}
			for _, k := range ids {
				before[k] = x.state(k)
			}
			switch rapid.IntRange(0, 8).Draw(rt, "op") {
			case 0:
				asked[x.next+1] = true
				x.init(id, int32(rapid.IntRange(1, 5000).Draw(rt, "timeout")), int16(rapid.IntRange(0, 5).Draw(rt, "v")), -1, -1)
			case 1, 2:
				if known {
					asked[x.next+1] = true
					tp := rapid.SampledFrom(tps).Draw(rt, "tp")
					adds[x.next+1] = added{id, tp}
					x.add(id, pid, epoch, int16(rapid.IntRange(0, 4).Draw(rt, "v")), tp)
				}
			case 3:
				if known {
					asked[x.next+1] = true
					x.end(id, pid, epoch, rapid.Bool().Draw(rt, "commit"), int16(rapid.IntRange(0, 5).Draw(rt, "v")))
				}
			case 4:
				x.now += int64(rapid.IntRange(0, 3000).Draw(rt, "dt"))
				x.take(x.c.Tick(x.now))
			case 5:
				x.failNext = rapid.IntRange(0, 4).Draw(rt, "fail") == 0
				x.flush()
			case 6, 7:
				if mk, ok := x.markers[id]; ok {
					delete(x.markers, id)
					x.take(x.c.MarkersWritten(x.now, id, mk.Partitions...))
				}
			case 8:
				x.now += DefaultConfig().IDExpirationMs / 2
				x.take(x.c.ExpireIDs(x.now))
			}
			x.flush()
			for h, a := range adds {
				if r, ok := x.replies[h]; ok {
					delete(adds, h)
					if addCode(r.(*kmsg.AddPartitionsToTxnResponse)) == 0 {
						model[a.id] = union(model[a.id], []TopicPartition{a.tp})
					}
				}
			}
			for _, k := range ids {
				m, _, ok := x.c.Get(k)
				st := State(-1)
				if ok {
					st = m.State
				}
				if b := before[k]; b != st && b >= 0 && st >= 0 && !ValidPrevious(st, b) &&
					!(b == Ongoing && st == PrepareAbort) {
					rt.Fatalf("%s: %v -> %v", k, b, st)
				}
				if st != Ongoing {
					delete(model, k)
				} else if !slices.Equal(model[k], m.Partitions) {
					rt.Fatalf("%s: partitions %v, acknowledged adds %v", k, m.Partitions, model[k])
				}
			}
			// Partitions added: rebuild from the record log is simpler:
			// an Ongoing transaction's partitions are those of its Add
			// records since it left the completed states.
			for _, k := range ids {
				m, _, ok := x.c.Get(k)
				if ok && m.State == Ongoing {
					if want := addedSinceBegin(rt, x, k); !slices.Equal(want, m.Partitions) {
						rt.Fatalf("%s: partitions %v, added %v", k, m.Partitions, want)
					}
				}
				if mk, ok := x.markers[k]; ok {
					if !ok || (m.State != PrepareCommit && m.State != PrepareAbort) {
						rt.Fatalf("%s: marker work in state %v", k, m.State)
					}
					if !slices.Equal(mk.Partitions, m.Partitions) || mk.Commit != (m.State == PrepareCommit) ||
						mk.ProducerID != m.ProducerID || mk.ProducerEpoch != m.ProducerEpoch {
						rt.Fatalf("%s: markers %+v for %+v", k, mk, m)
					}
				}
			}
			c, _ := replay(rt, x)
			if err := sameState(x.c, c); err != nil {
				rt.Fatalf("replay differs: %v", err)
			}
		}
		for h := range asked {
			if x.replies[h] == nil {
				rt.Fatalf("handle %d never answered", h)
			}
		}
	})
}

// addedSinceBegin reads the log: the union of the partitions of the
// records of k since its last record not in Ongoing.
func addedSinceBegin(t tb, x *tester, k string) []TopicPartition {
	var added []TopicPartition
	for _, r := range x.log {
		id, m, err := DecodeRecord(r[0], r[1])
		if err != nil {
			t.Fatalf("log: %v", err)
		}
		if id != k {
			continue
		}
		if m == nil || m.State != Ongoing {
			added = nil
			continue
		}
		added = union(added, m.Partitions)
	}
	return added
}
