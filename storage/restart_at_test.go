package storage

import (
	"errors"
	"testing"

	"github.com/spf13/afero"
)

// TestRestartAtPastEnd: a follower behind its leader's log start empties
// its log and starts over at that offset, durably; an offset not past the
// end is refused.
func TestRestartAtPastEnd(t *testing.T) {
	fs := afero.NewMemMapFs()
	l := openT(t, fs, smallConfig(), newMock())
	fillT(t, l, 30) // offsets 0..59
	if err := l.RestartAt(60); !errors.Is(err, ErrInvalidOffset) {
		t.Fatalf("RestartAt at the end: %v, want ErrInvalidOffset", err)
	}
	if err := l.RestartAt(500); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 500 || l.EndOffset() != 500 || l.DurableEnd() != 500 || l.Size() != 0 {
		t.Fatalf("start %d end %d durable %d size %d, want an empty log at 500", l.StartOffset(), l.EndOffset(), l.DurableEnd(), l.Size())
	}
	if info := appendT(t, l, simpleBatch(1, 10, epochMs, 'x')); info.FirstOffset != 500 {
		t.Fatalf("append after RestartAt at %d, want 500", info.FirstOffset)
	}
	l.Close()
	l = openT(t, fs, smallConfig(), newMock())
	if l.StartOffset() != 500 || l.EndOffset() != 501 {
		t.Fatalf("after reopen: start %d end %d, want 500 and 501", l.StartOffset(), l.EndOffset())
	}
}
