package core

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

// TestDescribeProducersKIP664: DescribeProducers shows a franz-go
// idempotent producer's id, epoch, last sequence and last timestamp, a
// producer with an open transaction and no table entry with its start
// offset, answers from a follower too (as Kafka), and gives
// NOT_LEADER_OR_FOLLOWER for a partition hosted elsewhere and
// UNKNOWN_TOPIC_OR_PARTITION for one that does not exist.
func TestDescribeProducersKIP664(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two brokers")
	}
	tc := startTestCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b1, b2 := tc.byID(1), tc.byID(2)
	for _, ct := range []cluster.CreateTopic{
		{Name: "txn", ID: txnTopicID, Assignments: [][]int32{{1, 2}}},
		{Name: "far", ID: [16]byte{0x7b}, Assignments: [][]int32{{2}}},
	} {
		if err := b1.commit(ctx, ct); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "txn-0 led by 1 and followed by 2, far-0 led by 2", func() bool {
		p, f, far := b1.partition("txn", 0), b2.partition("txn", 0), b2.partition("far", 0)
		return p != nil && p.isLeader() && f != nil && far != nil && far.isLeader()
	})

	cl, err := kgo.NewClient(kgo.SeedBrokers(b1.Addr()), kgo.DefaultProduceTopic("txn"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	last := time.UnixMilli(time.Now().UnixMilli() + 5000)
	for i := range 3 {
		rec := &kgo.Record{Value: []byte{byte(i)}, Timestamp: last.Add(time.Duration(i-2) * time.Second)}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &txnRig{t: t, b: b1, p: b1.partition("txn", 0)}
	const hanging = 1 << 40
	start := r.append(txnData(t, hanging, 0, true, "open")) // 3

	want := []kmsg.DescribeProducersResponseTopicPartitionActiveProducer{
		{ProducerID: pid, ProducerEpoch: int32(epoch), LastSequence: 2, LastTimestamp: last.UnixMilli(), CoordinatorEpoch: -1, CurrentTxnStartOffset: -1},
		{ProducerID: hanging, ProducerEpoch: -1, LastSequence: -1, LastTimestamp: -1, CoordinatorEpoch: -1, CurrentTxnStartOffset: start},
	}
	described, err := kadm.NewClient(cl).DescribeProducers(ctx, kadm.TopicsSet{"txn": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	dp := described["txn"].Partitions[0]
	if dp.Err != nil || dp.Leader != 1 {
		t.Fatalf("kadm DescribeProducers txn-0: leader %d, %v", dp.Leader, dp.Err)
	}
	for _, w := range want {
		got, ok := dp.ActiveProducers[w.ProducerID]
		if !ok || int32(got.ProducerEpoch) != w.ProducerEpoch || got.LastSequence != w.LastSequence || got.LastTimestamp != w.LastTimestamp ||
			got.CoordinatorEpoch != w.CoordinatorEpoch || got.CurrentTxnStartOffset != w.CurrentTxnStartOffset {
			t.Fatalf("producer %d: %+v (listed: %t), want %+v", w.ProducerID, got, ok, w)
		}
	}
	if len(dp.ActiveProducers) != len(want) {
		t.Fatalf("producers %+v, want %d", dp.ActiveProducers, len(want))
	}

	ask := func(b *Broker, topic string, part int32) kmsg.DescribeProducersResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrDescribeProducersRequest()
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{part}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl.Broker(int(b.cfg.NodeID)))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0]
	}
	// The follower replicated the batches, and its table and log with them
	// (its table has the hanging producer too: it records every batch
	// with a producer id it replicates, which the leader's bypassed).
	f := b2.partition("txn", 0)
	waitFor(t, 20*time.Second, "the follower has the open transaction", func() bool { return f.log.EndOffset() == start+1 })
	got := ask(b2, "txn", 0)
	if got.ErrorCode != 0 || len(got.ActiveProducers) != 2 {
		t.Fatalf("from the follower: error %d, producers %+v; want both", got.ErrorCode, got.ActiveProducers)
	}
	for i, w := range want {
		if g := got.ActiveProducers[i]; g.ProducerID != w.ProducerID || g.CurrentTxnStartOffset != w.CurrentTxnStartOffset {
			t.Fatalf("from the follower, producer %d: %+v, want %+v (sorted by id)", i, g, w)
		}
	}
	for _, c := range []struct {
		topic string
		part  int32
		code  int16
	}{
		{"far", 0, kerr.NotLeaderForPartition.Code},
		{"txn", 5, kerr.UnknownTopicOrPartition.Code},
		{"nope", 0, kerr.UnknownTopicOrPartition.Code},
	} {
		if got := ask(b1, c.topic, c.part); got.ErrorCode != c.code || len(got.ActiveProducers) != 0 {
			t.Errorf("%s-%d on broker 1: error %d, producers %v; want error %d", c.topic, c.part, got.ErrorCode, got.ActiveProducers, c.code)
		}
	}
}

// TestDescribeProducersTransaction: a franz-go transactional producer
// shows its open transaction's first offset, and after the commit none
// and the coordinator epoch of its marker.
func TestDescribeProducersTransaction(t *testing.T) {
	tc := startTestCluster(t, 1)
	b := tc.brokers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("dp-1"), kgo.DefaultProduceTopic("dp"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, "dp"); err != nil {
		t.Fatal(err)
	}
	// A plain record first, from another producer, so that the
	// transaction does not start at offset 0.
	plain, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("dp"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("plain")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"t1", "t2"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// current is what DescribeProducers says of the producer at its
	// current epoch; ok=false while the partition shows another epoch
	// (the markers, which carry a bumped epoch, are written after EndTxn
	// returns).
	current := func() (kadm.DescribedProducer, bool) {
		t.Helper()
		d, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"dp": {0: {}}})
		if err != nil {
			t.Fatal(err)
		}
		p := d["dp"].Partitions[0]
		got, ok := p.ActiveProducers[pid]
		if p.Err != nil {
			t.Fatalf("DescribeProducers dp-0: %v", p.Err)
		}
		return got, ok && got.ProducerEpoch == epoch
	}
	describe := func() kadm.DescribedProducer {
		t.Helper()
		got, ok := current()
		if !ok {
			t.Fatalf("DescribeProducers dp-0: %+v; want producer %d at epoch %d", got, pid, epoch)
		}
		return got
	}
	if got := describe(); got.CurrentTxnStartOffset != 1 || got.LastSequence != 1 || got.CoordinatorEpoch != -1 {
		t.Fatalf("during the transaction: %+v; want start offset 1, last sequence 1, no coordinator epoch yet", got)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// Under transaction.version 2 (the default) the commit bumped the
	// epoch: the marker carries the new one and the sequences start over.
	before := epoch
	if _, epoch, err = cl.ProducerID(ctx); err != nil {
		t.Fatal(err)
	}
	wantSeq := int32(1)
	if epoch != before {
		wantSeq = -1
	}
	waitFor(t, 20*time.Second, "the COMMIT marker written", func() bool {
		got, ok := current()
		return ok && got.CurrentTxnStartOffset == -1
	})
	if got := describe(); got.CoordinatorEpoch < 0 || got.LastSequence != wantSeq {
		t.Fatalf("after the commit: %+v; want the marker's coordinator epoch (>= 0) and last sequence %d", got, wantSeq)
	}
}
