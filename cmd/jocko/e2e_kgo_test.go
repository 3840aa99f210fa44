package main

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestE2ECodecsRoundTrip produces keyed records with headers and explicit
// timestamps through every codec with franz-go's default producer
// (idempotent, acks=all) and reads them back byte for byte, per partition in
// order.
func TestE2ECodecsRoundTrip(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	adm := b.admin(t)
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		topic := "codec-" + name
		if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
		cl := b.client(t, kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic(topic))
		var want []*kgo.Record
		base := time.UnixMilli(1_700_000_000_000)
		for i := 0; i < 300; i++ {
			r := &kgo.Record{
				Key:       []byte(fmt.Sprintf("key-%d", i%17)),
				Value:     bytes.Repeat([]byte{byte(i)}, 100+i),
				Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i))}},
				Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			}
			want = append(want, r)
		}
		if err := cl.ProduceSync(ctx, want...).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", name, err)
		}
		got := consumeAll(t, b, topic, len(want))
		checkSameRecords(t, name, want, got)
	}
}

// checkSameRecords compares produced and consumed records by key, value,
// headers, timestamp and per-partition offset order.
func checkSameRecords(t *testing.T, label string, want, got []*kgo.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: consumed %d records, produced %d", label, len(got), len(want))
	}
	byOffset := map[string]*kgo.Record{}
	for _, r := range want {
		byOffset[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = r
	}
	last := map[int32]int64{}
	for _, r := range got {
		w := byOffset[fmt.Sprintf("%d/%d", r.Partition, r.Offset)]
		if w == nil {
			t.Fatalf("%s: consumed %d/%d which was never produced", label, r.Partition, r.Offset)
		}
		if prev, ok := last[r.Partition]; ok && r.Offset <= prev {
			t.Fatalf("%s: partition %d offsets not increasing: %d after %d", label, r.Partition, r.Offset, prev)
		}
		last[r.Partition] = r.Offset
		if !bytes.Equal(w.Key, r.Key) || !bytes.Equal(w.Value, r.Value) || !w.Timestamp.Equal(r.Timestamp) {
			t.Fatalf("%s: record %d/%d differs: key %q/%q ts %v/%v", label, r.Partition, r.Offset, w.Key, r.Key, w.Timestamp, r.Timestamp)
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "h" || !bytes.Equal(r.Headers[0].Value, w.Headers[0].Value) {
			t.Fatalf("%s: record %d/%d headers differ: %v", label, r.Partition, r.Offset, r.Headers)
		}
	}
}

// TestE2EListOffsetsByTimestamp checks ListOffsets by timestamp, earliest,
// latest and max timestamp (KIP-734).
func TestE2EListOffsetsByTimestamp(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	adm := b.admin(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "ts"); err != nil {
		t.Fatal(err)
	}
	cl := b.client(t, kgo.DefaultProduceTopic("ts"), kgo.ProducerLinger(0))
	for i := 0; i < 10; i++ {
		// One batch per record so the time index has many entries.
		r := &kgo.Record{Value: []byte{byte(i)}, Timestamp: time.UnixMilli(int64(1000 * (i + 1)))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := adm.ListOffsetsAfterMilli(ctx, 2500, "ts")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := after.Lookup("ts", 0); o.Offset != 2 || o.Timestamp != 3000 {
		t.Fatalf("offset after 2500ms = %d (ts %d), want 2 (ts 3000)", o.Offset, o.Timestamp)
	}
	after, _ = adm.ListOffsetsAfterMilli(ctx, 99999, "ts")
	if o, _ := after.Lookup("ts", 0); o.Offset != -1 && o.Offset != 10 {
		t.Fatalf("offset after the last timestamp = %d, want -1 or the end (10)", o.Offset)
	}
	ends, _ := adm.ListEndOffsets(ctx, "ts")
	starts, _ := adm.ListStartOffsets(ctx, "ts")
	if e, _ := ends.Lookup("ts", 0); e.Offset != 10 {
		t.Fatalf("end offset %d, want 10", e.Offset)
	}
	if s, _ := starts.Lookup("ts", 0); s.Offset != 0 {
		t.Fatalf("start offset %d, want 0", s.Offset)
	}
	max, err := adm.ListMaxTimestampOffsets(ctx, "ts")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := max.Lookup("ts", 0); m.Offset != 9 || m.Timestamp != 10000 {
		t.Fatalf("max timestamp offset %d ts %d, want 9 and 10000", m.Offset, m.Timestamp)
	}
}

// TestE2ECreatePartitionsDeleteRecreate grows a topic, produces to the new
// partitions, deletes it, and checks a re-created topic of the same name
// starts empty with a new ID.
func TestE2ECreatePartitionsDeleteRecreate(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	adm := b.admin(t)
	created, err := adm.CreateTopic(ctx, 2, 1, nil, "grow")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.UpdatePartitions(ctx, 5, "grow"); err != nil {
		t.Fatal(err)
	}
	if resp, err := adm.UpdatePartitions(ctx, 3, "grow"); err == nil && resp["grow"].Err == nil {
		t.Fatal("shrinking a topic from 5 to 3 partitions succeeded; want INVALID_PARTITIONS")
	}
	topics, err := adm.ListTopics(ctx, "grow")
	if err != nil || len(topics["grow"].Partitions) != 5 {
		t.Fatalf("after growing: %v partitions, err %v", len(topics["grow"].Partitions), err)
	}
	cl := b.client(t, kgo.DefaultProduceTopic("grow"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 5; p++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatalf("produce to partition %d: %v", p, err)
		}
	}
	if got := consumeAll(t, b, "grow", 5); len(got) != 5 {
		t.Fatalf("consumed %d, want 5", len(got))
	}
	if _, err := adm.DeleteTopic(ctx, "grow"); err != nil {
		t.Fatal(err)
	}
	again, err := adm.CreateTopic(ctx, 1, 1, nil, "grow")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == created.ID {
		t.Fatal("re-created topic kept the old topic ID")
	}
	ends, err := adm.ListEndOffsets(ctx, "grow")
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := ends.Lookup("grow", 0); e.Offset != 0 {
		t.Fatalf("re-created topic has end offset %d; the old data was not deleted", e.Offset)
	}
}

var _ = kadm.NewClient
