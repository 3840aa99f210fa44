package main

// sarama's transactions (see e2e_txn_clients_test.go for the records).

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaVersion: Kafka 3.0, so sarama sends InitProducerId v4,
// AddPartitionsToTxn v3, AddOffsetsToTxn v3, TxnOffsetCommit v3, EndTxn v3
// and Fetch v12 (it knows no KIP-890).
var saramaVersion = sarama.V3_0_0_0

// saramaTxnProducer returns sarama's transactional producer with id tid
// (idempotent, one request in flight, acks=all, partitions chosen by the
// messages).
func saramaTxnProducer(t *testing.T, b *proc, tid string) sarama.SyncProducer {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = saramaVersion
	cfg.ClientID = tid
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Transaction.ID = tid
	cfg.Producer.Transaction.Retry.Backoff = 50 * time.Millisecond
	prod, err := sarama.NewSyncProducer([]string{b.addr}, cfg)
	if err != nil {
		t.Fatalf("sarama transactional producer: %v", err)
	}
	t.Cleanup(func() { prod.Close() })
	return prod
}

// saramaTxn runs one transaction: send, then add (offsets, may be nil),
// then commit or abort.
func saramaTxn(prod sarama.SyncProducer, msgs []*sarama.ProducerMessage, add func() error, commit bool) error {
	if err := prod.BeginTxn(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := prod.SendMessages(msgs); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if add != nil {
		if err := add(); err != nil {
			return fmt.Errorf("add offsets: %w", err)
		}
	}
	if commit {
		if err := prod.CommitTxn(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}
	if err := prod.AbortTxn(); err != nil {
		return fmt.Errorf("abort: %w", err)
	}
	return nil
}

func saramaMsgs(topic string, values ...string) []*sarama.ProducerMessage {
	var msgs []*sarama.ProducerMessage
	for _, v := range values {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: txnPartOf(v), Value: sarama.StringEncoder(v)})
	}
	return msgs
}

// saramaRead consumes every partition of topic from the oldest offset at
// the isolation level, calling each (if set) per message, until it has
// read every stop value or 10 s pass.
func saramaRead(t *testing.T, b *proc, topic string, stops []string, level sarama.IsolationLevel,
	each func(*sarama.ConsumerMessage) error) []txnRec {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = saramaVersion
	cfg.Consumer.IsolationLevel = level
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	c, err := sarama.NewConsumer([]string{b.addr}, cfg)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer c.Close()
	msgs := make(chan *sarama.ConsumerMessage)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for p := range int32(txnParts) {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("sarama consume %s/%d: %v", topic, p, err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				select {
				case msgs <- m:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	left := map[string]bool{}
	for _, s := range stops {
		left[s] = true
	}
	var out []txnRec
	for len(left) > 0 {
		select {
		case m := <-msgs:
			out = append(out, txnRec{Partition: m.Partition, Offset: m.Offset, Value: string(m.Value)})
			delete(left, string(m.Value))
			if each != nil {
				if err := each(m); err != nil {
					t.Fatalf("%s/%d at %d: %v\nbroker log:\n%s", m.Topic, m.Partition, m.Offset, err, txnTail(b.logText()))
				}
			}
		case <-ctx.Done():
			t.Fatalf("sarama (isolation %d) read %d records of %s in 10 s, still waiting for %v: %+v\nbroker log:\n%s",
				level, len(out), topic, left, out, txnTail(b.logText()))
		}
	}
	cancel()
	return out
}

// TestE2ETxnSarama: sarama's transactional producer (Kafka 3.0 protocol
// versions, the classic protocol) commits t1, aborts t2, commits t3; its
// consumer reads t1 and t3 read_committed and all three read_uncommitted.
// Consume-transform-produce: each record sarama's read_committed consumer
// reads goes out in a transaction with AddMessageToTxn (AddOffsetsToTxn
// and TxnOffsetCommit for the group), which kadm then finds committed;
// offsets added with AddOffsetsToTxn to an aborted transaction are not.
func TestE2ETxnSarama(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "", clientGroupBrokerFlags...)
	cgCreateTopic(t, b, "sarama-txn", txnParts)
	prod := saramaTxnProducer(t, b, "sarama-txn-producer")
	for _, tx := range []struct {
		prefix string
		commit bool
	}{{"t1", true}, {"t2", false}, {"t3", true}} {
		if err := saramaTxn(prod, saramaMsgs("sarama-txn", txnValues(tx.prefix)...), nil, tx.commit); err != nil {
			t.Fatalf("sarama transaction %s: %v\nbroker log:\n%s", tx.prefix, err, txnTail(b.logText()))
		}
	}
	want := txnCommitted()
	txnCheck(t, "sarama read_committed", saramaRead(t, b, "sarama-txn", txnStops(want), sarama.ReadCommitted, nil), want)
	all := slices.Concat(txnValues("t1"), txnValues("t2"), txnValues("t3"))
	txnCheck(t, "sarama read_uncommitted", saramaRead(t, b, "sarama-txn", txnStops(all), sarama.ReadUncommitted, nil), all)

	txnInput(t, b, "sarama-in", "sarama-out")
	ctp := saramaTxnProducer(t, b, "sarama-ctp-producer")
	err := saramaTxn(ctp, saramaMsgs("sarama-out", "aborted-0"), func() error {
		return ctp.AddOffsetsToTxn(map[string][]*sarama.PartitionOffsetMetadata{
			"sarama-in": {{Partition: 0, Offset: 2}}}, "sarama-ctp-aborted")
	}, false)
	if err != nil {
		t.Fatalf("sarama aborted transaction with offsets: %v\nbroker log:\n%s", err, txnTail(b.logText()))
	}
	in := txnValues("in")
	saramaRead(t, b, "sarama-in", txnStops(in), sarama.ReadCommitted, func(m *sarama.ConsumerMessage) error {
		return saramaTxn(ctp, saramaMsgs("sarama-out", "out-"+string(m.Value)), func() error {
			return ctp.AddMessageToTxn(m, "sarama-ctp", nil)
		}, true)
	})
	txnCheckTransform(t, b, "sarama-in", "sarama-out", "sarama-ctp", "sarama-ctp-aborted")
}
