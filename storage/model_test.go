package storage

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// mBatch is one batch of the reference model.
type mBatch struct {
	base, next int64
	raw        []byte
}

// model is the whole log as a list: what Read and Batches must show.
type model struct {
	start, end int64
	batches    []mBatch
	epoch      int32 // the last epoch appended in: epochs never go down
}

// from returns the batches from the one holding off.
func (m *model) from(off int64) []mBatch {
	for i, b := range m.batches {
		if b.next > off {
			return m.batches[i:]
		}
	}
	return nil
}

func (m *model) cut(off int64) {
	keep := m.batches[:0]
	for _, b := range m.batches {
		if b.base < off {
			keep = append(keep, b)
		}
	}
	m.batches, m.end = keep, off
}

func (m *model) dropBelowStart() {
	for len(m.batches) > 0 && m.batches[0].next <= m.start {
		m.batches = m.batches[1:]
	}
}

// boundaries returns the offsets TruncateTo accepts at or above start.
func (m *model) boundaries() []int64 {
	out := []int64{m.end}
	for _, b := range m.batches {
		if b.base >= m.start {
			out = append(out, b.base)
		}
	}
	return out
}

// logMachine drives a Log and the model side by side.
type logMachine struct {
	disk *crashFS
	clk  *testClock
	l    *Log
	cfg  Config
	m    model
}

func (s *logMachine) reopen(t *rapid.T) {
	l, err := Open(s.disk, "/data/p0", s.cfg, s.clk)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.l = l
}

func (s *logMachine) append(t *rapid.T) {
	var req []byte
	var parts [][]byte
	for range rapid.IntRange(1, 3).Draw(t, "batches") {
		n := rapid.IntRange(1, 4).Draw(t, "records")
		recs := make([]testRecord, n)
		for i := range recs {
			recs[i] = testRecord{tsDelta: int64(rapid.IntRange(-5, 50).Draw(t, "tsDelta")), value: make([]byte, rapid.IntRange(0, 60).Draw(t, "size"))}
		}
		b := buildBatch(epochMs+int64(rapid.IntRange(0, 1000).Draw(t, "ts")), recs)
		parts = append(parts, b)
		req = append(req, b...)
	}
	epoch := s.m.epoch + rapid.Int32Range(0, 2).Draw(t, "epochStep")
	s.m.epoch = epoch
	info, err := s.l.Append(req, epoch)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if info.FirstOffset != s.m.end {
		t.Fatalf("Append at %d, model end %d", info.FirstOffset, s.m.end)
	}
	for _, b := range parts {
		h, _ := parseBatchHeader(b)
		base := s.m.end
		s.m.batches = append(s.m.batches, mBatch{base, base + int64(h.lastOffsetDelta) + 1, withOffset(b, base, epoch)})
		s.m.end = base + int64(h.lastOffsetDelta) + 1
	}
}

func (s *logMachine) read(t *rapid.T) {
	off := rapid.Int64Range(s.m.start-1, s.m.end+1).Draw(t, "offset")
	maxBytes := rapid.IntRange(0, 2000).Draw(t, "maxBytes")
	upTo := rapid.SampledFrom([]int64{math.MaxInt64, s.m.end, off + 1, off + 5}).Draw(t, "upTo")
	got, err := s.l.Read(off, maxBytes, upTo)
	if off < s.m.start || off > s.m.end {
		if !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read(%d) outside [%d, %d]: %v", off, s.m.start, s.m.end, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Read(%d): %v", off, err)
	}
	var want []mBatch
	for _, b := range s.m.from(off) {
		if b.base >= upTo {
			break
		}
		want = append(want, b)
	}
	parts, err := splitBatches(got)
	if err != nil {
		t.Fatalf("Read(%d) returned bad batches: %v", off, err)
	}
	if len(want) > 0 && len(parts) == 0 || len(parts) > len(want) {
		t.Fatalf("Read(%d, %d, %d) gave %d batches, model has %d", off, maxBytes, upTo, len(parts), len(want))
	}
	if len(parts) > 1 && len(got) > maxBytes {
		t.Fatalf("Read gave %d batches in %d bytes, maxBytes %d", len(parts), len(got), maxBytes)
	}
	for i, p := range parts {
		if !bytes.Equal(p, want[i].raw) {
			t.Fatalf("Read(%d): batch %d differs from the model's batch at %d", off, i, want[i].base)
		}
	}
}

