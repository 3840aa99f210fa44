// Command jocko-restart-bench measures how long a restarted broker takes
// to serve every partition again (issue 9: restart in time proportional
// to the partitions, not to the data).
//
// It starts a jocko broker on a fresh data directory, creates a topic of
// -partitions partitions and writes -gib GiB of 16 KiB records into it with
// an idempotent franz-go producer (batches of at most 64 KiB, so that the
// log holds many batches), scaled down to half the file system's free
// space. Then it kills the broker with SIGKILL (no shutdown snapshot: the
// restart loads no producer snapshot and walks every batch header), starts
// it again, stops it with SIGTERM (a clean shutdown writes a snapshot per
// partition) and starts it again. For each restart it prints, from the
// moment the process is started: when Metadata is first answered, and when
// every partition has taken a produce and served it back by fetch. The
// goal is every partition within 5 s.
//
// Each result is one JSON line on stdout; progress goes to stderr.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/wire"
)

var verbose bool

const (
	topic       = "restart"
	valueBytes  = 16 << 10
	goalSeconds = 5.0
)

type result struct {
	Test          string  `json:"test"`
	After         string  `json:"after,omitempty"`
	Partitions    int     `json:"partitions"`
	Bytes         int64   `json:"bytes"`
	FreeBytes     uint64  `json:"fs_free_bytes,omitempty"`
	Seconds       float64 `json:"seconds,omitempty"`
	MBPerS        float64 `json:"mb_per_s,omitempty"`
	MetadataS     float64 `json:"metadata_s,omitempty"`
	AllServeS     float64 `json:"all_partitions_serve_s,omitempty"`
	BrokerOpenMs  int64   `json:"broker_partitions_open_ms,omitempty"`
	GoalS         float64 `json:"goal_s,omitempty"`
	GoalMet       *bool   `json:"goal_met,omitempty"`
	ShutdownS     float64 `json:"shutdown_s,omitempty"`
	SnapshotFiles int     `json:"snapshot_files,omitempty"`
}

func main() {
	gib := flag.Float64("gib", 2, "GiB to write across the partitions (scaled down to half the free space)")
	parts := flag.Int("partitions", 1000, "partitions of the topic")
	dir := flag.String("dir", "", "where to put the data directory (default: a temporary directory)")
	bin := flag.String("jocko-bin", "", "a jocko binary to run (default: build cmd/jocko)")
	keep := flag.Bool("keep", false, "keep the data directory")
	flag.BoolVar(&verbose, "v", false, "copy the broker's log to stderr")
	flag.Parse()
	if err := run(*gib, *parts, *dir, *bin, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "jocko-restart-bench:", err)
		os.Exit(1)
	}
}

