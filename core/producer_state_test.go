package core

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"pgregory.net/rapid"
)

// Unit tests of the idempotent producer table (KIP-98 idempotence), against
// the rules of Kafka's ProducerAppendInfo.checkSequence and
// ProducerStateEntry (duplicates of the last 5 batches, epoch fencing,
// sequences wrapping at Integer.MAX_VALUE).

// appendBatch runs check and, when the batch is new, records it at offset
// *end as the append path does; it returns the offsets the producer is
// answered with.
func appendBatch(t *testing.T, s *producerState, end *int64, pid int64, epoch int16, first, n int32) (int64, int64, error) {
	t.Helper()
	last := lastSeqOf(first, n)
	dup, err := s.check(pid, epoch, first, last)
	if err != nil {
		return -1, -1, err
	}
	if dup != nil {
		return dup.firstOffset, dup.lastOffset, nil
	}
	b := producerBatch{firstSeq: first, lastSeq: last, firstOffset: *end, lastOffset: *end + int64(n) - 1}
	s.record(pid, epoch, b)
	*end += int64(n)
	return b.firstOffset, b.lastOffset, nil
}

func mustAppend(t *testing.T, s *producerState, end *int64, pid int64, epoch int16, first, n int32) (int64, int64) {
	t.Helper()
	f, l, err := appendBatch(t, s, end, pid, epoch, first, n)
	if err != nil {
		t.Fatalf("append pid %d epoch %d seq %d+%d: %v", pid, epoch, first, n, err)
	}
	return f, l
}

func TestProducerStateUnknownProducerAcceptsAnySequence(t *testing.T) {
	var s producerState
	for _, seq := range []int32{0, 1, 17, math.MaxInt32} {
		dup, err := s.check(42, 3, seq, seq)
		if dup != nil || err != nil {
			t.Errorf("unknown producer, seq %d: dup=%v err=%v, want accepted", seq, dup, err)
		}
	}
	// A different producer ID is unknown even when another one is known.
	var end int64
	mustAppend(t, &s, &end, 1, 0, 0, 3)
	if dup, err := s.check(2, 0, 99, 99); dup != nil || err != nil {
		t.Errorf("second producer starting at 99: dup=%v err=%v, want accepted", dup, err)
	}
}

func TestProducerStateSameEpochNeedsNextSequence(t *testing.T) {
	var s producerState
	var end int64
	mustAppend(t, &s, &end, 7, 0, 0, 3) // seqs 0-2, offsets 0-2
	for _, seq := range []int32{4, 2, 1, 100} {
		_, err := s.check(7, 0, seq, seq)
		if !errors.Is(err, errOutOfOrderSequence) {
			t.Errorf("seq %d after 0-2: err=%v, want out of order", seq, err)
		}
	}
	f, l := mustAppend(t, &s, &end, 7, 0, 3, 2)
	if f != 3 || l != 4 {
		t.Fatalf("batch 3-4 landed at %d-%d, want 3-4", f, l)
	}
}

func TestProducerStateDuplicatesOfLastFiveBatches(t *testing.T) {
	var s producerState
	end := int64(100)
	type placed struct {
		first, n   int32
		offA, offB int64
	}
	var got []placed
	seq := int32(0)
	for i := int32(1); i <= 6; i++ { // batches of 1..6 records
		a, b := mustAppend(t, &s, &end, 9, 2, seq, i)
		got = append(got, placed{seq, i, a, b})
		seq += i
	}
	// The last five batches are duplicates answered with their offsets, and
	// nothing new is recorded.
	for _, p := range got[1:] {
		endBefore := end
		a, b, err := appendBatch(t, &s, &end, 9, 2, p.first, p.n)
		if err != nil || a != p.offA || b != p.offB || end != endBefore {
			t.Errorf("retry of seq %d+%d: offsets %d-%d err=%v (end %d->%d), want the original %d-%d",
				p.first, p.n, a, b, err, endBefore, end, p.offA, p.offB)
		}
	}
	// The sixth-newest batch has been forgotten: Kafka answers
	// OUT_OF_ORDER_SEQUENCE_NUMBER for it.
	if _, _, err := appendBatch(t, &s, &end, 9, 2, got[0].first, got[0].n); !errors.Is(err, errOutOfOrderSequence) {
		t.Errorf("retry of the evicted first batch: err=%v, want out of order", err)
	}
	// A batch with a known first sequence but another length is no duplicate.
	if _, err := s.check(9, 2, got[5].first, got[5].first); !errors.Is(err, errOutOfOrderSequence) {
		t.Errorf("same first seq, different last: err=%v, want out of order", err)
	}
	// A duplicate under another epoch is not a duplicate (newer epoch not at
	// 0) nor accepted (older epoch).
	if _, err := s.check(9, 3, got[5].first, got[5].first+got[5].n-1); !errors.Is(err, errOutOfOrderSequence) {
		t.Errorf("duplicate range with a newer epoch: err=%v, want out of order", err)
	}
}

