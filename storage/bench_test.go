package storage

import (
	"os"
	"slices"
	"testing"
	"time"

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

// BenchmarkAppendSyncRolling: one 1 KiB append and one Sync per op (an
// acks=all producer at its own pace), with 2 MiB segments, so a segment
// rolls every ~2,000 ops, and retention deleting the oldest from another
// goroutine. It reports the p99 and p99.9 of an op next to those of a
// bare append-and-fsync of 1 KiB on the same file system (issue 9, item 6:
// rolls and retention must not show in the tail).
func BenchmarkAppendSyncRolling(b *testing.B) {
	cfg := DefaultConfig()
	cfg.SegmentBytes, cfg.RetentionBytes = 2<<20, 8<<20
	dir := b.TempDir()
	l, err := Open(afero.NewOsFs(), dir, cfg, newMock())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	batch := simpleBatch(1, 1024, epochMs, 'v')
	stop := make(chan struct{})
	retained := make(chan struct{})
	go func() {
		defer close(retained)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := l.EnforceRetention(); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		t := time.Now()
		info, err := l.Append(batch, 1)
		if err == nil {
			err = l.Sync(info.LastOffset + 1)
		}
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	close(stop)
	<-retained
	fs := fsyncLatencies(b, dir, len(lat))
	reportQuantiles(b, "op", lat)
	reportQuantiles(b, "fsync", fs)
}

// fsyncLatencies appends 1 KiB to a file in dir and fsyncs it n times (at
// least 1,000), returning each fsync's latency.
func fsyncLatencies(b *testing.B, dir string, n int) []time.Duration {
	f, err := os.CreateTemp(dir, "probe")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1024)
	out := make([]time.Duration, 0, max(n, 1000))
	for range max(n, 1000) {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		t := time.Now()
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(t))
	}
	return out
}

// reportQuantiles reports the p99 and p99.9 of lat in µs, as name-p99-µs
// and name-p99.9-µs.
func reportQuantiles(b *testing.B, name string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.99), name+"-p99-µs")
	b.ReportMetric(q(0.999), name+"-p99.9-µs")
}
