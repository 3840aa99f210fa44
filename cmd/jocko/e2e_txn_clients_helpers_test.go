package main

// The helpers of the transaction tests with outside clients
// (e2e_txn_clients_test.go): the records every test writes, running a
// client script and reading its JSON lines, exact comparison, and
// franz-go's side (a transactional producer, readers, group offsets).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	txnParts  = 3 // partitions of every topic here
	txnPerTxn = 9 // records of each transaction, txnPerTxn/txnParts a partition
)

// txnValues returns the values of transaction k ("t<k>-<i>"), or of the
// records a test writes under prefix, in the order produced; value i goes
// to partition i%txnParts.
func txnValues(prefix string) []string {
	var vs []string
	for i := range txnPerTxn {
		vs = append(vs, prefix+"-"+strconv.Itoa(i))
	}
	return vs
}

// txnCommitted are the values of the committed transactions 1 and 3.
func txnCommitted() []string { return slices.Concat(txnValues("t1"), txnValues("t3")) }

// txnPartOf is the partition value v was written to: its index mod txnParts.
func txnPartOf(v string) int32 {
	n, _ := strconv.Atoi(v[strings.LastIndexByte(v, '-')+1:])
	return int32(n % txnParts)
}

// txnStops are the last values written to each partition among want (in
// the order produced): a reader that has them has read everything before.
func txnStops(want []string) []string { return want[len(want)-txnParts:] }

// txnRec is a line a client script printed: a record it read ({"p","o",
// "v"}, "k" the key in hex where the script says), or a transformed
// record's offset commit ({"p","committed"}).
type txnRec struct {
	Partition int32   `json:"p"`
	Offset    int64   `json:"o"`
	Value     string  `json:"v"`
	Key       *string `json:"k"`
	Committed *int64  `json:"committed"`
}

// txnRun runs a client to completion within timeout and returns the JSON
// lines of its stdout; on failure it names the exit, the client's stderr
// and stdout and the broker's log tail.
func txnRun(t *testing.T, b *proc, timeout time.Duration, name string, argv ...string) []txnRec {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("killed after %v: %w", timeout, err)
	}
	var recs []txnRec
	sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("{")) {
			continue
		}
		var r txnRec
		if jerr := json.Unmarshal(line, &r); jerr != nil && err == nil {
			err = fmt.Errorf("bad line %q: %v", line, jerr)
		}
		recs = append(recs, r)
	}
	if err != nil {
		t.Fatalf("%s: %v\n--- stderr:\n%s\n--- stdout:\n%s\n--- broker log:\n%s",
			name, err, txnTail(stderr.String()), txnTail(stdout.String()), txnTail(b.logText()))
	}
	t.Logf("%s: %d lines in %v", name, len(recs), time.Since(start).Round(time.Millisecond))
	return recs
}

func txnTail(s string) string {
	if len(s) > 6000 {
		return "...\n" + s[len(s)-6000:]
	}
	return s
}

// txnCheck compares the records who read with want: each wanted value
// exactly once, from the partition it was written to, at increasing
// offsets within a partition, and nothing else.
func txnCheck(t *testing.T, who string, got []txnRec, want []string) {
	t.Helper()
	seen := map[string]int{}
	last := map[int32]int64{}
	var problems []string
	for _, r := range got {
		seen[r.Value]++
		if p := txnPartOf(r.Value); p != r.Partition {
			problems = append(problems, fmt.Sprintf("%q read from partition %d, written to %d", r.Value, r.Partition, p))
		}
		if o, ok := last[r.Partition]; ok && r.Offset <= o {
			problems = append(problems, fmt.Sprintf("partition %d: offset %d read after %d", r.Partition, r.Offset, o))
		}
		last[r.Partition] = r.Offset
	}
	var missing, extra, twice []string
	for _, v := range want {
		switch seen[v] {
		case 0:
			missing = append(missing, v)
		case 1:
		default:
			twice = append(twice, v)
		}
	}
	for v := range seen {
		if !slices.Contains(want, v) {
			extra = append(extra, v)
		}
	}
	sort.Strings(extra)
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("missing %v", missing))
	}
	if len(twice) > 0 {
		problems = append(problems, fmt.Sprintf("read more than once %v", twice))
	}
	if len(extra) > 0 {
		problems = append(problems, fmt.Sprintf("not wanted %v (t2-* and aborted-* were aborted)", extra))
	}
	if len(problems) > 0 {
		var lines []string
		for _, r := range got {
			lines = append(lines, fmt.Sprintf("%d/%d %s", r.Partition, r.Offset, r.Value))
		}
		t.Fatalf("%s read %d records, want %d:\n  %s\nread: %s", who, len(got), len(want),
			strings.Join(problems, "\n  "), strings.Join(lines, ", "))
	}
}

// txnKgoRead reads topic with franz-go from the start, read_committed or
// not, until it has read every stop value.
func txnKgoRead(t *testing.T, b *proc, topic string, stops []string, committed bool) []txnRec {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(b.addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100 * time.Millisecond)}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	left := map[string]bool{}
	for _, s := range stops {
		left[s] = true
	}
	var out []txnRec
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("franz-go (read_committed %v) read %d records of %s in 10 s, still waiting for %v: %+v",
				committed, len(out), topic, left, out)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, txnRec{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
			delete(left, string(r.Value))
		})
	}
	return out
}

