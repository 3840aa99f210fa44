package core

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/wire"
)

// gateFS holds every opening of a path that contains match until the gate
// is opened.
type gateFS struct {
	afero.Fs
	match string
	gate  chan struct{}
	once  sync.Once
}

func (g *gateFS) wait(name string) {
	if strings.Contains(name, g.match) {
		<-g.gate
	}
}

func (g *gateFS) release() { g.once.Do(func() { close(g.gate) }) }

func (g *gateFS) Open(name string) (afero.File, error) {
	g.wait(name)
	return g.Fs.Open(name)
}

func (g *gateFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	g.wait(name)
	return g.Fs.OpenFile(name, flag, perm)
}

// runBroker runs a one-broker cluster on dir until the returned stop.
func runBroker(t *testing.T, cfg Config, fs afero.Fs) (*Broker, func()) {
	t.Helper()
	env := jio.Env{FS: fs, Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	b, err := NewBroker(cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("broker: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("broker not stopped 30 s after its context ended")
		}
	}
	t.Cleanup(stop)
	select {
	case <-b.Ready():
	case err := <-done:
		t.Fatalf("broker stopped before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("broker not ready after 20 s")
	}
	return b, stop
}

// produceOne sends one batch to topic/0 (acks=all) and returns the error
// code and base offset.
func produceOne(t *testing.T, c *peerConn, topic string, value string) (int16, int64) {
	t.Helper()
	raw, err := wire.AppendBatch(nil, wire.Batch{ProducerID: -1, BaseSequence: -1, Records: []wire.Record{{Value: []byte(value)}}})
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = raw
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := c.do(ctx, time.Now(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	return got.ErrorCode, got.BaseOffset
}

// TestMetadataAnsweredWhilePartitionsOpen: a restarting broker serves as
// soon as its metadata is ready, while its partitions open in the
// background: Metadata lists every topic, a partition already open takes
// produce, and one still opening answers produce and fetch
// NOT_LEADER_OR_FOLLOWER (retriable) until it is open. Before, the broker
// served nothing until every partition had opened, one after another.
func TestMetadataAnsweredWhilePartitionsOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker twice")
	}
	dir := t.TempDir()
	cfg := Config{NodeID: 1, DataDir: dir,
		ListenAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)), RaftAddr: "127.0.0.1:" + strconv.Itoa(freePort(t))}
	fs := &gateFS{Fs: afero.NewOsFs(), match: string(filepath.Separator) + "slow-0", gate: make(chan struct{})}
	fs.release()
	b, stop := runBroker(t, cfg, fs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, name := range []string{"slow", "fast"} {
		if err := b.commit(ctx, cluster.CreateTopic{Name: name, ID: [16]byte{byte(9 + i)}, Assignments: [][]int32{{1}}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "both partitions open", func() bool {
		return b.partition("slow", 0) != nil && b.partition("fast", 0) != nil
	})
	c, err := b.dialPeer(ctx, b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := produceOne(t, c, "slow", "before"); code != 0 {
		t.Fatalf("produce before the restart: %v", kerr.ErrorForCode(code))
	}
	c.close()
	stop()

	fs.gate, fs.once = make(chan struct{}), sync.Once{} // slow-0 cannot open until released
	t.Cleanup(fs.release)
	b, _ = runBroker(t, cfg, fs)
	c, err = b.dialPeer(ctx, b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(12)
	resp, err := c.do(ctx, time.Now(), md)
	if err != nil {
		t.Fatal(err)
	}
	topics := map[string]int16{}
	for _, tp := range resp.(*kmsg.MetadataResponse).Topics {
		if tp.Topic != nil {
			topics[*tp.Topic] = tp.ErrorCode
		}
	}
	if code, ok := topics["slow"]; !ok || code != 0 || len(topics) < 2 {
		t.Fatalf("Metadata while slow-0 opens: topics %v, want slow and fast without error", topics)
	}
	waitFor(t, 20*time.Second, "fast-0 open", func() bool { return b.partition("fast", 0) != nil })
	if code, _ := produceOne(t, c, "fast", "while slow-0 opens"); code != 0 {
		t.Errorf("produce to the open fast-0: %v", kerr.ErrorForCode(code))
	}
	if code, _ := produceOne(t, c, "slow", "too early"); code != kerr.NotLeaderForPartition.Code {
		t.Errorf("produce to slow-0 while it opens: %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(code))
	}
	top, _ := b.node.State().Topic("slow")
	fr := kmsg.NewPtrFetchRequest()
	fr.SetVersion(12)
	fr.ReplicaID, fr.MaxWaitMillis, fr.MaxBytes, fr.SessionEpoch = -1, 100, 1<<20, -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = "slow", top.ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 1<<20, -1
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)
	fresp, err := c.do(ctx, time.Now(), fr)
	if err != nil {
		t.Fatal(err)
	}
	if code := fresp.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Errorf("fetch from slow-0 while it opens: %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(code))
	}
	select {
	case <-b.PartitionsOpen():
		t.Fatal("PartitionsOpen closed while slow-0 cannot open")
	default:
	}

	fs.release()
	select {
	case <-b.PartitionsOpen():
	case <-time.After(20 * time.Second):
		t.Fatal("partitions not open 20 s after the release")
	}
	if code, base := produceOne(t, c, "slow", "after"); code != 0 || base != 1 {
		t.Errorf("produce to slow-0 once open: %v at %d, want offset 1", kerr.ErrorForCode(code), base)
	}
}
