package core

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/wire"
)

// holdSyncFS holds every fsync of a file whose path contains match, once
// armed, until released: what an acks=all (or acks=1) produce waits for
// never comes while the test wants it to wait. With delay set, it makes
// each such fsync take that long instead: a slow disk.
type holdSyncFS struct {
	afero.Fs
	match   string
	armed   atomic.Bool
	delay   time.Duration
	release chan struct{}
	once    sync.Once
}

func (fs *holdSyncFS) open(f afero.File, err error) (afero.File, error) {
	if err != nil {
		return f, err
	}
	return holdSyncFile{f, fs}, nil
}

func (fs *holdSyncFS) Create(name string) (afero.File, error) { return fs.open(fs.Fs.Create(name)) }
func (fs *holdSyncFS) Open(name string) (afero.File, error)   { return fs.open(fs.Fs.Open(name)) }
func (fs *holdSyncFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	return fs.open(fs.Fs.OpenFile(name, flag, perm))
}

// unhold lets every held fsync go on (and every later one).
func (fs *holdSyncFS) unhold() { fs.once.Do(func() { close(fs.release) }) }

type holdSyncFile struct {
	afero.File
	fs *holdSyncFS
}

func (f holdSyncFile) Sync() error {
	if f.fs.armed.Load() && strings.Contains(f.Name(), f.fs.match) {
		if f.fs.delay > 0 {
			time.Sleep(f.fs.delay)
		} else {
			<-f.fs.release
		}
	}
	return f.File.Sync()
}

// startHeldBroker starts one broker whose fsyncs of files under topic-0
// can be held.
func startHeldBroker(t *testing.T, topic string) (*Broker, *holdSyncFS) {
	t.Helper()
	fs := &holdSyncFS{Fs: afero.NewOsFs(), match: string(os.PathSeparator) + topic + "-0" + string(os.PathSeparator), release: make(chan struct{})}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	raft := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg := Config{NodeID: 1, DataDir: t.TempDir(), ListenAddr: addr, RaftAddr: raft, Voters: map[int32]string{1: raft}}
	env := jio.Env{FS: fs, Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	b, err := NewBroker(cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		fs.unhold()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker: %v", err)
		}
	})
	select {
	case <-b.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("broker not ready")
	}
	return b, fs
}