func (s *logMachine) crash(t *rapid.T) {
	durable := s.l.DurableEnd()
	s.disk.Crash(rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 0)))
	s.reopen(t)
	end := s.l.EndOffset()
	if end < min(durable, s.m.end) || end > s.m.end {
		t.Fatalf("recovered end %d; durable was %d, model end %d", end, durable, s.m.end)
	}
	keep := s.m.batches[:0]
	for _, b := range s.m.batches {
		if b.next <= end {
			keep = append(keep, b)
		}
	}
	boundary := end == s.m.start || len(keep) > 0 && keep[len(keep)-1].next == end
	if !boundary {
		t.Fatalf("recovered end %d is not a batch boundary of the model", end)
	}
	// Below a durable log start nothing is kept: the log restarts there.
	s.m.batches, s.m.end = keep, end
}

func (s *logMachine) check(t *rapid.T) {
	if s.l.StartOffset() != s.m.start || s.l.EndOffset() != s.m.end {
		t.Fatalf("log [%d, %d), model [%d, %d)", s.l.StartOffset(), s.l.EndOffset(), s.m.start, s.m.end)
	}
	want := s.m.from(s.m.start)
	i := 0
	err := s.l.Batches(s.m.start, func(base int64, raw []byte) error {
		if i >= len(want) || base != want[i].base || !bytes.Equal(raw, want[i].raw) {
			t.Fatalf("Batches: batch %d at %d does not match the model", i, base)
		}
		i++
		return nil
	})
	if err != nil || i != len(want) {
		t.Fatalf("Batches saw %d of %d model batches: %v", i, len(want), err)
	}
}

// TestLogMatchesModel runs random sequences of appends, reads, syncs,
// truncations, deletions, retention, clean restarts and crashes against a
// log with tiny segments, checking it against the model after each step.
func TestLogMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := &logMachine{disk: newCrashFS(), clk: newMock()}
		s.cfg = Config{
			SegmentBytes:       rapid.Int64Range(1024, 3000).Draw(t, "segmentBytes"),
			SegmentMs:          rapid.Int64Range(1, 5000).Draw(t, "segmentMs"),
			RetentionBytes:     -1,
			RetentionMs:        -1,
			IndexIntervalBytes: rapid.Int32Range(1, 600).Draw(t, "indexInterval"),
			SegmentIndexBytes:  rapid.Int32Range(48, 400).Draw(t, "indexBytes"),
		}
		s.reopen(t)
		t.Repeat(map[string]func(*rapid.T){
			"append": s.append,
			"read":   s.read,
			"crash":  s.crash,
			"":       s.check,
			"sync": func(t *rapid.T) {
				if err := s.l.Sync(s.m.end); err != nil || s.l.DurableEnd() < s.m.end {
					t.Fatalf("Sync(%d): %v, durable %d", s.m.end, err, s.l.DurableEnd())
				}
			},
			"truncate": func(t *rapid.T) {
				off := rapid.SampledFrom(s.m.boundaries()).Draw(t, "truncateTo")
				if s.m.start > 0 && rapid.IntRange(0, 9).Draw(t, "belowStart") == 0 {
					off = s.m.start - 1
				}
				if err := s.l.TruncateTo(off); err != nil {
					t.Fatalf("TruncateTo(%d): %v", off, err)
				}
				if off < s.m.start {
					s.m.start, s.m.batches = off, nil
				}
				s.m.cut(off)
			},
			"deleteBefore": func(t *rapid.T) {
				off := rapid.Int64Range(s.m.start, s.m.end).Draw(t, "deleteBefore")
				if err := s.l.DeleteBefore(off); err != nil {
					t.Fatalf("DeleteBefore(%d): %v", off, err)
				}
				s.m.start = off
				s.m.dropBelowStart()
			},
			"reopen": func(t *rapid.T) {
				if err := s.l.Close(); err != nil {
					t.Fatal(err)
				}
				s.reopen(t)
			},
			"retention": func(t *rapid.T) {
				s.clk.Add(time.Duration(rapid.IntRange(0, 3000).Draw(t, "advanceMs")) * time.Millisecond)
				cfg := s.cfg
				cfg.RetentionBytes = rapid.SampledFrom([]int64{-1, 500, 3000}).Draw(t, "retentionBytes")
				cfg.RetentionMs = rapid.SampledFrom([]int64{-1, 1000, 1 << 40}).Draw(t, "retentionMs")
				s.l.SetConfig(cfg)
				if _, err := s.l.EnforceRetention(); err != nil {
					t.Fatalf("EnforceRetention: %v", err)
				}
				s.l.SetConfig(s.cfg)
				if st := s.l.StartOffset(); st < s.m.start || st > s.m.end {
					t.Fatalf("start %d after retention, model [%d, %d]", st, s.m.start, s.m.end)
				}
				moved := s.l.StartOffset() > s.m.start
				s.m.start = s.l.StartOffset()
				s.m.dropBelowStart()
				if moved && len(s.m.batches) > 0 && s.m.batches[0].base != s.m.start {
					t.Fatalf("retention moved the start to %d, inside the batch at %d", s.m.start, s.m.batches[0].base)
				}
			},
		})
	})
}