func TestProducerStateOlderEpochFenced(t *testing.T) {
	var s producerState
	var end int64
	mustAppend(t, &s, &end, 5, 4, 0, 1)
	for _, seq := range []int32{0, 1} {
		if _, err := s.check(5, 3, seq, seq); !errors.Is(err, errProducerFenced) {
			t.Errorf("epoch 3 after 4, seq %d: err=%v, want fenced (INVALID_PRODUCER_EPOCH)", seq, err)
		}
	}
}

func TestProducerStateNewEpochStartsAtZero(t *testing.T) {
	var s producerState
	var end int64
	mustAppend(t, &s, &end, 5, 0, 0, 4)
	if _, err := s.check(5, 1, 4, 4); !errors.Is(err, errOutOfOrderSequence) {
		t.Errorf("epoch bump continuing at seq 4: err=%v, want out of order", err)
	}
	if _, err := s.check(5, 1, 1, 1); !errors.Is(err, errOutOfOrderSequence) {
		t.Errorf("epoch bump at seq 1: err=%v, want out of order", err)
	}
	f, _ := mustAppend(t, &s, &end, 5, 1, 0, 2)
	if f != 4 {
		t.Fatalf("first batch of epoch 1 at offset %d, want 4", f)
	}
	// The old epoch is now fenced and its batches forgotten.
	if _, err := s.check(5, 0, 0, 3); !errors.Is(err, errProducerFenced) {
		t.Errorf("retry under epoch 0 after epoch 1: err=%v, want fenced", err)
	}
	if e := s.m[5]; e.epoch != 1 || len(e.batches) != 1 {
		t.Errorf("entry after the bump: epoch %d with %d batches, want epoch 1 with 1", e.epoch, len(e.batches))
	}
}

func TestProducerStateSequenceWrapsAtMaxInt32(t *testing.T) {
	if got := lastSeqOf(math.MaxInt32-1, 3); got != 0 {
		t.Errorf("lastSeqOf(MaxInt32-1, 3) = %d, want 0", got)
	}
	if got := lastSeqOf(math.MaxInt32, 1); got != math.MaxInt32 {
		t.Errorf("lastSeqOf(MaxInt32, 1) = %d, want MaxInt32", got)
	}
	if got := nextSeq(math.MaxInt32); got != 0 {
		t.Errorf("nextSeq(MaxInt32) = %d, want 0", got)
	}
	var s producerState
	var end int64
	mustAppend(t, &s, &end, 3, 0, math.MaxInt32-2, 2)       // MaxInt32-2 .. MaxInt32-1
	f, l := mustAppend(t, &s, &end, 3, 0, math.MaxInt32, 3) // MaxInt32, 0, 1
	if f != 2 || l != 4 {
		t.Fatalf("wrapping batch at %d-%d, want 2-4", f, l)
	}
	if e := s.m[3]; e.batches[1].lastSeq != 1 {
		t.Fatalf("wrapping batch recorded with last seq %d, want 1", e.batches[1].lastSeq)
	}
	mustAppend(t, &s, &end, 3, 0, 2, 1)
	if a, _, err := appendBatch(t, &s, &end, 3, 0, math.MaxInt32, 3); err != nil || a != 2 {
		t.Errorf("retry of the wrapping batch: offset %d err=%v, want duplicate at 2", a, err)
	}
	if _, err := s.check(3, 0, math.MaxInt32, math.MaxInt32); !errors.Is(err, errOutOfOrderSequence) {
		t.Errorf("reusing MaxInt32 after the wrap: err=%v, want out of order", err)
	}
}

