package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/jocko/jocko/wire"
)

// cloneDisk copies every file of c into a new crashFS, all of it synced.
func cloneDisk(t *testing.T, c *crashFS) *crashFS {
	t.Helper()
	out := newCrashFS()
	err := afero.Walk(c.Fs, "/", func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := afero.ReadFile(c.Fs, p)
		if err != nil {
			return err
		}
		if err := out.Fs.MkdirAll("/data/p0", 0o755); err != nil {
			return err
		}
		out.synced[p] = b
		return afero.WriteFile(out.Fs, p, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compactFixture appends generations of keyed batches with tombstones
// over several segments, syncs and closes the log.
func compactFixture(t *testing.T) (*crashFS, *testClock) {
	disk, clk := newCrashFS(), newMock()
	cfg := smallConfig()
	cfg.SegmentBytes = 1024
	l := openT(t, disk, cfg, clk)
	for i := range 60 {
		var recs []kv
		for j := range 1 + i%3 {
			k := (i*7 + j) % 9
			var v []byte
			if (i+j)%11 != 0 {
				v = fmt.Appendf(nil, "value %d of k%d", i, k)
			}
			recs = append(recs, kv{fmt.Appendf(nil, "k%d", k), v})
		}
		codec := []wire.Codec{wire.CodecNone, wire.CodecSnappy}[i%2]
		appendT(t, l, keyedBatch(t, clk.Now().UnixMilli(), codec, recs))
		clk.Add(time.Millisecond)
	}
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return disk, clk
}

// latestByKey returns each key's record with the highest offset.
func latestByKey(recs []cRec) map[string]cRec {
	m := map[string]cRec{}
	for _, r := range recs {
		m[string(r.key)] = r
	}
	return m
}

// TestCompactFaultEveryOperation fails the i-th file operation of a Compact
// for every i, crashes (dropping what was not fsynced), reopens, and checks
// that every batch is either as it was before compaction or as a clean
// compaction leaves it, that nothing compaction keeps is lost, and that no
// key comes back from a tombstone or loses its latest value.
func TestCompactFaultEveryOperation(t *testing.T) {
	base, clk := compactFixture(t)
	cc := CompactConfig{DeleteRetentionMs: 20} // the oldest tombstones expire
	readDisk := func(fs afero.Fs) ([]cRec, map[int64][]byte, int64) {
		l := openT(t, fs, smallConfig(), clk)
		defer l.Close()
		recs, batches := logRecords(t, l)
		checkReads(t, l)
		return recs, batches, l.EndOffset()
	}
	pre, preBatches, end := readDisk(cloneDisk(t, base))
	postDisk := cloneDisk(t, base)
	l := openT(t, postDisk, smallConfig(), clk)
	if st, err := l.Compact(cc); err != nil || st.SegmentsRewritten < 2 {
		t.Fatalf("Compact: %+v, %v", st, err)
	}
	l.Close()
	post, postBatches, _ := readDisk(postDisk)
	if len(post) >= len(pre) {
		t.Fatalf("compaction kept %d of %d records", len(post), len(pre))
	}
	preLatest := latestByKey(pre)
	for i := 1; ; i++ {
		disk := cloneDisk(t, base)
		ffs := &faultFS{Fs: disk}
		l := openT(t, ffs, smallConfig(), clk)
		ffs.mu.Lock()
		ffs.failAt = ffs.ops + i
		ffs.mu.Unlock()
		_, cerr := l.Compact(cc)
		ffs.mu.Lock()
		done, failed := ffs.ops < ffs.failAt, ffs.failed
		ffs.failAt = 0
		ffs.mu.Unlock()
		l.Close()
		if !done && !errors.Is(cerr, errInjected) {
			t.Fatalf("op %d (%s): Compact returned %v", i, failed, cerr)
		}
		disk.Crash(newRand(uint64(i)))
		what := fmt.Sprintf("fail op %d (%s)", i, failed)
		got, gotBatches, gotEnd := readDisk(disk)
		if gotEnd != end {
			t.Fatalf("%s: log end %d, want %d", what, gotEnd, end)
		}
		for b, raw := range gotBatches {
			if !bytes.Equal(raw, preBatches[b]) && !bytes.Equal(raw, postBatches[b]) {
				t.Fatalf("%s: batch at %d is neither the old nor the compacted one", what, b)
			}
		}
		checkBetween(t, what, got, pre, post)
		gotLatest := latestByKey(got)
		for k, want := range preLatest {
			g, ok := gotLatest[k]
			if want.null && ok && !g.null || !want.null && (!ok || g.off != want.off) {
				t.Fatalf("%s: key %s latest at %d (null %v), was %d (null %v)", what, k, g.off, g.null, want.off, want.null)
			}
		}
		if done {
			t.Logf("Compact takes %d file operations", i-1)
			return
		}
	}
}

// checkBetween checks post ⊆ got ⊆ pre, by offset and record bytes.
func checkBetween(t *testing.T, what string, got, pre, post []cRec) {
	t.Helper()
	byOff := func(rs []cRec) map[int64][]byte {
		m := map[int64][]byte{}
		for _, r := range rs {
			m[r.off] = r.raw
		}
		return m
	}
	g, p := byOff(got), byOff(pre)
	for off, raw := range g {
		if !bytes.Equal(raw, p[off]) {
			t.Fatalf("%s: record at %d was not in the log before", what, off)
		}
	}
	for _, r := range post {
		if !bytes.Equal(g[r.off], r.raw) {
			t.Fatalf("%s: record at %d, kept by compaction, is lost", what, r.off)
		}
	}
}

// TestCompactConcurrent compacts over and over while one goroutine appends
// and syncs and another reads, under -race: reads never fail or see a hole,
// and at the end every key reads back its last value.
func TestCompactConcurrent(t *testing.T) {
	for _, fsName := range []string{"mem", "os"} {
		t.Run(fsName, func(t *testing.T) {
			var fs afero.Fs = afero.NewMemMapFs()
			dir := "/data/p0"
			if fsName == "os" {
				fs, dir = afero.NewOsFs(), t.TempDir()
			}
			cfg := smallConfig()
			cfg.SegmentBytes = 2048
			clk := newMock()
			l, err := Open(fs, dir, cfg, clk)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var stop atomic.Bool
			var wg sync.WaitGroup
			last := map[string][]byte{}
			errs := make(chan error, 3)
			wg.Add(3)
			go func() { // appender
				defer wg.Done()
				defer stop.Store(true)
				for i := range 1500 {
					k := fmt.Appendf(nil, "k%d", i%37)
					v := fmt.Appendf(nil, "v%d", i)
					info, err := l.Append(keyedBatch(t, clk.Now().UnixMilli(), wire.CodecNone, []kv{{k, v}}), 1)
					if err == nil && i%10 == 0 {
						err = l.Sync(info.LastOffset + 1)
					}
					if err != nil {
						errs <- fmt.Errorf("append %d: %w", i, err)
						return
					}
					last[string(k)] = v
				}
			}()
			go func() { // reader
				defer wg.Done()
				for !stop.Load() {
					next := l.StartOffset()
					err := l.Batches(next, func(base int64, raw []byte) error {
						if base != next {
							return fmt.Errorf("batch at %d, expected %d", base, next)
						}
						h, err := parseBatchHeader(raw)
						next = h.nextOffset()
						return err
					})
					if err == nil {
						_, err = l.Read(l.EndOffset()/2, 500, 1<<62)
					}
					if err != nil {
						errs <- fmt.Errorf("read: %w", err)
						return
					}
				}
			}()
			go func() { // compactor
				defer wg.Done()
				for n := 0; !stop.Load(); n++ {
					if _, err := l.Compact(CompactConfig{MinCleanableRatio: 0.2}); err != nil {
						errs <- fmt.Errorf("compact %d: %w", n, err)
						return
					}
				}
			}()
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			l.mu.Lock()
			if err := l.roll(); err != nil {
				t.Fatal(err)
			}
			l.mu.Unlock()
			before := l.Size()
			if _, err := l.Compact(CompactConfig{}); err != nil {
				t.Fatal(err)
			}
			recs, _ := logRecords(t, l)
			if len(recs) != len(last) {
				t.Fatalf("%d records left for %d keys (size %d, was %d)", len(recs), len(last), l.Size(), before)
			}
			for _, r := range recs {
				if !bytes.HasSuffix(r.raw, append(append([]byte{byte(2 * len(last[string(r.key)]))}, last[string(r.key)]...), 0)) {
					t.Fatalf("key %s does not end with its last value %s", r.key, last[string(r.key)])
				}
			}
		})
	}
}

// BenchmarkCompact cleans a log of 64 segments of 1 MiB holding 200k
// updates of 1000 keys (100-byte values, 10 records a batch).
func BenchmarkCompact(b *testing.B) {
	const batches, perBatch, keys = 20000, 10, 1000
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1 << 20
	src := afero.NewMemMapFs()
	clk := newMock()
	l, err := Open(src, "/data/p0", cfg, clk)
	if err != nil {
		b.Fatal(err)
	}
	val := bytes.Repeat([]byte{'v'}, 100)
	for i := range batches {
		recs := make([]kv, perBatch)
		for j := range recs {
			recs[j] = kv{fmt.Appendf(nil, "key-%04d", (i*perBatch+j)%keys), val}
		}
		if _, err := l.Append(keyedBatch(b, clk.Now().UnixMilli(), wire.CodecNone, recs), 1); err != nil {
			b.Fatal(err)
		}
	}
	l.Close()
	size := int64(0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fs := afero.NewMemMapFs()
		afero.Walk(src, "/data/p0", func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				data, _ := afero.ReadFile(src, p)
				fs.MkdirAll("/data/p0", 0o755)
				afero.WriteFile(fs, p, data, 0o644)
			}
			return err
		})
		l, err := Open(fs, "/data/p0", cfg, clk)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := l.Compact(CompactConfig{})
		if err != nil || st.SegmentsRewritten == 0 {
			b.Fatalf("Compact: %+v, %v", st, err)
		}
		size = st.BytesBefore
		b.StopTimer()
		l.Close()
		b.StartTimer()
	}
	b.SetBytes(size)
}
