package main

// Transactions (KIP-98) with the outside clients, against the real broker
// binary. kafkajs and librdkafka (confluent-kafka-python) produce in
// transactions, commit and abort, read back read_committed, and commit a
// group's offsets inside a transaction (consume-transform-produce, with an
// aborted offset commit beside it); sarama does the same in-process
// (e2e_txn_clients_sarama_test.go); kcat (librdkafka) and kafka-python,
// which cannot produce in a transaction, read what a franz-go
// transactional producer wrote. Helpers: e2e_txn_clients_helpers_test.go.
//
// Every test writes the same three transactions of txnPerTxn records,
// value "t<k>-<i>" to partition i%3: the first committed, the second
// aborted, the third committed. So each partition holds t1 at offsets 0-2,
// a COMMIT marker at 3, t2 at 4-6, an ABORT marker at 7, t3 at 8-10 and a
// COMMIT marker at 11. A reader stops once it has read the last record of
// each partition (txnStops), so it has seen every record before: an
// aborted record that leaked through would be among them.

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestE2ETxnKafkaJS: kafkajs's transactional producer (InitProducerId,
// AddPartitionsToTxn, EndTxn: the classic protocol, kafkajs knows no
// KIP-890) commits, aborts and commits; its consumer (read_committed,
// kafkajs's default) reads exactly the committed records.
// Consume-transform-produce: a kafkajs group consumer's batches go out in
// transactions that commit its offsets with sendOffsets (AddOffsetsToTxn,
// TxnOffsetCommit), which kadm then finds committed; offsets sent in an
// aborted transaction are not.
func TestE2ETxnKafkaJS(t *testing.T) {
	t.Parallel()
	node, group := needKafkaJS(t)
	script := filepath.Join(filepath.Dir(group), "kafkajs_txn.js")
	b := startBroker(t, "", clientGroupBrokerFlags...)

	cgCreateTopic(t, b, "kjs-txn", txnParts)
	txnRun(t, b, 20*time.Second, "kafkajs produce", node, script, "produce", b.addr, "kjs-txn", "kjs-txn-producer")
	want := txnCommitted()
	got := txnRun(t, b, 20*time.Second, "kafkajs consume", node, script, "consume", b.addr, "kjs-txn", "kjs-reader",
		strings.Join(txnStops(want), ","))
	txnCheck(t, "kafkajs read_committed", got, want)
	txnCheckAllWritten(t, b, "kjs-txn")

	txnInput(t, b, "kjs-in", "kjs-out")
	txnRun(t, b, 20*time.Second, "kafkajs transform", node, script, "transform", b.addr, "kjs-in", "kjs-out",
		"kjs-ctp", "kjs-ctp-aborted", "kjs-ctp-producer", strconv.Itoa(txnPerTxn))
	txnCheckTransform(t, b, "kjs-in", "kjs-out", "kjs-ctp", "kjs-ctp-aborted")
}

// TestE2ETxnConfluentPython: librdkafka's transactional producer
// (confluent-kafka-python: init_transactions, begin, produce, commit and
// abort) commits, aborts and commits; a librdkafka consumer with
// isolation.level=read_committed reads exactly the committed records.
// Consume-transform-produce: each record a subscribed librdkafka consumer
// reads goes out in a transaction that sends its offset with the
// consumer's group metadata (send_offsets_to_transaction: TxnOffsetCommit
// with the generation and member id), which kadm then finds committed;
// offsets sent in an aborted transaction are not.
func TestE2ETxnConfluentPython(t *testing.T) {
	t.Parallel()
	py := needConfluentPython(t)
	script, err := filepath.Abs("testdata/clients/confluent_txn.py")
	if err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, "", clientGroupBrokerFlags...)

	cgCreateTopic(t, b, "ck-txn", txnParts)
	txnRun(t, b, 20*time.Second, "confluent produce", py, script, "produce", b.addr, "ck-txn", "ck-txn-producer")
	want := txnCommitted()
	got := txnRun(t, b, 20*time.Second, "confluent consume", py, script, "consume", b.addr, "ck-txn", strings.Join(txnStops(want), ","))
	txnCheck(t, "librdkafka read_committed", got, want)
	txnCheckAllWritten(t, b, "ck-txn")

	txnInput(t, b, "ck-in", "ck-out")
	txnRun(t, b, 20*time.Second, "confluent transform", py, script, "transform", b.addr, "ck-in", "ck-out",
		"ck-ctp", "ck-ctp-aborted", "ck-ctp-producer", strconv.Itoa(txnPerTxn))
	txnCheckTransform(t, b, "ck-in", "ck-out", "ck-ctp", "ck-ctp-aborted")
}