func TestProducerStateTruncate(t *testing.T) {
	var s producerState
	var end int64
	mustAppend(t, &s, &end, 1, 0, 0, 2) // 0-1
	mustAppend(t, &s, &end, 2, 0, 0, 2) // 2-3
	mustAppend(t, &s, &end, 1, 0, 2, 2) // 4-5
	mustAppend(t, &s, &end, 2, 0, 2, 2) // 6-7
	s.truncate(4)
	end = 4
	// Producer 1 continues after its surviving batch; the truncated one is
	// neither a duplicate nor out of order.
	if dup, err := s.check(1, 0, 2, 3); dup != nil || err != nil {
		t.Errorf("producer 1 re-sending its truncated batch: dup=%v err=%v, want a new append", dup, err)
	}
	if _, err := s.check(2, 0, 4, 4); !errors.Is(err, errOutOfOrderSequence) {
		t.Errorf("producer 2 skipping its truncated batch: err=%v, want out of order", err)
	}
	if dup, _ := s.check(2, 0, 0, 1); dup == nil || dup.firstOffset != 2 {
		t.Errorf("producer 2 retry of its surviving batch: dup=%v, want offsets 2-3", dup)
	}
	// Truncating below all of a producer's batches forgets it.
	s.truncate(2)
	if _, ok := s.m[2]; ok {
		t.Error("producer 2 still known after truncating all its batches")
	}
	if len(s.m) != 1 {
		t.Errorf("%d producers after truncate(2), want 1", len(s.m))
	}
	s.truncate(0)
	if len(s.m) != 0 {
		t.Errorf("%d producers after truncate(0), want none", len(s.m))
	}
}

// modelBatch is one idempotent batch in the reference model's log.
type modelBatch struct {
	pid                int64
	epoch              int16
	first, last        int32
	firstOff, lastOff  int64
	forgottenByReplica bool
}

// producerModel is the reference: the log of every idempotent batch, from
// which a producer's state is derived the way Kafka defines it (its current
// epoch is its last batch's; it remembers the trailing run of at most five
// batches of that epoch). Truncation, which works on what is remembered,
// marks what the in-memory table no longer knows; a restart rebuilds it all
// from the log.
type producerModel struct {
	log []modelBatch
	end int64
}

func (m *producerModel) remembered(pid int64) []modelBatch {
	var run []modelBatch
	for _, b := range m.log {
		if b.pid != pid || b.forgottenByReplica {
			continue
		}
		if len(run) > 0 && run[0].epoch != b.epoch {
			run = run[:0]
		}
		run = append(run, b)
	}
	if len(run) > batchesRemembered {
		run = run[len(run)-batchesRemembered:]
	}
	return run
}

// verdict is the model's answer: "dup" with offsets, "ok", "fenced" or
// "order".
func (m *producerModel) verdict(pid int64, epoch int16, first, last int32) (string, int64) {
	rem := m.remembered(pid)
	if len(rem) == 0 {
		return "ok", 0
	}
	cur := rem[0].epoch
	switch {
	case epoch < cur:
		return "fenced", 0
	case epoch > cur:
		if first != 0 {
			return "order", 0
		}
		return "ok", 0
	}
	for _, b := range rem {
		if b.first == first && b.last == last {
			return "dup", b.firstOff
		}
	}
	prev := int64(rem[len(rem)-1].last)
	if int64(first) != (prev+1)%(math.MaxInt32+1) {
		return "order", 0
	}
	return "ok", 0
}

func (m *producerModel) truncate(off int64) {
	known := map[int64]map[int64]bool{} // pid -> remembered first offsets
	for _, b := range m.log {
		if known[b.pid] == nil {
			known[b.pid] = map[int64]bool{}
			for _, r := range m.remembered(b.pid) {
				known[b.pid][r.firstOff] = true
			}
		}
	}
	var out []modelBatch
	for _, b := range m.log {
		if b.lastOff >= off {
			continue
		}
		b.forgottenByReplica = !known[b.pid][b.firstOff]
		out = append(out, b)
	}
	m.log = out
	m.end = off
}

