// Command sarama produces and consumes with IBM/sarama, the most used Go
// Kafka client, against Jocko (or any Kafka-compatible broker):
//
//	go run . --brokers 127.0.0.1:9092
//
// It creates a topic, sends --records records with a SyncProducer
// (acks=all), reads them back with a consumer group, and exits 1 if any
// record is missing or differs from what was sent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated HOST:PORT of the brokers")
	topic := flag.String("topic", "sarama-example", "topic to create, produce to and consume from")
	records := flag.Int("records", 100, "records to produce and consume")
	partitions := flag.Int("partitions", 3, "partitions of the topic")
	group := flag.String("group", "sarama-example", "consumer group that reads the records back")
	timeout := flag.Duration("timeout", time.Minute, "give up after this long")
	flag.Parse()
	if err := run(strings.Split(*brokers, ","), *topic, *group, *records, *partitions, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "sarama example:", err)
		os.Exit(1)
	}
}

func run(brokers []string, topic, group string, n, partitions int, timeout time.Duration) error {
	if n < 1 || partitions < 1 {
		return fmt.Errorf("--records and --partitions must be 1 or more")
	}
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "jocko-sarama-example"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}

	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		return fmt.Errorf("connect to %v: %w", brokers, err)
	}
	defer admin.Close()
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: -1}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	fmt.Printf("topic %s: %d partitions\n", topic, partitions)

	want := map[string]string{}
	producer, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		k, v := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i%50))
		want[k] = v
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(k), Value: sarama.StringEncoder(v)}
	}
	if err := producer.SendMessages(msgs); err != nil {
		producer.Close()
		return fmt.Errorf("produce: %w", err)
	}
	if err := producer.Close(); err != nil {
		return fmt.Errorf("close producer: %w", err)
	}
	fmt.Printf("produced %d records (acks=all)\n", n)

	cg, err := sarama.NewConsumerGroup(brokers, group, cfg)
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", group, err)
	}
	defer cg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	h := &handler{want: want, got: map[string]bool{}, done: cancel}
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, []string{topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
			return fmt.Errorf("consume: %w", err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mismatch != nil {
		return h.mismatch
	}
	if len(h.got) != n {
		return fmt.Errorf("consumed %d of %d records within %v", len(h.got), n, timeout)
	}
	fmt.Printf("consumed %d records in group %s: all match\n", n, group)
	return nil
}

// handler checks each record against what was produced and stops the
// group once every record has been seen.
type handler struct {
	mu       sync.Mutex
	want     map[string]string
	got      map[string]bool
	mismatch error
	done     context.CancelFunc
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		k, v := string(m.Key), string(m.Value)
		if w, ok := h.want[k]; !ok || w != v {
			if h.mismatch == nil {
				h.mismatch = fmt.Errorf("partition %d offset %d: key %q value %q, want value %q", m.Partition, m.Offset, k, v, w)
			}
			h.done()
		}
		h.got[k] = true
		if len(h.got) == len(h.want) {
			h.done()
		}
		h.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}
