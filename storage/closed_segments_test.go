package storage

import (
	"testing"

	"github.com/spf13/afero"
)

// TestClosedSegmentsListsDeletablePrefix: every segment but the active one,
// oldest first, each with the offset DeleteBefore needs to delete it and
// its size; after DeleteBefore(first.Next) the list starts at the next one.
func TestClosedSegmentsListsDeletablePrefix(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	for i := range 40 {
		appendT(t, l, simpleBatch(3, 50, epochMs+int64(i), byte(i)))
	}
	segs := l.ClosedSegments()
	if len(segs) != l.Segments()-1 || len(segs) < 2 {
		t.Fatalf("%d closed segments of %d", len(segs), l.Segments())
	}
	var sum int64
	for i, s := range segs {
		if i > 0 && s.Base != segs[i-1].Next {
			t.Fatalf("segment %d starts at %d, after one ending at %d", i, s.Base, segs[i-1].Next)
		}
		if s.Bytes <= 0 || s.MaxTimestamp < epochMs {
			t.Fatalf("segment %d: %+v", i, s)
		}
		sum += s.Bytes
	}
	if active := l.Size() - sum; active <= 0 {
		t.Fatalf("closed segments hold %d of %d bytes: the active one counted", sum, l.Size())
	}
	if segs[0].Base != 0 {
		t.Fatalf("first closed segment starts at %d", segs[0].Base)
	}
	if err := l.DeleteBefore(segs[0].Next); err != nil {
		t.Fatal(err)
	}
	after := l.ClosedSegments()
	if len(after) != len(segs)-1 || after[0] != segs[1] {
		t.Fatalf("after deleting the first: %+v, want %+v", after, segs[1:])
	}
	// A start inside a segment: that segment is listed from the start on.
	mid := after[0].Base + 1
	if err := l.DeleteBefore(mid); err != nil {
		t.Fatal(err)
	}
	if got := l.ClosedSegments()[0]; got.Base != mid || got.Next != after[0].Next {
		t.Fatalf("after DeleteBefore(%d): first %+v", mid, got)
	}
}

// TestDeleteSegmentsBeforeWritesNothing: whole closed segments go, the
// start moves to the first one left, the active segment stays even when
// offset is past it, and no start file is written (a reopened log finds
// the same start from its segments).
func TestDeleteSegmentsBeforeWritesNothing(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	for i := range 40 {
		appendT(t, l, simpleBatch(3, 50, epochMs+int64(i), byte(i)))
	}
	segs := l.ClosedSegments()
	n, err := l.DeleteSegmentsBefore(segs[1].Next)
	if err != nil || n != 2 {
		t.Fatalf("DeleteSegmentsBefore(%d) = %d, %v; want 2 segments", segs[1].Next, n, err)
	}
	if got := l.StartOffset(); got != segs[1].Next {
		t.Fatalf("start %d, want %d", got, segs[1].Next)
	}
	if ok, _ := afero.Exists(fs, "/data/p0/"+startFileName); ok {
		t.Fatal("a start file was written")
	}
	end := l.EndOffset()
	if _, err := l.DeleteSegmentsBefore(end + 100); err != nil {
		t.Fatal(err)
	}
	if l.Segments() != 1 || l.EndOffset() != end || l.StartOffset() == end {
		t.Fatalf("after deleting everything: %d segments, start %d, end %d (was %d): the active segment must stay",
			l.Segments(), l.StartOffset(), l.EndOffset(), end)
	}
	start := l.StartOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, fs, smallConfig(), newMock())
	if l.StartOffset() != start || l.EndOffset() != end {
		t.Fatalf("reopened: start %d end %d, want %d %d", l.StartOffset(), l.EndOffset(), start, end)
	}
}