// TestClosedPartitionWakesWaiters: closing a partition answers its
// waiters at once with what Kafka answers (UNKNOWN_TOPIC_OR_PARTITION for
// a deleted topic, NOT_LEADER_OR_FOLLOWER for a replica moved to another
// broker), instead of leaving them to their timeouts: an acks=all produce
// waiting for an fsync that never comes, and a long-poll fetch (30 s)
// waiting for records. An append after the close answers the same and is
// not taken for a disk failure (no "partition offline").
func TestClosedPartitionWakesWaiters(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(ctx context.Context, b *Broker) error
		code  int16
		// idCode is what a request naming the topic by ID gets once
		// it looks again (Fetch v13+: UNKNOWN_TOPIC_ID for a deleted
		// topic, as Kafka).
		idCode int16
	}{
		{"deleted", func(ctx context.Context, b *Broker) error {
			return b.commit(ctx, cluster.DeleteTopic{Name: "held"})
		}, kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicID.Code},
		{"moved", func(ctx context.Context, b *Broker) error {
			top, _ := b.node.State().Topic("held")
			ps := top.Partitions[0]
			return b.commit(ctx, cluster.ReassignPartition{Topic: "held", Replicas: []int32{2}, Leader: -1, LeaderEpoch: ps.LeaderEpoch + 1, ISR: []int32{2}, ExpectedPartitionEpoch: ps.PartitionEpoch})
		}, kerr.NotLeaderForPartition.Code, kerr.NotLeaderForPartition.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, fs := startHeldBroker(t, "held")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			id := [16]byte{0x4e}
			// Broker 2 is a replica only so that the partition can move
			// to it; it stays fenced, so it holds back nothing.
			if err := b.commit(ctx, cluster.RegisterBroker{Broker: cluster.Broker{ID: 2, Host: "127.0.0.1", Port: 9}}); err != nil {
				t.Fatal(err)
			}
			if err := b.commit(ctx, cluster.CreateTopic{Name: "held", ID: id, Assignments: [][]int32{{1, 2}}}); err != nil {
				t.Fatal(err)
			}
			var p *partition
			waitFor(t, 10*time.Second, "held-0 led here", func() bool {
				p = b.partition("held", 0)
				return p != nil && p.isLeader()
			})
			fs.armed.Store(true)
			produce := func(cl *kgo.Client) (*kmsg.ProduceResponse, error) {
				now := time.Now().UnixMilli()
				raw, err := wire.AppendBatch(nil, wire.Batch{FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
					Records: []wire.Record{{Value: []byte("v")}}})
				if err != nil {
					t.Fatal(err)
				}
				req := kmsg.NewPtrProduceRequest()
				req.Acks, req.TimeoutMillis = -1, 30000
				rt := kmsg.NewProduceRequestTopic()
				rt.Topic, rt.TopicID = "held", id
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Records = raw
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				return req.RequestWith(ctx, cl)
			}
			newClient := func() *kgo.Client {
				cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RequestTimeoutOverhead(40*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(cl.Close)
				return cl
			}
			type answer struct {
				code int16
				err  error
			}
			produced := make(chan answer, 1)
			go func() {
				resp, err := produce(newClient())
				if err != nil {
					produced <- answer{err: err}
					return
				}
				produced <- answer{code: resp.Topics[0].Partitions[0].ErrorCode}
			}()
			waitFor(t, 10*time.Second, "the produce appended, its fsync held", func() bool { return p.log.EndOffset() == 1 })
			fetched := make(chan answer, 1)
			go func() {
				req := kmsg.NewPtrFetchRequest()
				req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 30000, 1, 1<<20
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic, rt.TopicID = "held", id
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1<<20, -1
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				resp, err := req.RequestWith(ctx, newClient())
				if err != nil {
					fetched <- answer{err: err}
					return
				}
				fetched <- answer{code: resp.Topics[0].Partitions[0].ErrorCode}
			}()
			waitFor(t, 10*time.Second, "the fetch long-polling", func() bool {
				p.notifyMu.Lock()
				defer p.notifyMu.Unlock()
				return len(p.watchers) == 1
			})
			closeDone := make(chan error, 1)
			go func() { closeDone <- tc.close(ctx, b) }()
			// The fsync stays held until both have answered: only the
			// close can answer them.
			for what, ch := range map[string]chan answer{"acks=all produce": produced, "long-poll fetch": fetched} {
				select {
				case a := <-ch:
					if a.err != nil || a.code != tc.code && a.code != tc.idCode {
						t.Fatalf("%s: %v %v, want %v", what, a.err, kerr.ErrorForCode(a.code), kerr.ErrorForCode(tc.code))
					}
				case <-time.After(15 * time.Second):
					t.Fatalf("%s still waiting 15 s after its partition was closed", what)
				}
			}
			// An append that reaches the closed partition late.
			if _, err := p.append(nil, nil); err == nil {
				t.Fatal("append of no batch accepted")
			}
			now := time.Now().UnixMilli()
			raw, _ := wire.AppendBatch(nil, wire.Batch{FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
				Records: []wire.Record{{Value: []byte("late")}}})
			h, _ := wire.ParseBatchHeader(raw)
			_, err := p.append(raw, []wire.BatchHeader{h})
			if code := appendErrorCode(err); code != tc.code {
				t.Fatalf("append after the close: %v (%v), want %v", kerr.ErrorForCode(code), err, kerr.ErrorForCode(tc.code))
			}
			fs.unhold()
			if err := <-closeDone; err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the partition closed and dropped", func() bool { return b.partition("held", 0) == nil })
			if p.failed.Load() != nil || b.dirFailed.Load() {
				t.Fatalf("closing took the partition for a failed disk: %v", p.err())
			}
		})
	}
}
