package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// stallTimeout is how long a test waits without progress before failing.
const stallTimeout = 30 * time.Second

// newClient is the franz-go client every test uses: defaults (acks=all,
// idempotent, snappy) with a 1 MiB batch limit, a large buffer, and a
// 5 ms linger unless opts say otherwise.
func newClient(addr string, opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.MaxBufferedRecords(1 << 16),
		kgo.ProduceRequestTimeout(stallTimeout),
	}
	return kgo.NewClient(append(base, opts...)...)
}

// payloads holds distinct random values, so that neither snappy nor the
// broker gains from records repeating one another within a batch.
type payloads struct{ buf []byte }

func newPayloads(valueLen int) payloads {
	buf := make([]byte, 4096*valueLen)
	r := rand.NewChaCha8([32]byte{'j', 'o', 'c', 'k', 'o'})
	r.Read(buf)
	return payloads{buf}
}

func (p payloads) value(i, valueLen int) []byte {
	off := (i % 4096) * valueLen
	return p.buf[off : off+valueLen : off+valueLen]
}

// produce writes cfg.records records as fast as the client allows and
// times until the last one is acknowledged.
func produce(ctx context.Context, cfg config, addr, topic string, parts int) (result, error) {
	r := result{Test: "produce", Partitions: parts}
	cl, err := newClient(addr)
	if err != nil {
		return r, err
	}
	defer cl.Close()
	pl := newPayloads(cfg.valueLen)
	var failed produceFailures
	done := failed.record
	start := time.Now()
	for i := range cfg.records {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: pl.value(i, cfg.valueLen)}, done)
	}
	if err := cl.Flush(ctx); err != nil {
		return r, err
	}
	fill(&r, int64(cfg.records), int64(cfg.records*cfg.valueLen), time.Since(start))
	if n := failed.n.Load(); n > 0 {
		return r, fmt.Errorf("%d of %d records failed, first: %w", n, cfg.records, failed.first)
	}
	return r, nil
}

// consume reads cfg.records records from the start of topic with a fresh
// client, failing if stallTimeout passes with nothing read.
func consume(ctx context.Context, cfg config, addr, topic string, parts int) (result, error) {
	r := result{Test: "consume", Partitions: parts}
	cl, err := newClient(addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return r, err
	}
	defer cl.Close()
	var n, bytes int64
	start := time.Now()
	progress := start
	for n < int64(cfg.records) {
		pctx, cancel := context.WithTimeout(ctx, stallTimeout)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				logf("%s: fetch %s/%d: %v", addr, t, p, err)
			}
		})
		got := int64(fs.NumRecords())
		if got > 0 {
			progress = time.Now()
		} else if time.Since(progress) >= stallTimeout {
			return r, fmt.Errorf("stalled: read %d of %d records, nothing for %v", n, cfg.records, stallTimeout)
		}
		fs.EachRecord(func(rec *kgo.Record) { bytes += int64(len(rec.Value)) })
		n += got
	}
	fill(&r, n, bytes, time.Since(start))
	if n != int64(cfg.records) {
		return r, fmt.Errorf("read %d records, produced %d", n, cfg.records)
	}
	return r, nil
}

// produceLatency produces at cfg.rate for cfg.duration without linger and
// measures each record from its Produce call to its acknowledgement.
func produceLatency(ctx context.Context, cfg config, addr, topic string, parts int) (result, error) {
	r := result{Test: "produce-latency", Partitions: parts, Rate: cfg.rate}
	cl, err := newClient(addr, kgo.ProducerLinger(0))
	if err != nil {
		return r, err
	}
	defer cl.Close()
	pl := newPayloads(cfg.valueLen)
	total := max(1, int(float64(cfg.rate)*cfg.duration.Seconds()))
	lat := make([]time.Duration, total)
	var failed atomic.Int64
	interval := time.Second / time.Duration(max(1, cfg.rate))
	start := time.Now()
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		sent := time.Now()
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: pl.value(i, cfg.valueLen)}, func(_ *kgo.Record, err error) {
			lat[i] = time.Since(sent)
			if err != nil {
				failed.Add(1)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return r, err
	}
	fill(&r, int64(total), int64(total*cfg.valueLen), time.Since(start))
	slices.Sort(lat)
	ms := func(q float64) float64 { return round(lat[int(q*float64(total-1))].Seconds() * 1000) }
	r.P50ms, r.P99ms, r.MaxMs, r.Errors = ms(0.50), ms(0.99), ms(1), failed.Load()
	if r.Errors > 0 {
		return r, fmt.Errorf("%d of %d records failed", r.Errors, total)
	}
	return r, nil
}

func fill(r *result, records, bytes int64, d time.Duration) {
	s := d.Seconds()
	r.Records, r.Bytes, r.Seconds = records, bytes, round(s)
	r.MBPerS = round(float64(bytes) / 1e6 / s)
	r.RecordsPerS = round(float64(records) / s)
}

// produceFailures counts records whose produce failed for good and keeps
// the first error; record is the promise to hand kgo's Produce. Read n and
// first only after the client has flushed.
type produceFailures struct {
	n     atomic.Int64
	once  sync.Once
	first error
}

func (f *produceFailures) record(_ *kgo.Record, err error) {
	if err != nil {
		f.n.Add(1)
		f.once.Do(func() { f.first = err })
	}
}
