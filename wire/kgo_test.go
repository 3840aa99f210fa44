package wire

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestValidateKgoProducedBatches produces with franz-go's real client,
// once per codec, to a kfake broker on an ephemeral loopback port, captures
// the Records of every Produce request on its way in, and checks that
// ValidateBatches accepts them and Records reads back what was sent.
func TestValidateKgoProducedBatches(t *testing.T) {
	codecs := map[Codec]kgo.CompressionCodec{
		CodecNone: kgo.NoCompression(), CodecGzip: kgo.GzipCompression(),
		CodecSnappy: kgo.SnappyCompression(), CodecLZ4: kgo.Lz4Compression(),
		CodecZstd: kgo.ZstdCompression(),
	}
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			captured := produceWithKgo(t, codecs[c], 50)
			var values [][]byte
			for _, recs := range captured {
				hs, err := ValidateBatches(recs, ValidateOptions{})
				if err != nil {
					t.Fatalf("kgo batch rejected: %v", err)
				}
				for _, h := range hs {
					if h.Codec() != c || h.ProducerID < 0 {
						t.Fatalf("header %+v: want codec %s and an idempotent producer", h, c)
					}
				}
				for _, h := range hs {
					rs, err := Records(recs[:h.Size()])
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range rs {
						values = append(values, r.Value)
					}
					if c == CodecSnappy {
						t.Logf("xerial framing: %v", bytes.HasPrefix(recs[BatchHeaderLen:], xerialMagic))
					}
					recs = recs[h.Size():]
				}
			}
			if len(values) != 50 {
				t.Fatalf("read back %d records, want 50", len(values))
			}
			for i, v := range values {
				if want := fmt.Sprintf("value-%03d-%s", i, bytes.Repeat([]byte("x"), 200)); string(v) != want {
					t.Fatalf("record %d = %q", i, v)
				}
			}
		})
	}
}

// produceWithKgo produces n records in one flush and returns the Records
// field of every Produce request partition the broker received.
func produceWithKgo(t *testing.T, codec kgo.CompressionCodec, n int) [][]byte {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	var mu sync.Mutex
	var captured [][]byte
	cluster.ControlKey(0, func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			for _, p := range tp.Partitions {
				captured = append(captured, bytes.Clone(p.Records))
			}
		}
		return nil, nil, false
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic("t"), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{
			Key:     []byte(fmt.Sprintf("k%d", i)),
			Value:   []byte(fmt.Sprintf("value-%03d-%s", i, bytes.Repeat([]byte("x"), 200))),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}},
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return captured
}
