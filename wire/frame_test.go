package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// frameOf returns body behind a 4-byte size prefix.
func frameOf(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func TestReadFrameSequence(t *testing.T) {
	var stream []byte
	bodies := [][]byte{[]byte("abcd"), bytes.Repeat([]byte{7}, 300), []byte("wxyz1234")}
	for _, b := range bodies {
		stream = append(stream, frameOf(b)...)
	}
	r := iotest.OneByteReader(bytes.NewReader(stream))
	buf := make([]byte, 0, 16)
	for i, want := range bodies {
		got, err := ReadFrame(r, RequestBytesMax, buf)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: got %q, want %q", i, got, want)
		}
	}
	if _, err := ReadFrame(r, RequestBytesMax, buf); err != io.EOF {
		t.Fatalf("after the last frame: got %v, want io.EOF", err)
	}
}

func TestReadFrameReusesBuffer(t *testing.T) {
	buf := make([]byte, 64)
	got, err := ReadFrame(bytes.NewReader(frameOf([]byte("hello"))), RequestBytesMax, buf)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &buf[0] {
		t.Fatal("ReadFrame allocated although buf had room")
	}
}

func TestReadFrameErrors(t *testing.T) {
	neg := binary.BigEndian.AppendUint32(nil, 0xffffffff)
	tests := []struct {
		name  string
		input []byte
		max   int32
		want  error
	}{
		{"empty stream", nil, RequestBytesMax, io.EOF},
		{"partial size", []byte{0, 0}, RequestBytesMax, io.ErrUnexpectedEOF},
		{"partial body", frameOf([]byte("abcdef"))[:7], RequestBytesMax, io.ErrUnexpectedEOF},
		{"size only", frameOf([]byte("abcdef"))[:4], RequestBytesMax, io.ErrUnexpectedEOF},
		{"negative size", neg, RequestBytesMax, ErrBadFrame},
		{"zero size", frameOf(nil), RequestBytesMax, ErrBadFrame},
		{"too small", frameOf([]byte{1, 2, 3}), RequestBytesMax, ErrBadFrame},
		{"too large", frameOf(make([]byte, 100)), 99, ErrFrameTooLarge},
		{"huge claim", binary.BigEndian.AppendUint32(nil, 1<<30), RequestBytesMax, ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tt.input), tt.max, nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// A peer that claims a large frame and then stops must not make us
// allocate the whole claim up front.
func TestReadFrameLargeGrowsWithData(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16+5)
	got, err := ReadFrame(bytes.NewReader(frameOf(body)), RequestBytesMax, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatal("large frame body differs")
	}
	// Claim 90 MiB, send 10 bytes: the allocation must follow the data.
	claim := binary.BigEndian.AppendUint32(nil, 90<<20)
	input := append(claim, make([]byte, 10)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := ReadFrame(bytes.NewReader(input), RequestBytesMax, nil); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated large frame: got %v, want io.ErrUnexpectedEOF", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("allocated %d bytes for a 10-byte partial frame", grew)
	}
}
