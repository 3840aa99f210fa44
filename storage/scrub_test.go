package storage

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

// flipByte flips one bit of the byte at pos in file name under /data/p0.
func flipByte(t *testing.T, fs afero.Fs, name string, pos int64) {
	t.Helper()
	path := filepath.Join("/data/p0", name)
	b, err := afero.ReadFile(fs, path)
	if err != nil {
		t.Fatal(err)
	}
	b[pos] ^= 0x10
	if err := afero.WriteFile(fs, path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScrubFindsAFlippedBit: a bit flipped in a sealed segment's record
// bytes, or in a batch's length field, makes reads and the scrub report
// the bad batch's base offset (a *CorruptError); truncating to it leaves a
// log that reads and scrubs clean to its end.
func TestScrubFindsAFlippedBit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pos   func(batch int64) int64 // position in the segment to flip, given one batch's size
		which int                     // 0: the segment's first batch, 1: its second
	}{
		{"record bytes of the first batch", func(n int64) int64 { return n / 2 }, 0},
		{"record bytes of the second batch", func(n int64) int64 { return n + n/2 }, 1},
		{"the second batch's length field", func(n int64) int64 { return n + 8 }, 1},
		{"the second batch's base offset", func(n int64) int64 { return n + 7 }, 1},
		{"the second batch's magic", func(n int64) int64 { return n + 16 }, 1},
		{"the first batch's base offset", func(n int64) int64 { return 7 }, 0},
		// Outside the CRC: the epoch cache vouches for it.
		{"the second batch's leader epoch, high byte", func(n int64) int64 { return n + 12 }, 1},
		{"the first batch's leader epoch, low byte", func(n int64) int64 { return 15 }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := afero.NewMemMapFs()
			l := openT(t, fs, smallConfig(), newMock())
			defer l.Close()
			batch := simpleBatch(10, 60, epochMs, 'a')
			for range 40 {
				appendT(t, l, slices.Clone(batch))
			}
			if err := l.Sync(l.EndOffset()); err != nil {
				t.Fatal(err)
			}
			var logs []string
			names, _ := afero.ReadDir(fs, "/data/p0")
			for _, fi := range names {
				if strings.HasSuffix(fi.Name(), ".log") {
					logs = append(logs, fi.Name())
				}
			}
			slices.Sort(logs)
			if len(logs) < 4 {
				t.Fatalf("want several segments, have %v", logs)
			}
			victim := logs[2]
			var base int64
			for _, s := range l.segs {
				if filepath.Base(s.path(logSuffix)) == victim {
					base = s.base
				}
			}
			flipByte(t, fs, victim, tc.pos(int64(len(batch))))
			want := base + int64(tc.which)*10

			var ce *CorruptError
			if _, err := l.Read(want, 1<<20, l.EndOffset()); !errors.As(err, &ce) || ce.Offset != want || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Read at %d: %v, want a CorruptError at %d", want, err, want)
			}
			if tc.which == 1 {
				// A read from before the bad batch answers the intact ones.
				data, err := l.Read(base, 1<<20, l.EndOffset())
				if err != nil || len(data) != len(batch) {
					t.Fatalf("Read at %d: %d bytes, %v; want the one intact batch before the bad one", base, len(data), err)
				}
			}
			from, corrupt := int64(0), int64(-1)
			buf := make([]byte, 512)
			for steps := 0; from < l.EndOffset() && steps < 1000; steps++ {
				next, _, err := l.Scrub(from, buf)
				if errors.As(err, &ce) {
					corrupt = ce.Offset
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				from = next
			}
			if corrupt != want {
				t.Fatalf("scrub found corruption at %d, want %d", corrupt, want)
			}
			if end, err := l.TruncateCorrupt(ce); err != nil || end != want {
				t.Fatalf("TruncateCorrupt(%v) = %d, %v; want the log to end at %d", ce, end, err, want)
			}
			for from = 0; from < l.EndOffset(); {
				next, _, err := l.Scrub(from, buf)
				if err != nil {
					t.Fatalf("scrub after the truncation, at %d: %v", from, err)
				}
				from = next
			}
			if got := len(readAllT(t, l, 0)); int64(got) != want/10 {
				t.Fatalf("%d batches left, want %d", got, want/10)
			}
		})
	}
}