func run(gib float64, parts int, base, bin string, keep bool) error {
	ctx := context.Background()
	root, err := os.MkdirTemp(base, "jocko-restart-bench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(root)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil {
		return err
	}
	free := st.Bavail * uint64(st.Bsize)
	want := int64(gib * (1 << 30))
	if half := int64(free / 2); want > half {
		logf("only %.1f GiB free: writing %.1f GiB instead of %.1f", float64(free)/(1<<30), float64(half)/(1<<30), gib)
		want = half
	}
	if bin == "" {
		bin = filepath.Join(root, "jocko")
		logf("building jocko")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/jocko/jocko/cmd/jocko").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	b := &broker{bin: bin, dataDir: filepath.Join(root, "data")}
	if err := b.pickPorts(); err != nil {
		return err
	}
	if _, err := b.start(); err != nil {
		return err
	}
	defer b.kill()
	written, secs, err := fill(ctx, b.addr, parts, want)
	if err != nil {
		return err
	}
	emit(result{Test: "restart-write", Partitions: parts, Bytes: written, FreeBytes: free, Seconds: secs,
		MBPerS: float64(written) / 1e6 / secs})

	for _, after := range []string{"kill-9", "sigterm"} {
		shutdown := time.Now()
		if after == "kill-9" {
			b.kill()
		} else if err := b.term(); err != nil {
			return err
		}
		r := result{Test: "restart", After: after, Partitions: parts, Bytes: dirBytes(b.dataDir),
			ShutdownS: time.Since(shutdown).Seconds(), SnapshotFiles: countSnapshots(b.dataDir), GoalS: goalSeconds}
		logf("restarting after %s: %.2f GiB on disk, %d producer snapshots", after, float64(r.Bytes)/(1<<30), r.SnapshotFiles)
		started, err := b.start()
		if err != nil {
			return err
		}
		r.MetadataS, r.AllServeS, err = probe(ctx, b.addr, parts, started)
		if err != nil {
			return err
		}
		r.BrokerOpenMs = b.openMs()
		met := r.AllServeS <= goalSeconds
		r.GoalMet = &met
		emit(r)
	}
	return b.term()
}

// fill writes about want bytes of records round-robin over the partitions.
func fill(ctx context.Context, addr string, parts int, want int64) (int64, float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchMaxBytes(64<<10),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProduceRequestTimeout(60*time.Second))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, int32(parts), 1, nil, topic); err != nil {
		return 0, 0, fmt.Errorf("create topic: %w", err)
	}
	value := make([]byte, valueBytes)
	rand.Read(value)
	n := want / valueBytes
	logf("writing %d records of %d KiB (%.2f GiB) to %d partitions", n, valueBytes>>10, float64(n*valueBytes)/(1<<30), parts)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := int64(0); i < n; i++ {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(i % int64(parts)), Value: value}, func(_ *kgo.Record, err error) {
			if err != nil && failed.Add(1) == 1 {
				firstErr.Store(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if failed.Load() > 0 {
		return 0, 0, fmt.Errorf("%d records failed: %v", failed.Load(), firstErr.Load())
	}
	return n * valueBytes, secs, nil
}

// probe asks the broker started at started, until every partition has
// taken a produce and served it back by fetch, and returns the seconds
// from the start to the first Metadata answer and to that.
func probe(ctx context.Context, addr string, parts int, started time.Time) (float64, float64, error) {
	deadline := started.Add(5 * time.Minute)
	var c *rawConn
	for c == nil {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c = &rawConn{c: conn, r: bufio.NewReader(conn)}
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("dial %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer c.c.Close()
	for {
		md := kmsg.NewPtrMetadataRequest()
		md.SetVersion(8)
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(topic)
		md.Topics = append(md.Topics, t)
		resp, err := c.do(md)
		if err != nil {
			return 0, 0, err
		}
		if ts := resp.(*kmsg.MetadataResponse).Topics; len(ts) == 1 && ts[0].ErrorCode == 0 && len(ts[0].Partitions) == parts {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("no metadata for %s", topic)
		}
		time.Sleep(10 * time.Millisecond)
	}
	metadata := time.Since(started).Seconds()
	batch, err := wire.AppendBatch(nil, wire.Batch{ProducerID: -1, BaseSequence: -1, Records: []wire.Record{{Value: []byte("probe")}}})
	if err != nil {
		return 0, 0, err
	}
	left := map[int32]bool{}
	for i := 0; i < parts; i++ {
		left[int32(i)] = true
	}
	for len(left) > 0 {
		produced, err := probeProduce(c, left, batch)
		if err != nil {
			return 0, 0, err
		}
		if err := probeFetch(c, produced, left); err != nil {
			return 0, 0, err
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("%d partitions still refuse produce or fetch", len(left))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return metadata, time.Since(started).Seconds(), nil
}

// probeProduce sends one record to every partition left, and returns the
// offsets of those that took it.
func probeProduce(c *rawConn, left map[int32]bool, batch []byte) (map[int32]int64, error) {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(8)
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for p := range left {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, batch
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, t := range resp.(*kmsg.ProduceResponse).Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				out[p.Partition] = p.BaseOffset
			}
		}
	}
	return out, nil
}

// probeFetch reads back each produced record and strikes its partition
// from left once it is served.
func probeFetch(c *rawConn, produced map[int32]int64, left map[int32]bool) error {
	if len(produced) == 0 {
		return nil
	}
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 0, 64<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for p, off := range produced {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, off, 1024, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	for _, t := range resp.(*kmsg.FetchResponse).Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 && len(p.RecordBatches) > 0 {
				delete(left, p.Partition)
			}
		}
	}
	return nil
}

// rawConn sends requests at exactly their version over one connection
// (non-flexible versions only: no tagged response header).
type rawConn struct {
	c    net.Conn
	r    *bufio.Reader
	corr int32
	fmt  *kmsg.RequestFormatter
}

func (c *rawConn) do(req kmsg.Request) (kmsg.Response, error) {
	if c.fmt == nil {
		c.fmt = kmsg.NewRequestFormatter(kmsg.FormatterClientID("jocko-restart-bench"))
	}
	c.corr++
	c.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.c.Write(c.fmt.AppendRequest(nil, req, c.corr)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.r, body); err != nil {
		return nil, err
	}
	if len(body) < 4 || int32(binary.BigEndian.Uint32(body)) != c.corr {
		return nil, fmt.Errorf("response to %d is not the one expected", c.corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	return resp, resp.ReadFrom(body[4:])
}

// broker is the jocko process under test.
type broker struct {
	bin, dataDir         string
	listen, raft, gossip string
	addr                 string
	cmd                  *exec.Cmd
	exited               chan struct{}
	mu                   sync.Mutex
	openedMs             int64 // from the broker's "partitions open" line; -1 until then
}

func (b *broker) pickPorts() error {
	var addrs []string
	for i := 0; i < 3; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	b.listen, b.raft, b.gossip = addrs[0], addrs[1], addrs[2]
	return nil
}

var (
	readyRE  = regexp.MustCompile(`broker ready.* kafka=(\S+)`)
	openedRE = regexp.MustCompile(`msg="partitions open".* ms=(\d+)`)
)

// start runs the broker and waits until it logs that it serves; it
// returns when the process was started.
func (b *broker) start() (time.Time, error) {
	b.cmd = exec.Command(b.bin, "broker", "--data-dir", b.dataDir, "--listen", b.listen,
		"--raft-listen", b.raft, "--gossip-listen", b.gossip)
	stderr, err := b.cmd.StderrPipe()
	if err != nil {
		return time.Time{}, err
	}
	b.mu.Lock()
	b.openedMs = -1
	b.mu.Unlock()
	started := time.Now()
	if err := b.cmd.Start(); err != nil {
		return started, err
	}
	b.exited = make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if verbose {
				fmt.Fprintln(os.Stderr, line)
			}
			if m := readyRE.FindStringSubmatch(line); m != nil {
				select {
				case ready <- m[1]:
				default:
				}
			}
			if m := openedRE.FindStringSubmatch(line); m != nil {
				ms, _ := strconv.ParseInt(m[1], 10, 64)
				b.mu.Lock()
				b.openedMs = ms
				b.mu.Unlock()
			}
		}
	}()
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(b.cmd, b.exited)
	select {
	case b.addr = <-ready:
		return started, nil
	case <-b.exited:
		return started, fmt.Errorf("jocko exited before it was ready")
	case <-time.After(5 * time.Minute):
		return started, fmt.Errorf("jocko not ready after 5 minutes")
	}
}

func (b *broker) openMs() int64 {
	deadline := time.Now().Add(time.Minute)
	for {
		b.mu.Lock()
		ms := b.openedMs
		b.mu.Unlock()
		if ms >= 0 || time.Now().After(deadline) {
			return ms
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *broker) kill() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.exited
}

func (b *broker) term() error {
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
		return nil
	case <-time.After(2 * time.Minute):
		b.kill()
		return fmt.Errorf("jocko did not stop within 2 minutes of SIGTERM")
	}
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func countSnapshots(dir string) int {
	m, _ := filepath.Glob(filepath.Join(dir, topic+"-*", "*.snapshot"))
	return len(m)
}

func emit(r result) {
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}