// TestE2ETxnKcatReadCommitted: kcat (librdkafka) cannot produce in a
// transaction, but reads with either isolation level. After franz-go's
// transactional producer committed t1, aborted t2, committed t3 and left
// t4 open: read_committed reads t1 and t3 and reaches the end of each
// partition at the last stable offset (before t4); read_uncommitted reads
// every record. Once t4 is aborted, read_committed still reads t1 and t3.
func TestE2ETxnKcatReadCommitted(t *testing.T) {
	t.Parallel()
	kcat := needKcat(t)
	b := startBroker(t, "")
	cl := txnFranzProducer(t, b, "kcat-txn")
	txnFranzProduce(t, cl, "kcat-txn", "t4", kgo.TryAbort, true)

	read := func(isolation string) []txnRec {
		return txnRun(t, b, 15*time.Second, "kcat "+isolation, kcat, "-C", "-b", b.addr, "-t", "kcat-txn",
			"-o", "beginning", "-e", "-q", "-X", "isolation.level="+isolation, "-X", "fetch.wait.max.ms=100",
			"-f", `{"p":%p,"o":%o,"v":"%s"}\n`)
	}
	txnCheck(t, "kcat read_committed, t4 open", read("read_committed"), txnCommitted())
	txnCheck(t, "kcat read_uncommitted, t4 open", read("read_uncommitted"),
		slices.Concat(txnValues("t1"), txnValues("t2"), txnValues("t3"), txnValues("t4")))

	if err := cl.EndTransaction(cgCtx(t, 10*time.Second), kgo.TryAbort); err != nil {
		t.Fatalf("abort t4: %v", err)
	}
	ctx := cgCtx(t, 10*time.Second)
	for {
		// The abort markers follow EndTxn's answer.
		ends, err := b.admin(t).ListEndOffsets(ctx, "kcat-txn")
		done := err == nil
		ends.Each(func(o kadm.ListedOffset) { done = done && o.Err == nil && o.Offset == 16 })
		if done {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("end offsets %v (%v) after aborting t4, want 16 a partition", ends, err)
		}
		waitABit(ctx)
	}
	txnCheck(t, "kcat read_committed, t4 aborted", read("read_committed"), txnCommitted())
}

// TestE2ETxnKafkaPythonReadCommitted: kafka-python reads what franz-go's
// transactional producer wrote (t1 committed, t2 aborted, t3 committed).
// read_uncommitted: every data record; kafka-python 2.0.2 (Debian's) also
// hands the markers' control records over as ordinary records, which must
// then be at offsets 3, 7 and 11 of each partition with control keys
// COMMIT, ABORT, COMMIT (version 0, type 1 or 0). Its read_committed
// needs isolation_level, which came in kafka-python 2.1: the Debian
// package CI installs has none, so that half is not tested (the script
// has it, for a newer kafka-python).
func TestE2ETxnKafkaPythonReadsTransactions(t *testing.T) {
	t.Parallel()
	py := needKafkaPython(t)
	script, err := filepath.Abs("testdata/clients/kafka_python_txn.py")
	if err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, "")
	txnFranzProducer(t, b, "kpy-txn")

	{
		all := slices.Concat(txnValues("t1"), txnValues("t2"), txnValues("t3"))
		got := txnRun(t, b, 20*time.Second, "kafka-python read_uncommitted", py, script, b.addr, "kpy-txn",
			"read_uncommitted", strings.Join(txnStops(all), ","))
		var data []txnRec
		markers := 0
		for _, r := range got {
			if r.Key == nil {
				data = append(data, r)
				continue
			}
			markers++
			want := map[int64]string{3: "00000001", 7: "00000000", 11: "00000001"}[r.Offset]
			if want == "" || *r.Key != want {
				t.Errorf("kafka-python read a keyed record %d/%d key %s value %q; the only keyed records should be control records at 3 (COMMIT: key 00000001), 7 (ABORT: 00000000) and 11 (COMMIT)",
					r.Partition, r.Offset, *r.Key, r.Value)
			}
		}
		t.Logf("kafka-python returned %d control records as records", markers)
		txnCheck(t, "kafka-python read_uncommitted", data, all)
	}
}
