package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/spf13/afero"
)

// testRecord is one record of a test batch.
type testRecord struct {
	tsDelta int64
	value   []byte
}

// buildBatch returns an uncompressed magic v2 batch with a valid CRC,
// base offset 0 and no producer.
func buildBatch(firstTs int64, recs []testRecord) []byte {
	b := make([]byte, batchHeaderLen)
	maxTs := firstTs
	for i, r := range recs {
		var body []byte
		body = append(body, 0) // attributes
		body = binary.AppendVarint(body, r.tsDelta)
		body = binary.AppendVarint(body, int64(i))
		body = binary.AppendVarint(body, -1) // no key
		body = binary.AppendVarint(body, int64(len(r.value)))
		body = append(body, r.value...)
		body = binary.AppendVarint(body, 0) // no headers
		b = binary.AppendVarint(b, int64(len(body)))
		b = append(b, body...)
		maxTs = max(maxTs, firstTs+r.tsDelta)
	}
	be := binary.BigEndian
	be.PutUint32(b[8:], uint32(len(b)-12))
	b[16] = 2
	be.PutUint32(b[23:], uint32(len(recs)-1))
	be.PutUint64(b[27:], uint64(firstTs))
	be.PutUint64(b[35:], uint64(maxTs))
	be.PutUint64(b[43:], ^uint64(0)) // producer id -1
	be.PutUint16(b[51:], 0xffff)
	be.PutUint32(b[53:], 0xffffffff)
	be.PutUint32(b[57:], uint32(len(recs)))
	be.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// simpleBatch returns a batch of n records of size bytes each, all at ts.
func simpleBatch(n, size int, ts int64, fill byte) []byte {
	recs := make([]testRecord, n)
	for i := range recs {
		recs[i] = testRecord{value: bytes.Repeat([]byte{fill}, size)}
	}
	return buildBatch(ts, recs)
}

// epochMs is where test clocks start (never zero).
const epochMs = 1_700_000_000_000

// testClock is a manual clock. The log only calls Now; clock.Mock would
// do too, but its Set and Add sleep a millisecond each to yield.
type testClock struct {
	clock.Clock // nil: anything but Now panics
	ns          atomic.Int64
}

func (c *testClock) Now() time.Time                  { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Add(d time.Duration)             { c.ns.Add(int64(d)) }
func (c *testClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func newMock() *testClock {
	c := &testClock{}
	c.ns.Store(epochMs * 1e6)
	return c
}

// smallConfig rolls often and indexes every batch that is 64 bytes on.
func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 4096
	cfg.IndexIntervalBytes = 64
	cfg.SegmentIndexBytes = 1024
	return cfg
}

func openT(t testing.TB, fs afero.Fs, cfg Config, clk clock.Clock) *Log {
	t.Helper()
	l, err := Open(fs, "/data/p0", cfg, clk)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func appendT(t testing.TB, l *Log, batch []byte) AppendInfo {
	t.Helper()
	info, err := l.Append(batch, 7)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return info
}

// readAllT returns every batch from offset from, via Batches, copied.
func readAllT(t testing.TB, l *Log, from int64) map[int64][]byte {
	t.Helper()
	got := map[int64][]byte{}
	err := l.Batches(from, func(base int64, raw []byte) error {
		got[base] = bytes.Clone(raw)
		return nil
	})
	if err != nil {
		t.Fatalf("Batches: %v", err)
	}
	return got
}

// splitBatches splits back-to-back batches, checking each CRC.
func splitBatches(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		h, err := parseBatchHeader(b)
		if err != nil {
			return nil, err
		}
		if h.size() > int64(len(b)) {
			return nil, errors.New("partial batch")
		}
		if err := checkBatchCRC(b[:h.size()]); err != nil {
			return nil, err
		}
		out = append(out, b[:h.size()])
		b = b[h.size():]
	}
	return out, nil
}

// withOffset returns a copy of batch as the log stores it.
func withOffset(batch []byte, base int64, epoch int32) []byte {
	c := bytes.Clone(batch)
	setBaseOffset(c, base)
	setLeaderEpoch(c, epoch)
	return c
}
