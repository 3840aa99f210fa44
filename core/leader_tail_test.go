package core

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/wire"
)

// TestNewLeaderCommitsItsUnsyncedTail: a follower that becomes leader with
// records appended but not yet fsynced (its fetcher stopped between the
// append and the fsync) must make them durable and move the high watermark
// over them without waiting for another append. Found by the simulator
// (txn-cluster seed 150): the new leader of a __transaction_state partition
// had log end 168 and durable end 167, nothing appends to that partition
// until its coordinator has loaded, and the load waits for the high
// watermark to reach 168, so the coordinator answered
// COORDINATOR_LOAD_IN_PROGRESS for good.
func TestNewLeaderCommitsItsUnsyncedTail(t *testing.T) {
	p, end, epoch := followerWithReplicatedTail(t, "tail", 0xa7)
	if d := p.log.DurableEnd(); d != end {
		t.Fatalf("durable end %d, want %d: the replicated batch should not be fsynced yet", d, end)
	}

	// Leader again, alone in the ISR: nothing else is appended.
	p.roleFromMetadata(cluster.Partition{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, LeaderEpoch: epoch + 2, PartitionEpoch: 11})
	waitFor(t, 10*time.Second, "the new leader's high watermark over its whole log", func() bool {
		return p.highWatermark() == end+1 && p.log.DurableEnd() == end+1
	})
}

// TestNewLeaderTakesTheHighWatermarkItStartsWith: a follower that becomes
// leader alone in the ISR, over a tail it had already fsynced, starts with
// the high watermark at its log end (replica.NewLeader moves it there); the
// partition must serve that high watermark at once, not the follower's old
// one. Found by the simulator (txn-cluster seed 143): the leader state said
// 81 and the partition 80, no later report moved the leader state further,
// and the __transaction_state coordinator waited for 81 for good.
func TestNewLeaderTakesTheHighWatermarkItStartsWith(t *testing.T) {
	p, end, epoch := followerWithReplicatedTail(t, "start-hw", 0xa8)
	if err := p.log.Sync(end + 1); err != nil {
		t.Fatal(err)
	}
	if hw := p.highWatermark(); hw != end {
		t.Fatalf("follower high watermark %d, want %d", hw, end)
	}

	// Leader again, alone in the ISR, its whole log durable.
	p.roleFromMetadata(cluster.Partition{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, LeaderEpoch: epoch + 2, PartitionEpoch: 11})
	if hw := p.highWatermark(); hw != end+1 {
		t.Fatalf("new leader's high watermark %d, want %d (its log end, all of it durable, and it alone in the ISR)", hw, end+1)
	}
}

// followerWithReplicatedTail starts a broker leading a one-partition
// topic with one record, makes the partition a follower for a moment and
// appends a replicated batch to it without an fsync, as a fetcher does just
// before it is stopped. It returns the partition, its log end before the
// batch, and the leader epoch the broker had led in.
func followerWithReplicatedTail(t *testing.T, topic string, id byte) (p *partition, end int64, epoch int32) {
	t.Helper()
	tc := startTestCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := tc.brokers[0]
	if err := b.commit(ctx, cluster.CreateTopic{Name: topic, ID: [16]byte{id}, Assignments: [][]int32{{1}}}); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	waitFor(t, 20*time.Second, "the first send", func() bool {
		return prod.ProduceSync(ctx, &kgo.Record{Value: []byte("0")}).FirstErr() == nil
	})
	p = b.partition(topic, 0)
	end = p.log.EndOffset()
	epoch = p.leaderEpoch.Load()
	waitFor(t, 10*time.Second, "the high watermark at the log end", func() bool { return p.highWatermark() == end })

	p.roleFromMetadata(cluster.Partition{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 2, LeaderEpoch: epoch + 1, PartitionEpoch: 10})
	batch, err := wire.AppendBatch(nil, wire.Batch{BaseOffset: end, PartitionLeaderEpoch: epoch + 1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		Records: []wire.Record{{Value: []byte("replicated")}}})
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	_, err = p.log.AppendReplica(batch)
	p.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return p, end, epoch
}
