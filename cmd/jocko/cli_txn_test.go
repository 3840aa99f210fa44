package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCLITxn drives `jocko txn producers|list|describe` against a real
// broker: an idempotent franz-go producer's table row (KIP-664), then a
// transaction left open (its start offset, its Ongoing state, its
// partitions), the filters, the errors, and the commit.
func TestCLITxn(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	ctx := testCtx(t)
	id := brokerID(t, b)
	if _, err := b.admin(t).CreateTopic(ctx, 2, 1, nil, "tx"); err != nil {
		t.Fatal(err)
	}
	idem := b.client(t, kgo.DefaultProduceTopic("tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 3 {
		if err := idem.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	idemPID, idemEpoch, err := idem.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var rows []describedProducer
	wantJSON(t, &rows, "txn", "producers", "tx", br, "--format", "json")
	if len(rows) != 1 {
		t.Fatalf("txn producers tx: %+v, want the idempotent producer", rows)
	}
	if r := rows[0]; r.Partition != 0 || r.Leader != id || r.ProducerID != idemPID || r.ProducerEpoch != idemEpoch ||
		r.LastSequence == nil || *r.LastSequence != 2 || r.LastTimestamp == nil || r.CoordinatorEpoch != nil || r.TxnStartOffset != nil {
		t.Fatalf("txn producers tx: %+v, want partition 0, leader %d, producer %d epoch %d, last sequence 2, no marker, no transaction",
			r, id, idemPID, idemEpoch)
	}
	out := gcliRun(t, 0, "PRODUCER ID", "txn", "producers", "tx", br)
	if !strings.Contains(out, strconv.FormatInt(idemPID, 10)) {
		t.Fatalf("txn producers tx:\n%s", out)
	}
	gcliRun(t, 0, "No active producers.", "txn", "producers", "tx", "--partition", "1", br)
	gcliRun(t, 2, "--partition 5: topic tx has 2 partitions (0 to 1)", "txn", "producers", "tx", "--partition", "5", br)
	gcliRun(t, 1, "topic nope does not exist", "txn", "producers", "nope", br)

	// A transaction left open on partition 1.
	txn := b.client(t, kgo.TransactionalID("cli-1"), kgo.DefaultProduceTopic("tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pid, _, err := txn.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, &rows, "txn", "producers", "tx", "--partition", "1", br, "--format", "json")
	if len(rows) != 1 || rows[0].ProducerID != pid || rows[0].TxnStartOffset == nil || *rows[0].TxnStartOffset != 0 {
		t.Fatalf("txn producers tx --partition 1 with a transaction open: %+v, want producer %d with start offset 0", rows, pid)
	}

	t.Run("list and describe", func(t *testing.T) {
		needTxnAPIs(t, b.admin(t))
		ids, pidText := strconv.Itoa(int(id)), strconv.FormatInt(pid, 10)
		gcliWantRows(t, gcliRun(t, 0, "TRANSACTIONAL ID", "txn", "list", br), []string{"cli-1", ids, "Ongoing", pidText})
		gcliWantRows(t, gcliRun(t, 0, "", "txn", "list", "--state", "ongoing,PrepareCommit", br), []string{"cli-1", ids, "Ongoing", pidText})
		if out := gcliRun(t, 0, "", "txn", "list", "--state", "CompleteCommit", br); strings.Contains(out, "cli-1") {
			t.Fatalf("txn list --state CompleteCommit lists the open transaction:\n%s", out)
		}
		if out := gcliRun(t, 0, "", "txn", "list", "--producer-id", strconv.FormatInt(pid+1, 10), br); strings.Contains(out, "cli-1") {
			t.Fatalf("txn list --producer-id of another producer lists cli-1:\n%s", out)
		}
		var listed []listedTxn
		wantJSON(t, &listed, "txn", "list", "--producer-id", pidText, br, "--format", "json")
		if !slices.Equal(listed, []listedTxn{{"cli-1", id, "Ongoing", pid}}) {
			t.Fatalf("txn list --producer-id %d --format json: %+v", pid, listed)
		}

		var described []describedTxn
		wantJSON(t, &described, "txn", "describe", "cli-1", br, "--format", "json")
		if len(described) != 1 {
			t.Fatalf("txn describe cli-1 --format json: %+v", described)
		}
		if d := described[0]; d.State != "Ongoing" || d.ProducerID != pid || d.Coordinator != id || d.TimeoutMs <= 0 ||
			d.StartTimestamp == nil || !slices.Equal(d.Partitions["tx"], []int32{1}) || len(d.Partitions) != 1 {
			t.Fatalf("txn describe cli-1 --format json: %+v, want Ongoing, producer %d, coordinator %d, a timeout, a start, partition tx:1", d, pid, id)
		}
		code, stdout, stderr := runCLI("txn", "describe", "cli-1", "nope", br)
		if code != 1 || !gcliHasRowPrefix(stdout, "cli-1", ids, "Ongoing", pidText) || !strings.Contains(stdout, "tx:1") ||
			!strings.Contains(stderr, "nope: no such transactional ID ('jocko txn list' shows them)") {
			t.Fatalf("txn describe cli-1 nope: exit %d, stdout:\n%s\nstderr: %s\nwant cli-1's row (Ongoing, tx:1), then exit 1 saying nope does not exist", code, stdout, stderr)
		}

		if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, ctx, func() bool {
			_, out, _ := runCLI("txn", "describe", "cli-1", br)
			return gcliHasRowPrefix(out, "cli-1", ids, "CompleteCommit", pidText)
		})
	})

	gcliRun(t, 2, "jocko txn describe needs at least one transactional ID", "txn", "describe", br)
	gcliRun(t, 2, `--state "bogus": unknown transaction state`, "txn", "list", "--state", "bogus", br)
	gcliRun(t, 2, `--producer-id "-3": want a producer ID`, "txn", "list", "--producer-id", "-3", br)
	gcliRun(t, 2, `unknown txn subcommand "abort": want list, describe or producers`, "txn", "abort", br)
}

// needTxnAPIs skips t when the broker does not serve ListTransactions or
// DescribeTransactions (a build without the transaction coordinator).
func needTxnAPIs(t *testing.T, adm *kadm.Client) {
	t.Helper()
	vs, err := adm.ApiVersions(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		for _, k := range []kmsg.Key{kmsg.ListTransactions, kmsg.DescribeTransactions} {
			if _, _, ok := v.KeyVersions(int16(k)); !ok {
				t.Skip("needs the transaction coordinator")
			}
		}
	}
}

// gcliHasRowPrefix reports whether some line of out starts with these
// fields.
func gcliHasRowPrefix(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= len(fields) && slices.Equal(f[:len(fields)], fields) {
			return true
		}
	}
	return false
}
