package storage

import (
	"testing"

	"github.com/spf13/afero"
)

// benchBatch is 16 records of 1 KiB: a 16 KiB batch, as a producer with
// default linger would send.
func benchBatch() []byte { return simpleBatch(16, 1024, epochMs, 'v') }

func benchLog(b *testing.B) *Log {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 128 << 20 // roll a few times in a long run
	l, err := Open(afero.NewOsFs(), b.TempDir(), cfg, newMock())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// BenchmarkAppend: appends without fsync (page cache speed).
func BenchmarkAppend(b *testing.B) {
	l, batch := benchLog(b), benchBatch()
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendSync: one append and one fsync per 16 KiB batch, from a
// single writer (the worst case: no group commit possible).
func BenchmarkAppendSync(b *testing.B) {
	l, batch := benchLog(b), benchBatch()
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		info, err := l.Append(batch, 1)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Sync(info.LastOffset + 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendSyncParallel: many producers each append and wait for
// durability (acks=all with flush); group commit shares the fsyncs.
func BenchmarkAppendSyncParallel(b *testing.B) {
	l := benchLog(b)
	b.SetBytes(int64(len(benchBatch())))
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		batch := benchBatch()
		for pb.Next() {
			info, err := l.Append(batch, 1)
			if err != nil {
				b.Error(err)
				return
			}
			if err := l.Sync(info.LastOffset + 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRead: 1 MiB fetches walking a 64 MiB log from the page cache.
func BenchmarkRead(b *testing.B) {
	l, batch := benchLog(b), benchBatch()
	for l.Size() < 64<<20 {
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	off := int64(0)
	for b.Loop() {
		got, err := l.Read(off, 1<<20, l.EndOffset())
		if err != nil || len(got) == 0 {
			b.Fatalf("Read(%d): %d bytes, %v", off, len(got), err)
		}
		off += int64(len(got)/len(batch)) * 16
		if off >= l.EndOffset() {
			off = 0
		}
	}
}