// txnCheckAllWritten checks with franz-go read_uncommitted that topic holds
// all three transactions: the aborted records were written, so a
// read_committed reader had something to leave out.
func txnCheckAllWritten(t *testing.T, b *proc, topic string) {
	t.Helper()
	all := slices.Concat(txnValues("t1"), txnValues("t2"), txnValues("t3"))
	txnCheck(t, "franz-go read_uncommitted of "+topic, txnKgoRead(t, b, topic, txnStops(all), false), all)
}

// txnFranzProduce runs transaction prefix with franz-go's producer cl,
// txnPerTxn records to topic, then commits, aborts, or (open) leaves it
// open.
func txnFranzProduce(t *testing.T, cl *kgo.Client, topic, prefix string, end kgo.TransactionEndTry, open bool) {
	t.Helper()
	ctx := cgCtx(t, 10*time.Second)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for _, v := range txnValues(prefix) {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: txnPartOf(v), Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("franz-go produce %s: %v", prefix, err)
	}
	if open {
		return
	}
	if err := cl.EndTransaction(ctx, end); err != nil {
		t.Fatalf("franz-go end %s (commit %v): %v", prefix, end, err)
	}
}

// txnFranzProducer writes transactions t1 (committed), t2 (aborted) and t3
// (committed) to a new topic with franz-go's transactional producer, and
// returns it.
func txnFranzProducer(t *testing.T, b *proc, topic string) *kgo.Client {
	t.Helper()
	cgCreateTopic(t, b, topic, txnParts)
	cl := b.client(t, kgo.TransactionalID(topic+"-producer"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	txnFranzProduce(t, cl, topic, "t1", kgo.TryCommit, false)
	txnFranzProduce(t, cl, topic, "t2", kgo.TryAbort, false)
	txnFranzProduce(t, cl, topic, "t3", kgo.TryCommit, false)
	return cl
}

// txnInput writes "in-<i>" (plain records, no transaction) to a new topic
// for a consume-transform-produce run, and creates its output topic.
func txnInput(t *testing.T, b *proc, in, out string) {
	t.Helper()
	cgCreateTopic(t, b, in, txnParts)
	cgCreateTopic(t, b, out, txnParts)
	cl := b.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	var rs []*kgo.Record
	for _, v := range txnValues("in") {
		rs = append(rs, &kgo.Record{Topic: in, Partition: txnPartOf(v), Value: []byte(v)})
	}
	if err := cl.ProduceSync(cgCtx(t, 10*time.Second), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

// txnCheckTransform checks a consume-transform-produce run: out holds
// exactly "out-in-<i>" read_committed (not the aborted "aborted-0"), group
// committed the end of every partition of in, and abortGroup, whose
// offsets were sent in an aborted transaction, committed nothing.
func txnCheckTransform(t *testing.T, b *proc, in, out, group, abortGroup string) {
	t.Helper()
	want := txnValues("out-in")
	txnCheck(t, "franz-go read_committed of "+out, txnKgoRead(t, b, out, txnStops(want), true), want)
	ctx := cgCtx(t, 10*time.Second)
	perPart := int64(txnPerTxn / txnParts)
	for {
		got, err := txnGroupOffsets(ctx, t, b, group)
		if err == nil && len(got) == txnParts && got[in+"/0"] == perPart && got[in+"/1"] == perPart && got[in+"/2"] == perPart {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("group %s committed %v (%v), want %s/0-2 at %d", group, got, err, in, perPart)
		}
		waitABit(ctx)
	}
	got, err := txnGroupOffsets(ctx, t, b, abortGroup)
	if err != nil || len(got) > 0 {
		t.Fatalf("group %s, whose offsets were sent in an aborted transaction, committed %v (%v), want none", abortGroup, got, err)
	}
}

// txnGroupOffsets returns group's committed offsets as "topic/partition"
// to offset (none for a group that does not exist).
func txnGroupOffsets(ctx context.Context, t *testing.T, b *proc, group string) (map[string]int64, error) {
	adm := b.admin(t)
	defer adm.Close()
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var errs []error
	for topic, parts := range resp {
		for p, o := range parts {
			if o.Err != nil {
				errs = append(errs, fmt.Errorf("%s/%d: %w", topic, p, o.Err))
				continue
			}
			out[fmt.Sprintf("%s/%d", topic, p)] = o.At
		}
	}
	return out, errors.Join(errs...)
}

// needConfluentPython returns a python3 that can import confluent_kafka
// (Debian package python3-confluent-kafka, for /usr/bin/python3), or skips.
func needConfluentPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		out, err := exec.Command(py, "-c", "import confluent_kafka as c; print(c.version()[0], c.libversion()[0])").Output()
		if err == nil {
			t.Logf("%s: confluent-kafka-python and librdkafka %s", py, strings.TrimSpace(string(out)))
			return py
		}
	}
	t.Skip("confluent-kafka-python not installed (apt-get install python3-confluent-kafka); skipping")
	return ""
}
