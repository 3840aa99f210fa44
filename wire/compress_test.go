package wire

import (
	"bytes"
	"errors"
	"testing"

	"pgregory.net/rapid"
)

func TestCompressRoundTrip(t *testing.T) {
	inputs := [][]byte{{}, []byte("x"), bytes.Repeat([]byte("kafka "), 50_000)}
	for _, c := range allCodecs {
		for _, in := range inputs {
			z, err := Compress(c, []byte("prefix"), in)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			if !bytes.HasPrefix(z, []byte("prefix")) {
				t.Fatalf("%s: dst prefix lost", c)
			}
			out, err := Decompress(c, z[len("prefix"):], 0)
			if err != nil {
				t.Fatalf("%s %d bytes: %v", c, len(in), err)
			}
			if !bytes.Equal(out, in) {
				t.Fatalf("%s %d bytes: round trip differs", c, len(in))
			}
			if c != CodecNone && len(in) > 1000 && len(z) > len(in)/10 {
				t.Fatalf("%s compressed %d repetitive bytes only to %d", c, len(in), len(z))
			}
		}
	}
}

func TestDecompressBound(t *testing.T) {
	in := make([]byte, 1<<20)
	for _, c := range allCodecs {
		z, _ := Compress(c, nil, in)
		if _, err := Decompress(c, z, 1<<20-1); !errors.Is(err, ErrDecompressedTooLarge) {
			t.Fatalf("%s: got %v, want ErrDecompressedTooLarge", c, err)
		}
		if out, err := Decompress(c, z, 1<<20); err != nil || len(out) != 1<<20 {
			t.Fatalf("%s at the bound: %d bytes, %v", c, len(out), err)
		}
	}
}

func TestUnknownCodec(t *testing.T) {
	if _, err := Compress(5, nil, []byte("x")); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("Compress: %v", err)
	}
	if _, err := Decompress(7, []byte("x"), 0); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("Decompress: %v", err)
	}
	if _, err := AppendBatch(nil, Batch{Codec: 6}); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("AppendBatch: %v", err)
	}
}

// The zstd decoder is pooled and reconfigured when the bound changes; a
// smaller bound after a larger one must still hold.
func TestZstdBoundChanges(t *testing.T) {
	z, _ := Compress(CodecZstd, nil, make([]byte, 100_000))
	for _, max := range []int{200_000, 99_999, 0, 50_000, 100_000} {
		_, err := Decompress(CodecZstd, z, max)
		if tooBig := max > 0 && max < 100_000; tooBig != errors.Is(err, ErrDecompressedTooLarge) {
			t.Fatalf("max %d: %v", max, err)
		}
	}
}

// TestAppendBatchProperty: any records, any codec, encode, validate and
// decode back to the same records (rapid, against the input as model).
func TestAppendBatchProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 20).Draw(t, "n")
		recs := make([]Record, n)
		nullable := rapid.OneOf(rapid.Just([]byte(nil)), rapid.SliceOfN(rapid.Byte(), 0, 300))
		for i := range recs {
			recs[i] = Record{
				Attributes:     rapid.Int8().Draw(t, "attr"),
				TimestampDelta: rapid.Int64().Draw(t, "ts"),
				Key:            nullable.Draw(t, "key"),
				Value:          nullable.Draw(t, "value"),
			}
			for h := rapid.IntRange(0, 3).Draw(t, "headers"); h > 0; h-- {
				recs[i].Headers = append(recs[i].Headers, Header{
					Key:   rapid.String().Draw(t, "hkey"),
					Value: nullable.Draw(t, "hvalue"),
				})
			}
		}
		c := rapid.SampledFrom(allCodecs).Draw(t, "codec")
		b, err := AppendBatch(nil, Batch{ProducerID: -1, BaseSequence: -1, Codec: c, Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ValidateBatches(b, ValidateOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := Records(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d records, want %d", len(got), n)
		}
		for i := range recs {
			w, g := recs[i], got[i]
			if g.Attributes != w.Attributes || g.TimestampDelta != w.TimestampDelta || g.OffsetDelta != int32(i) ||
				!sameBytes(g.Key, w.Key) || !sameBytes(g.Value, w.Value) || len(g.Headers) != len(w.Headers) {
				t.Fatalf("record %d: got %+v, want %+v", i, g, w)
			}
			for j := range w.Headers {
				if g.Headers[j].Key != w.Headers[j].Key || !sameBytes(g.Headers[j].Value, w.Headers[j].Value) {
					t.Fatalf("record %d header %d differs", i, j)
				}
			}
		}
	})
}

// Given offset deltas (a compacted batch keeps gaps) are written as is.
func TestAppendBatchKeepsGivenDeltas(t *testing.T) {
	b, err := AppendBatch(nil, Batch{Records: []Record{{OffsetDelta: 0}, {OffsetDelta: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := ParseBatchHeader(b)
	if h.LastOffsetDelta != 4 || h.NumRecords != 2 {
		t.Fatalf("got %+v", h)
	}
	// Produce validation wants 0..n-1, so this batch is not produceable.
	_, err = ValidateBatches(b, ValidateOptions{})
	checkCode(t, err, CodeInvalidRecord, 0)
}
