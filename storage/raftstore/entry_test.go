package raftstore

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/raft"
)

func TestEntryRoundTrip(t *testing.T) {
	for i := uint64(1); i <= 12; i++ {
		in := testLog(i, i*7)
		b, err := appendEntry([]byte("prefix"), in)
		if err != nil {
			t.Fatal(err)
		}
		b = b[len("prefix"):]
		if len(b) != frameSize(in) {
			t.Fatalf("frame of %d bytes, frameSize says %d", len(b), frameSize(in))
		}
		var out raft.Log
		n, err := decodeEntry(append(b, 0xde, 0xad), &out)
		if err != nil || n != len(b) {
			t.Fatalf("decode: n=%d err=%v, expected n=%d", n, err, len(b))
		}
		if !sameLog(in, &out) {
			t.Fatalf("round trip: got %+v, expected %+v", out, *in)
		}
		for cut := range len(b) {
			if _, err := decodeEntry(b[:cut], &out); !errors.Is(err, errShortFrame) && !errors.Is(err, errBadFrame) {
				t.Fatalf("truncated to %d: err %v", cut, err)
			}
		}
	}
}

func TestEntryRejectsOversize(t *testing.T) {
	if _, err := appendEntry(nil, &raft.Log{Index: 1, Data: make([]byte, entryBytesMax)}); err == nil {
		t.Fatal("oversized entry encoded")
	}
}

// FuzzDecodeEntry feeds arbitrary bytes to the segment entry decoder: it
// must never panic, and whatever it accepts must re-encode to the same
// bytes.
func FuzzDecodeEntry(f *testing.F) {
	for i := uint64(1); i <= 6; i++ {
		b, _ := appendEntry(nil, testLog(i, 3))
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 34, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		n, err := decodeEntry(b, &l)
		if err != nil {
			if !errors.Is(err, errShortFrame) && !errors.Is(err, errBadFrame) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		again, err := appendEntry(nil, &l)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, b[:n])
		}
	})
}