// TestProducerStateMatchesModel drives the table with random appends,
// retries, epoch bumps, sequence wraps, truncations and restarts (the table
// rebuilt from the log, as partition.rebuildProducers does) and compares
// every verdict and duplicate offset with the model.
func TestProducerStateMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var s producerState
		m := &producerModel{}
		rt.Repeat(map[string]func(*rapid.T){
			"append": func(rt *rapid.T) {
				pid := rapid.Int64Range(1, 3).Draw(rt, "pid")
				n := int32(rapid.IntRange(1, 4).Draw(rt, "n"))
				rem := m.remembered(pid)
				epochs := []int16{0, 1}
				if len(rem) > 0 { // mostly the current epoch, sometimes a bump or a zombie
					cur := rem[0].epoch
					epochs = []int16{cur, cur, cur, cur, cur, cur, cur + 1, cur - 1}
				}
				epoch := rapid.SampledFrom(epochs).Draw(rt, "epoch")
				// Mostly the next sequence, often an exact retry of a
				// remembered batch, sometimes anything else.
				var first int32
				switch kind := rapid.IntRange(0, 9).Draw(rt, "kind"); {
				case len(rem) > 0 && kind <= 5:
					first = int32((int64(rem[len(rem)-1].last) + 1) % (math.MaxInt32 + 1))
				case len(rem) > 0 && kind <= 7:
					old := rem[rapid.IntRange(0, len(rem)-1).Draw(rt, "retry")]
					first = old.first
					n = int32((int64(old.last)-int64(old.first)+math.MaxInt32+1)%(math.MaxInt32+1)) + 1
				default:
					first = rapid.SampledFrom([]int32{0, 1, math.MaxInt32 - 1, math.MaxInt32, int32(rapid.IntRange(0, 20).Draw(rt, "any"))}).Draw(rt, "first")
				}
				last := lastSeqOf(first, n)

				want, wantOff := m.verdict(pid, epoch, first, last)
				dup, err := s.check(pid, epoch, first, last)
				var got string
				switch {
				case errors.Is(err, errProducerFenced):
					got = "fenced"
				case errors.Is(err, errOutOfOrderSequence):
					got = "order"
				case err != nil:
					rt.Fatalf("unexpected error %v", err)
				case dup != nil:
					got = "dup"
				default:
					got = "ok"
				}
				if got != want {
					rt.Fatalf("pid %d epoch %d seq %d-%d: table says %s (err %v), model says %s; model log %v",
						pid, epoch, first, last, got, err, want, m.log)
				}
				if got == "dup" && dup.firstOffset != wantOff {
					rt.Fatalf("duplicate answered at offset %d, model says %d", dup.firstOffset, wantOff)
				}
				if got == "ok" {
					b := modelBatch{pid: pid, epoch: epoch, first: first, last: last, firstOff: m.end, lastOff: m.end + int64(n) - 1}
					m.log = append(m.log, b)
					m.end += int64(n)
					s.record(pid, epoch, producerBatch{firstSeq: first, lastSeq: last, firstOffset: b.firstOff, lastOffset: b.lastOff})
				}
			},
			"truncate": func(rt *rapid.T) {
				if m.end == 0 {
					rt.Skip("empty log")
				}
				// Truncation happens at batch boundaries.
				off := rapid.Int64Range(0, m.end).Draw(rt, "to")
				for _, b := range m.log {
					if b.firstOff < off && off <= b.lastOff {
						off = b.firstOff
					}
				}
				s.truncate(off)
				m.truncate(off)
			},
			"restart": func(rt *rapid.T) {
				s = producerState{}
				for i := range m.log {
					b := &m.log[i]
					s.record(b.pid, b.epoch, producerBatch{firstSeq: b.first, lastSeq: b.last, firstOffset: b.firstOff, lastOffset: b.lastOff})
					b.forgottenByReplica = false
				}
			},
			"": func(rt *rapid.T) {
				for pid := int64(1); pid <= 3; pid++ {
					rem := m.remembered(pid)
					e := s.m[pid]
					if len(rem) == 0 {
						if e != nil {
							rt.Fatalf("pid %d known to the table (%+v) but not the model", pid, *e)
						}
						continue
					}
					if e == nil || len(e.batches) != len(rem) || e.epoch != rem[0].epoch {
						rt.Fatalf("pid %d: table %s, model remembers %d batches of epoch %d", pid, fmt.Sprint(e), len(rem), rem[0].epoch)
					}
				}
			},
		})
	})
}
