package core

import (
	"fmt"

	"github.com/jocko/jocko/wire"
)

// codecByName maps compression.type values to codecs; "producer" keeps what
// the producer sent and is absent here.
var codecByName = map[string]wire.Codec{
	"uncompressed": wire.CodecNone,
	"gzip":         wire.CodecGzip,
	"snappy":       wire.CodecSnappy,
	"lz4":          wire.CodecLZ4,
	"zstd":         wire.CodecZstd,
}

// recompress rewrites batches whose codec differs from the topic's
// compression.type, as Kafka does; with "producer" it returns the input.
func recompress(records []byte, hdrs []wire.BatchHeader, compression string) ([]byte, []wire.BatchHeader, error) {
	want, ok := codecByName[compression]
	if !ok {
		return records, hdrs, nil
	}
	same := true
	for _, h := range hdrs {
		if h.Codec() != want {
			same = false
		}
	}
	if same {
		return records, hdrs, nil
	}
	out := make([]byte, 0, len(records))
	outHdrs := make([]wire.BatchHeader, 0, len(hdrs))
	pos := 0
	for _, h := range hdrs {
		raw := records[pos : pos+h.Size()]
		pos += h.Size()
		recs, err := wire.Records(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("recompress: %w", err)
		}
		start := len(out)
		out, err = wire.AppendBatch(out, wire.Batch{
			BaseOffset: h.BaseOffset, PartitionLeaderEpoch: h.PartitionLeaderEpoch,
			Attributes: h.Attributes, FirstTimestamp: h.FirstTimestamp, MaxTimestamp: h.MaxTimestamp,
			ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, BaseSequence: h.BaseSequence,
			Codec: want, Records: recs,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("recompress: %w", err)
		}
		nh, err := wire.ParseBatchHeader(out[start:])
		if err != nil {
			return nil, nil, fmt.Errorf("recompress: %w", err)
		}
		outHdrs = append(outHdrs, nh)
	}
	return out, outHdrs, nil
}
