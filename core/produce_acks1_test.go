package core

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/jocko/jocko/cluster"
)

// TestAcks1ReadYourWrites: with flush.messages=1 (the default) acks=1 is
// answered once the leader has fsynced the records, so on a one-replica
// topic a client that produces with acks=1 and then asks for the latest
// offset sees its own records, even on a disk whose fsyncs take 30 ms:
// sarama's SyncProducer with default settings (acks=1), then ListOffsets
// latest after every send.
func TestAcks1ReadYourWrites(t *testing.T) {
	b, fs := startHeldBroker(t, "ryw")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.commit(ctx, cluster.CreateTopic{Name: "ryw", ID: [16]byte{0x52}, Assignments: [][]int32{{1}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "ryw-0 led here", func() bool {
		p := b.partition("ryw", 0)
		return p != nil && p.isLeader()
	})
	fs.delay = 30 * time.Millisecond
	fs.armed.Store(true)
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true // what a SyncProducer needs; acks stay WaitForLocal (1)
	cl, err := sarama.NewClient([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	prod, err := sarama.NewSyncProducerFromClient(cl)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := range int64(10) {
		_, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "ryw", Value: sarama.StringEncoder("v")})
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if off != i {
			t.Fatalf("send %d landed at offset %d", i, off)
		}
		latest, err := cl.GetOffset("ryw", 0, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if latest != i+1 {
			t.Fatalf("after %d acks=1 sends ListOffsets latest says %d", i+1, latest)
		}
	}
}
