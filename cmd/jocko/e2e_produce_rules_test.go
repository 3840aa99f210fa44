package main

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestE2EProduceRefusals: clients may not write internal topics
// (INVALID_TOPIC_EXCEPTION, as Kafka's "Cannot append to internal topic"),
// and acks=all is refused with NOT_ENOUGH_REPLICAS while the in-sync
// replicas are fewer than min.insync.replicas; acks=1 is still accepted.
func TestE2EProduceRefusals(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	ctx := testCtx(t)
	adm := b.admin(t)
	// Finding a group's coordinator creates __consumer_offsets.
	if _, err := adm.FetchOffsets(ctx, "creator"); err != nil {
		t.Fatal(err)
	}
	raw := b.client(t, kgo.RecordRetries(1))
	err := raw.ProduceSync(ctx, &kgo.Record{Topic: "__consumer_offsets", Value: []byte("garbage")}).FirstErr()
	if !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("producing to __consumer_offsets: %v, want INVALID_TOPIC_EXCEPTION", err)
	}

	minISR := "2"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"min.insync.replicas": &minISR}, "strict"); err != nil {
		t.Fatal(err)
	}
	all := b.client(t, kgo.DefaultProduceTopic("strict"), kgo.RecordRetries(1))
	err = all.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("acks=all with 1 in-sync replica and min.insync.replicas=2: %v, want NOT_ENOUGH_REPLICAS", err)
	}
	one := b.client(t, kgo.DefaultProduceTopic("strict"), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if err := one.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("acks=1 with min.insync.replicas=2: %v, want success", err)
	}
}

// TestE2EAcksAndIsolation: acks=0 (no response) and acks=1 records are
// stored and read back, also by a read_committed consumer (no transactions:
// the last stable offset is the high watermark).
func TestE2EAcksAndIsolation(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	if _, err := b.admin(t).CreateTopic(ctx, 1, 1, nil, "acks"); err != nil {
		t.Fatal(err)
	}
	none := b.client(t, kgo.DefaultProduceTopic("acks"), kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	leader := b.client(t, kgo.DefaultProduceTopic("acks"), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	for i := 0; i < 50; i++ {
		if err := none.ProduceSync(ctx, &kgo.Record{Value: []byte("zero")}).FirstErr(); err != nil {
			t.Fatalf("acks=0: %v", err)
		}
		if err := leader.ProduceSync(ctx, &kgo.Record{Value: []byte("one")}).FirstErr(); err != nil {
			t.Fatalf("acks=1: %v", err)
		}
	}
	got := consumeAll(t, b, "acks", 100, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	counts := map[string]int{}
	for _, r := range got {
		counts[string(r.Value)]++
	}
	if counts["zero"] != 50 || counts["one"] != 50 {
		t.Fatalf("read_committed consumer read %v, want 50 of each", counts)
	}
}

// TestE2EBatchLargerThanSegment: a batch bigger than the topic's
// segment.bytes is refused (RECORD_LIST_TOO_LARGE, as Kafka's
// RecordBatchTooLargeException) and the partition keeps serving: a client's
// input error must not take the partition offline like a disk fault.
func TestE2EBatchLargerThanSegment(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	seg := "1024"
	if _, err := b.admin(t).CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": &seg}, "tiny"); err != nil {
		t.Fatal(err)
	}
	cl := b.client(t, kgo.DefaultProduceTopic("tiny"), kgo.RecordRetries(1), kgo.ProducerBatchCompression(kgo.NoCompression()))
	err := cl.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 4000)}).FirstErr()
	if !errors.Is(err, kerr.RecordListTooLarge) {
		t.Fatalf("a 4 KB batch on 1 KB segments: %v, want RECORD_LIST_TOO_LARGE", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("small")}).FirstErr(); err != nil {
		t.Fatalf("the partition went offline after refusing a large batch: %v", err)
	}
}
