package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// `jocko produce TOPIC` sends one record per line of stdin or of --file, as
// kcat -P does: the topic is created with the cluster's defaults when it
// does not exist, a --key-sep splits each line into key and value, and
// every record carries the --header pairs. Each failed record is reported
// on stderr with its line number; the summary (records, bytes, partitions
// and offsets) goes to stdout, and the exit code is 1 when any record
// failed.

// lineBytesMax bounds one input line (and so one record).
const lineBytesMax = 16 << 20

// produceErrorsShownMax bounds the per-record error lines; the count of
// failures is always reported.
const produceErrorsShownMax = 100

// produceOptions are the flags of `jocko produce`.
type produceOptions struct {
	admin       adminFlags
	file        string
	keySep      string
	headerFlags stringList
	partition   int
	acks        string
	compression string
	format      *string

	headers []kgo.RecordHeader // parsed from headerFlags by check
}

func (o *produceOptions) bind(fs *flag.FlagSet) {
	o.admin.bind(fs)
	fs.StringVar(&o.file, "file", "", "read records from this file, one a line (default: stdin)")
	fs.StringVar(&o.keySep, "key-sep", "", "split each line at the first SEP into key and value (a line without SEP has no key)")
	fs.Var(&o.headerFlags, "header", "add header KEY=VALUE to every record (repeatable)")
	fs.IntVar(&o.partition, "partition", -1, "send every record to this partition (default: by key hash, keyless records spread)")
	fs.StringVar(&o.acks, "acks", "all", "acknowledgement: all (every in-sync replica), 1 (the leader) or 0 (none)")
	fs.StringVar(&o.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	o.format = bindFormat(fs)
}

// check validates the flags and parses the headers.
func (o *produceOptions) check() error {
	if err := checkFormat(*o.format); err != nil {
		return err
	}
	switch o.acks {
	case "all", "-1", "1", "0":
	default:
		return usageErrorf("--acks %q: want all, 1 or 0", o.acks)
	}
	if _, ok := compressionCodecs[o.compression]; !ok {
		return usageErrorf("--compression %q: want none, gzip, snappy, lz4 or zstd", o.compression)
	}
	if o.partition < -1 {
		return usageErrorf("--partition %d: want a partition number (0 or more)", o.partition)
	}
	for _, h := range o.headerFlags {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return usageErrorf("--header %q: want KEY=VALUE", h)
		}
		o.headers = append(o.headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return nil
}

var compressionCodecs = map[string]kgo.CompressionCodec{
	"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
	"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
}

// kgoOpts are the producer settings the flags ask for.
func (o *produceOptions) kgoOpts(topic string) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(compressionCodecs[o.compression]),
		kgo.RecordDeliveryTimeout(o.admin.timeout),
	}
	switch o.acks {
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if o.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	return opts
}

func runProduce(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jocko produce", flag.ContinueOnError)
	var o produceOptions
	o.bind(fs)
	if err := parseFlags(fs, interleave(fs, args), stderr); err != nil {
		return err
	}
	topic, err := topicArg(fs, "produce")
	if err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	in, size := stdin, int64(-1)
	if o.file != "" {
		f, err := os.Open(o.file)
		if err != nil {
			return usageErrorf("--file: %v", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in = f
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.admin.timeout)
	defer cancel()
	cl, err := o.admin.client(ctx, o.kgoOpts(topic)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	partitions, err := ensureTopic(ctx, kadm.NewClient(cl), topic, stderr)
	if err != nil {
		return err
	}
	if o.partition >= partitions {
		return usageErrorf("--partition %d: topic %s has %d partitions (0 to %d)", o.partition, topic, partitions, partitions-1)
	}
	p := &producer{opts: &o, cl: cl, topic: topic, stderr: stderr, stats: newProduceStats(o.acks == "0")}
	if o.file != "" && size > 0 && isTerminal(stderr) {
		p.bar = newProgressBar(stderr, size, &p.read, &p.stats.sent)
		go p.bar.run()
	}
	readErr := p.send(in)
	// Flush waits for every record: each is acknowledged or fails within
	// the delivery timeout.
	cl.Flush(context.Background())
	p.bar.finish()
	if err := p.stats.print(stdout, topic, *o.format); err != nil {
		return err
	}
	if readErr != nil {
		return readErr
	}
	if failed, total := p.stats.failedAndTotal(); failed > 0 {
		return fmt.Errorf("%d of %d records failed (each is reported above)", failed, total)
	}
	return nil
}

// topicArg returns the one positional argument, a topic name.
func topicArg(fs *flag.FlagSet, cmd string) (string, error) {
	switch {
	case fs.NArg() != 1:
		return "", usageErrorf("jocko %s needs exactly one topic name (got %d arguments)", cmd, fs.NArg())
	case fs.Arg(0) == "":
		return "", usageErrorf("jocko %s: the topic name is empty", cmd)
	}
	return fs.Arg(0), nil
}

// ensureTopic returns the topic's partition count, creating the topic with
// the cluster's default partitions and replication factor (KIP-464) when it
// does not exist, as a client's auto-creation would.
func ensureTopic(ctx context.Context, adm *kadm.Client, topic string, stderr io.Writer) (int, error) {
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("read metadata of topic %s: %v", topic, err)
	}
	if t, ok := topics[topic]; ok && t.Err == nil {
		return len(t.Partitions), nil
	} else if ok && !errors.Is(t.Err, kerr.UnknownTopicOrPartition) && !errors.Is(t.Err, kerr.InvalidTopicException) {
		return 0, fmt.Errorf("topic %s: %v", topic, t.Err)
	}
	// An invalid name goes on to CreateTopics too: its answer says what a
	// name may hold.
	resp, err := adm.CreateTopic(ctx, -1, -1, nil, topic)
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists): // created meanwhile by someone else
		topics, err := adm.ListTopics(ctx, topic)
		if err != nil || topics[topic].Err != nil {
			return 0, fmt.Errorf("read metadata of topic %s: %v", topic, errors.Join(err, topics[topic].Err))
		}
		return len(topics[topic].Partitions), nil
	case err != nil:
		return 0, topicErr("create", topic, resp.ErrMessage, err)
	}
	fmt.Fprintf(stderr, "created topic %s with %d partitions (replication factor %d)\n", topic, resp.NumPartitions, resp.ReplicationFactor)
	return int(resp.NumPartitions), nil
}

// producer sends the lines of one input.
type producer struct {
	opts   *produceOptions
	cl     *kgo.Client
	topic  string
	stderr io.Writer
	stats  *produceStats
	read   atomic.Int64 // input bytes read, for the progress bar
	bar    *progressBar // nil unless stderr is a terminal and the input a file
	mu     sync.Mutex   // serialises report's writes (promises run concurrently)
}

// report prints one line on stderr, above the progress bar if there is one.
func (p *producer) report(line string) {
	if p.bar != nil {
		p.bar.println(line)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.stderr, line)
}

// send produces one record per line of in and returns once every line is
// handed to the client, or at the first line it cannot read.
func (p *producer) send(in io.Reader) error {
	sc := bufio.NewScanner(countingReader{in, &p.read})
	sc.Buffer(make([]byte, 0, 64<<10), lineBytesMax)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		r := &kgo.Record{Headers: p.opts.headers}
		if k, v, ok := cutKey(text, p.opts.keySep); ok {
			r.Key, r.Value = []byte(k), []byte(v)
		} else {
			r.Value = []byte(text)
		}
		if p.opts.partition >= 0 {
			r.Partition = int32(p.opts.partition)
		}
		n := line
		p.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) { p.done(n, r, err) })
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d is longer than %d MiB; records must be smaller (the lines before it were sent)", line+1, lineBytesMax>>20)
		}
		return fmt.Errorf("read line %d: %v (the lines before it were sent)", line+1, err)
	}
	return nil
}

