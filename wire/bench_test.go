package wire

import "testing"

// BenchmarkValidateBatches validates a 16 KiB batch of 1 KiB records, the
// per-Produce hot path.
func BenchmarkValidateBatches(b *testing.B) {
	for _, c := range []Codec{CodecNone, CodecSnappy, CodecLZ4, CodecZstd, CodecGzip} {
		b.Run(c.String(), func(b *testing.B) {
			batch := testBatch(b, c, benchRecords())
			b.SetBytes(16 << 10)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ValidateBatches(batch, ValidateOptions{NowMs: 1_700_000_000_000,
					TimestampBeforeMaxMs: 1 << 40, TimestampAfterMaxMs: 1 << 40}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendBatch encodes the same batch.
func BenchmarkAppendBatch(b *testing.B) {
	for _, c := range []Codec{CodecNone, CodecSnappy} {
		b.Run(c.String(), func(b *testing.B) {
			recs := benchRecords()
			buf := make([]byte, 0, 32<<10)
			b.SetBytes(16 << 10)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = AppendBatch(buf[:0], Batch{ProducerID: -1, BaseSequence: -1, Codec: c, Records: recs}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchRecords is 16 records of ~1 KiB of text-like data, so the
// compressed codecs have something realistic to do.
func benchRecords() []Record {
	recs := make([]Record, 16)
	for i := range recs {
		v := make([]byte, 1<<10)
		for j := range v {
			v[j] = "the quick brown fox jumps over the lazy dog 0123456789"[(i*7+j*j)%54]
		}
		recs[i] = Record{TimestampDelta: int64(i), Key: []byte("user-42"), Value: v}
	}
	return recs
}
