package core

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// Producer-state snapshots (Kafka's <offset>.snapshot): the encoding on
// its own. partition_snapshot_test.go covers writing, loading, truncation
// and expiry on a partition.

// drawProducerState draws a table the append path could have built below
// offset end: 1 to 5 batches per producer, ascending offsets.
func drawProducerState(t *rapid.T, end int64) producerState {
	s := producerState{m: map[int64]*producerEntry{}}
	n := rapid.IntRange(0, 20).Draw(t, "producers")
	next := int64(0)
	for i := 0; i < n; i++ {
		pid := rapid.Int64Range(0, math.MaxInt64).Draw(t, "pid")
		e := &producerEntry{epoch: int16(rapid.IntRange(0, math.MaxInt16).Draw(t, "epoch"))}
		for j := rapid.IntRange(1, batchesRemembered).Draw(t, "batches"); j > 0 && next < end; j-- {
			first := int32(rapid.IntRange(0, math.MaxInt32).Draw(t, "seq"))
			count := int32(rapid.IntRange(1, 10).Draw(t, "records"))
			last := min(next+int64(count)-1, end-1)
			e.batches = append(e.batches, producerBatch{
				firstSeq: first, lastSeq: lastSeqOf(first, int32(last-next+1)),
				firstOffset: next, lastOffset: last,
				maxTs: rapid.Int64().Draw(t, "ts"),
			})
			next = last + 1 + int64(rapid.IntRange(0, 3).Draw(t, "gap"))
		}
		if len(e.batches) > 0 {
			s.m[pid] = e
		}
	}
	return s
}

func TestProducerSnapshotRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		end := rapid.Int64Range(0, 1<<40).Draw(t, "end")
		s := drawProducerState(t, end)
		b, err := encodeSnapshot(end, &s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeSnapshot(b, end)
		if err != nil {
			t.Fatalf("decoding what was encoded: %v", err)
		}
		if len(got.m) != len(s.m) || (len(s.m) > 0 && !reflect.DeepEqual(got.m, s.m)) {
			t.Fatalf("round trip changed the table:\n got %v\nwant %v", got.m, s.m)
		}
		again, _ := encodeSnapshot(end, &got)
		if !bytes.Equal(again, b) {
			t.Fatal("encoding is not deterministic")
		}
		if _, err := decodeSnapshot(b, end+1); !errors.Is(err, errSnapshotCorrupt) {
			t.Fatalf("snapshot read under another offset's name: err %v, want corrupt", err)
		}
	})
}

// TestProducerSnapshotDetectsDamage: every single-bit flip and every cut
// of a snapshot is refused as corrupt, never read as another table.
func TestProducerSnapshotDetectsDamage(t *testing.T) {
	s := producerState{}
	var end int64
	for pid := int64(1); pid <= 3; pid++ {
		for seq := int32(0); seq < 12; seq += 2 {
			s.record(pid, 1, producerBatch{firstSeq: seq, lastSeq: seq + 1, firstOffset: end, lastOffset: end + 1, maxTs: 1000 + end})
			end += 2
		}
	}
	b, err := encodeSnapshot(end, &s)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			c := bytes.Clone(b)
			c[i] ^= 1 << bit
			if _, err := decodeSnapshot(c, end); !errors.Is(err, errSnapshotCorrupt) {
				t.Fatalf("bit %d of byte %d flipped: err %v, want corrupt", bit, i, err)
			}
		}
	}
	for n := 0; n < len(b); n++ {
		if _, err := decodeSnapshot(b[:n], end); !errors.Is(err, errSnapshotCorrupt) {
			t.Fatalf("cut to %d of %d bytes: err %v, want corrupt", n, len(b), err)
		}
	}
	if _, err := decodeSnapshot(append(bytes.Clone(b), 0), end); !errors.Is(err, errSnapshotCorrupt) {
		t.Fatalf("trailing byte: err %v, want corrupt", err)
	}
}

func TestSnapshotNames(t *testing.T) {
	for _, off := range []int64{0, 1, 123456789, math.MaxInt64} {
		got, ok := parseSnapshotName(snapshotName(off))
		if !ok || got != off {
			t.Errorf("%q parses as %d, %v", snapshotName(off), got, ok)
		}
	}
	for _, name := range []string{"00000000000000000012.snapshot.tmp", "12.snapshot", "00000000000000000012.log", "-0000000000000000012.snapshot"} {
		if off, ok := parseSnapshotName(name); ok {
			t.Errorf("%q parsed as snapshot %d", name, off)
		}
	}
}

// FuzzProducerSnapshot: decoding never panics, and what it accepts
// encodes back to the same bytes.
func FuzzProducerSnapshot(f *testing.F) {
	s := producerState{}
	s.record(7, 2, producerBatch{firstSeq: 0, lastSeq: 4, firstOffset: 10, lastOffset: 14, maxTs: 99})
	good, _ := encodeSnapshot(20, &s)
	f.Add(good, int64(20))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, b []byte, off int64) {
		st, err := decodeSnapshot(b, off)
		if err != nil {
			return
		}
		again, err := encodeSnapshot(off, &st)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, which encodes back to %x (%v)", b, again, err)
		}
	})
}
