package main

// End-to-end tests of the group consumers of other client libraries against
// the real broker binary: librdkafka (kcat -G), sarama, kafka-go and
// kafka-python. Each runs three members over real sockets, checks that the
// partitions are spread and each consumed by one member at a time, stops one
// member and checks the others take its partitions over, and that committed
// offsets survive a member's restart.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// clientGroupBrokerFlags keep group tests fast: no initial rebalance delay
// and session timeouts down to one second.
var clientGroupBrokerFlags = []string{"--group.initial.rebalance.delay.ms=0", "--group.min.session.timeout.ms=1000"}

// cgCtx is a test context with a deadline well inside the test time budget.
func cgCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// cgCreateTopic creates topic with n partitions.
func cgCreateTopic(t *testing.T, b *proc, topic string, n int32) {
	t.Helper()
	resp, err := b.admin(t).CreateTopic(cgCtx(t, 30*time.Second), n, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// cgProduce writes the values from..to-1 (as decimal strings) to topic,
// value i to partition i%parts, so every partition gets records.
// Uncompressed: kafka-python from Debian has no snappy.
func cgProduce(t *testing.T, b *proc, topic string, parts, from, to int) {
	t.Helper()
	cl := b.client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		rs = append(rs, &kgo.Record{Value: []byte(strconv.Itoa(i)), Partition: int32(i % parts)})
	}
	if err := cl.ProduceSync(cgCtx(t, 30*time.Second), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

// cgGroupAssignment describes the group as the broker sees it: its state
// and, per member client ID + member ID, the partitions of topic assigned.
func cgGroupAssignment(t *testing.T, b *proc, group, topic string) (string, map[string][]int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	adm := b.admin(t)
	defer adm.Close()
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", nil
	}
	g, ok := described[group]
	if !ok || g.Err != nil {
		return "", nil
	}
	out := map[string][]int32{}
	for _, m := range g.Members {
		var parts []int32
		if ca, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range ca.Topics {
				if tp.Topic == topic {
					parts = append(parts, tp.Partitions...)
				}
			}
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		out[m.ClientID+"/"+m.MemberID] = parts
	}
	return g.State, out
}

// cgSpread reports whether the group is Stable with n members that between
// them own each of parts partitions exactly once, each member some.
func cgSpread(state string, assigned map[string][]int32, n, parts int) bool {
	if state != "Stable" || len(assigned) != n {
		return false
	}
	seen := map[int32]int{}
	for _, ps := range assigned {
		if len(ps) == 0 {
			return false
		}
		for _, p := range ps {
			seen[p]++
		}
	}
	if len(seen) != parts {
		return false
	}
	for _, c := range seen {
		if c != 1 {
			return false
		}
	}
	return true
}

// cgRecord is one consumed record as a client reported it.
type cgRecord struct {
	partition int32
	offset    int64
	value     int
}

// cgLog collects what one group member consumed.
type cgLog struct {
	mu   sync.Mutex
	recs []cgRecord
}

func (l *cgLog) add(r cgRecord) {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
}

func (l *cgLog) snapshot() []cgRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]cgRecord(nil), l.recs...)
}

// cgCovered reports whether the logs together hold every value in [from, to).
func cgCovered(logs []*cgLog, from, to int) bool {
	seen := map[int]bool{}
	for _, l := range logs {
		for _, r := range l.snapshot() {
			if r.value >= from && r.value < to {
				seen[r.value] = true
			}
		}
	}
	return len(seen) == to-from
}

// cgMissing lists (a few of) the values in [from, to) no log holds.
func cgMissing(logs []*cgLog, from, to int) string {
	seen := map[int]bool{}
	for _, l := range logs {
		for _, r := range l.snapshot() {
			seen[r.value] = true
		}
	}
	var miss []string
	for v := from; v < to; v++ {
		if !seen[v] {
			miss = append(miss, strconv.Itoa(v))
		}
	}
	if len(miss) > 20 {
		miss = append(miss[:20], "...")
	}
	return fmt.Sprintf("%d missing: %s", to-from-len(seen), strings.Join(miss, ","))
}

// cgCheckValues checks every record a log holds is where it was produced:
// value v on partition v%parts.
func cgCheckValues(t *testing.T, name string, l *cgLog, parts int) {
	t.Helper()
	for _, r := range l.snapshot() {
		if int(r.partition) != r.value%parts {
			t.Fatalf("%s consumed value %d from partition %d, it was produced to %d", name, r.value, r.partition, r.value%parts)
		}
	}
}

// cgConsumersOf returns, for the values in [from, to), which logs (by index)
// consumed records of each partition.
func cgConsumersOf(logs []*cgLog, from, to int) map[int32]map[int]bool {
	out := map[int32]map[int]bool{}
	for i, l := range logs {
		for _, r := range l.snapshot() {
			if r.value < from || r.value >= to {
				continue
			}
			if out[r.partition] == nil {
				out[r.partition] = map[int]bool{}
			}
			out[r.partition][i] = true
		}
	}
	return out
}

// cgExactlyOnce checks each value in [from, to) was consumed exactly once
// across the logs (the group was stable and nobody left while they were
// consumed, so there is no excuse for a duplicate).
func cgExactlyOnce(t *testing.T, logs []*cgLog, names []string, from, to int) {
	t.Helper()
	count := map[int][]string{}
	for i, l := range logs {
		for _, r := range l.snapshot() {
			if r.value >= from && r.value < to {
				count[r.value] = append(count[r.value], names[i])
			}
		}
	}
	for v := from; v < to; v++ {
		if len(count[v]) != 1 {
			t.Fatalf("value %d consumed %d times (by %v), want once", v, len(count[v]), count[v])
		}
	}
}
