package core

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnProduce runs one franz-go transaction of n records to topic with
// transactional id id and commits or aborts it.
func txnProduce(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, first, n int, commit bool) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := first; i < first+n; i++ {
		r := &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: []byte(fmt.Sprint(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	end := kgo.TryAbort
	if commit {
		end = kgo.TryCommit
	}
	if err := cl.EndTransaction(ctx, end); err != nil {
		t.Fatalf("end transaction (commit=%v): %v", commit, err)
	}
}

// checkTxnLog checks the transaction's effect on the log with raw Fetch
// requests at read_uncommitted: every partition's last batch is a control
// batch, and the records of both transactions are there.
func testTransactionsOn(t *testing.T, seeds []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	if _, err := adm.CreateTopic(ctx, 3, -1, nil, "tx"); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.TransactionalID("tid-1"),
		kgo.DefaultProduceTopic("tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	txnProduce(ctx, t, cl, "tx", 0, 30, true)
	txnProduce(ctx, t, cl, "tx", 30, 30, false)
	txnProduce(ctx, t, cl, "tx", 60, 30, true)

	// Every partition: 10+10+10 records and 3 markers (offsets 0-32),
	// the markers at 10, 21 and 32. EndTxn is answered once the commit is
	// decided; the markers follow.
	for {
		offs, err := adm.ListEndOffsets(ctx, "tx")
		if err != nil {
			t.Fatal(err)
		}
		des, err := adm.DescribeTransactions(ctx, "tid-1")
		if err != nil {
			t.Fatal(err)
		}
		done := true
		offs.Each(func(o kadm.ListedOffset) { done = done && o.Err == nil && o.Offset == 33 })
		d, ok := des["tid-1"]
		if done && ok && d.Err == nil && d.State == "CompleteCommit" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("end offsets %v, transaction %+v; want 33 per partition, CompleteCommit", offs, des)
		}
		time.Sleep(20 * time.Millisecond)
	}
	list, err := adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("list: %+v", list)
	}
	// Fencing: a second producer with the same id bumps the epoch; the
	// first one's next transaction fails.
	cl2, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.TransactionalID("tid-1"),
		kgo.DefaultProduceTopic("tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	txnProduce(ctx, t, cl2, "tx", 90, 3, true)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "tx", Value: []byte("zombie")}).FirstErr()
	if err == nil {
		err = cl.EndTransaction(ctx, kgo.TryCommit)
	}
	if err == nil {
		t.Fatal("the fenced producer committed")
	}
	t.Logf("fenced producer: %v", err)
}

// TestTransactionsFranzGoOneBroker: franz-go on transaction.version 2
// (KIP-890 part 2, the default: an epoch bump per transaction, partitions
// added by the produce).
func TestTransactionsFranzGoOneBroker(t *testing.T) {
	tc := startTestCluster(t, 1)
	testTransactionsOn(t, []string{tc.brokers[0].Addr()})
}

// TestTransactionsFranzGoClassic: the same with transaction.version
// finalized at 0, where franz-go adds partitions with AddPartitionsToTxn
// and keeps its epoch across transactions.
func TestTransactionsFranzGoClassic(t *testing.T) {
	tc := startTestCluster(t, 1)
	setFeature(t, tc.brokers[0].Addr(), "transaction.version", 0)
	testTransactionsOn(t, []string{tc.brokers[0].Addr()})
}

// setFeature finalizes a feature at level (a downgrade if it is lower).
func setFeature(t *testing.T, addr, name string, level int16) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrUpdateFeaturesRequest()
	req.Version = 1
	u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
	u.Feature, u.MaxVersionLevel, u.UpgradeType = name, level, 2 // safe downgrade
	req.FeatureUpdates = append(req.FeatureUpdates, u)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("update %s to %d: %v", name, level, err)
	}
	for _, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			t.Fatalf("update %s to %d: %v", name, level, err)
		}
	}
}

func TestTransactionsFranzGoThreeBrokers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	var seeds []string
	for _, b := range tc.brokers {
		seeds = append(seeds, b.Addr())
	}
	testTransactionsOn(t, seeds)
}

// TestGroupTransactSessionCommitsOffsets: franz-go's consume-transform-
// produce loop (GroupTransactSession, read_committed, stable offsets)
// copies 20 records, its offsets commit with the transactions (the COMMIT
// marker on __consumer_offsets completes them), and a second session
// resumes after them.
func TestGroupTransactSessionCommitsOffsets(t *testing.T) {
	tc := startTestCluster(t, 1, func(c *Config) {
		c.Defaults = map[string]string{"group.initial.rebalance.delay.ms": "0"}
	})
	seeds := []string{tc.brokers[0].Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, _ := kgo.NewClient(kgo.SeedBrokers(seeds...))
	defer admin.Close()
	adm := kadm.NewClient(admin)
	if _, err := adm.CreateTopics(ctx, 1, -1, nil, "in", "out"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := admin.ProduceSync(ctx, &kgo.Record{Topic: "in", Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(seeds...), kgo.TransactionalID("gts"),
		kgo.ConsumerGroup("eos"), kgo.ConsumeTopics("in"), kgo.DefaultProduceTopic("out"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.RequireStableFetchOffsets())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for got := 0; got < 20 && ctx.Err() == nil; {
		fs := sess.PollFetches(ctx)
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) { n++; sess.Produce(ctx, &kgo.Record{Value: r.Value}, nil) })
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			t.Fatalf("end: %v", err)
		}
		if committed {
			got += n
		}
	}
	waitFor(t, 20*time.Second, "offset 20 committed", func() bool {
		offs, err := adm.FetchOffsets(ctx, "eos")
		o, ok := offs.Lookup("in", 0)
		return err == nil && ok && o.Err == nil && o.At == 20
	})
	sess.Close()
	sess2, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(seeds...), kgo.TransactionalID("gts"),
		kgo.ConsumerGroup("eos"), kgo.ConsumeTopics("in"), kgo.RequireStableFetchOffsets(), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer sess2.Close()
	admin.ProduceSync(ctx, &kgo.Record{Topic: "in", Value: []byte("20")})
	var vals []string
	sess2.PollFetches(ctx).EachRecord(func(r *kgo.Record) { vals = append(vals, string(r.Value)) })
	if len(vals) != 1 || vals[0] != "20" {
		t.Fatalf("second session read %v, want [20]", vals)
	}
}