// cutKey splits line at the first sep; ok is false when sep is empty or
// absent (kcat -K likewise sends such a line with no key).
func cutKey(line, sep string) (key, value string, ok bool) {
	if sep == "" {
		return "", "", false
	}
	return strings.Cut(line, sep)
}

// done records the outcome of the record read from line n and reports a
// failure (the first produceErrorsShownMax of them).
func (p *producer) done(n int, r *kgo.Record, err error) {
	failed := p.stats.add(r, err)
	switch {
	case err == nil || failed > produceErrorsShownMax:
	case failed == produceErrorsShownMax:
		p.report(fmt.Sprintf("line %d: %v\n(further failures are counted, not shown)", n, produceErrText(err)))
	default:
		p.report(fmt.Sprintf("line %d: %v", n, produceErrText(err)))
	}
}

// produceErrText names the error and, for those a user can act on, what to
// do.
func produceErrText(err error) string {
	switch {
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return fmt.Sprintf("%v (raise the topic's max.message.bytes, or send smaller records)", err)
	case errors.Is(err, kgo.ErrRecordTimeout):
		return fmt.Sprintf("%v (no acknowledgement within --timeout; are the partition's replicas up?)", err)
	case errors.Is(err, kerr.NotEnoughReplicas), errors.Is(err, kerr.NotEnoughReplicasAfterAppend):
		return fmt.Sprintf("%v (fewer in-sync replicas than min.insync.replicas; try --acks 1 or bring brokers back)", err)
	}
	return err.Error()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
