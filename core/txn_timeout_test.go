package core

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/wire"
)

// TestTransactionTimeoutAborts: a producer that opens a transaction (with
// the classic requests at fixed versions) and goes silent has it aborted
// by the coordinator once transaction.timeout.ms has passed: an ABORT
// marker lands on its partition, the last stable offset reaches the high
// watermark, the transaction shows CompleteAbort, and the silent
// producer's epoch is fenced. A timeout above transaction.max.timeout.ms
// is INVALID_TRANSACTION_TIMEOUT.
func TestTransactionTimeoutAborts(t *testing.T) {
	tc := startTestCluster(t, 1, withSettings(
		"transaction.abort.timed.out.transaction.cleanup.interval.ms", "100",
		"transaction.max.timeout.ms", "60000"))
	b := tc.brokers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "slow"); err != nil {
		t.Fatal(err)
	}
	md, err := adm.Metadata(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	topicID := md.Topics["slow"].ID // kgo sends Produce v13, which names topics by ID
	// The coordinator: FindCoordinator creates __transaction_state.
	waitFor(t, 10*time.Second, "a transaction coordinator", func() bool {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey, req.CoordinatorType = "slow-txn", 1
		resp, err := req.RequestWith(ctx, cl)
		return err == nil && resp.ErrorCode == 0
	})
	init := func(timeoutMs int32) *kmsg.InitProducerIDResponse {
		t.Helper()
		for {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.SetVersion(3)
			req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr("slow-txn"), timeoutMs
			req.ProducerID, req.ProducerEpoch = -1, -1
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if resp.ErrorCode != kerr.CoordinatorLoadInProgress.Code && resp.ErrorCode != kerr.ConcurrentTransactions.Code {
				return resp
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if r := init(60001); r.ErrorCode != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("timeout above the maximum: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	ip := init(500)
	if ip.ErrorCode != 0 {
		t.Fatalf("init: %v", kerr.ErrorForCode(ip.ErrorCode))
	}
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.SetVersion(3)
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = "slow-txn", ip.ProducerID, ip.ProducerEpoch
	add.Topics = append(add.Topics, kmsg.AddPartitionsToTxnRequestTopic{Topic: "slow", Partitions: []int32{0}})
	if resp, err := add.RequestWith(ctx, cl); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("add partitions: %v %+v", err, resp)
	}
	produce := func() int16 {
		t.Helper()
		raw, err := wire.AppendBatch(nil, wire.Batch{Attributes: 0x10, FirstTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli(),
			ProducerID: ip.ProducerID, ProducerEpoch: ip.ProducerEpoch, BaseSequence: 0, Records: []wire.Record{{Value: []byte("x")}}})
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrProduceRequest()
		req.TransactionID, req.Acks, req.TimeoutMillis = kmsg.StringPtr("slow-txn"), -1, 5000
		req.Topics = append(req.Topics, kmsg.ProduceRequestTopic{Topic: "slow", TopicID: topicID,
			Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: raw}}})
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := produce(); code != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(code))
	}
	// Silence: the coordinator aborts after 500 ms.
	waitFor(t, 10*time.Second, "the timed-out transaction aborted", func() bool {
		d, err := adm.DescribeTransactions(ctx, "slow-txn")
		if err != nil {
			return false
		}
		s, ok := d["slow-txn"]
		return ok && s.Err == nil && s.State == "CompleteAbort"
	})
	p := b.partition("slow", 0)
	waitFor(t, 10*time.Second, "the last stable offset at the high watermark", func() bool {
		hw := p.highWatermark()
		return hw == 2 && p.log.LastStableOffset(hw) == hw
	})
	if aborted := p.log.AbortedTransactions(0, 2); len(aborted) != 1 || aborted[0].ProducerID != ip.ProducerID {
		t.Fatalf("aborted transactions %+v, want the producer's one", aborted)
	}
	// The silent producer comes back: fenced.
	end := kmsg.NewPtrEndTxnRequest()
	end.SetVersion(3)
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "slow-txn", ip.ProducerID, ip.ProducerEpoch, true
	resp, err := end.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("the timed-out producer's EndTxn: %v, want PRODUCER_FENCED", kerr.ErrorForCode(resp.ErrorCode))
	}
}
