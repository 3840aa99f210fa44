package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"

	jio "github.com/jocko/jocko/io"
)

// waitLimit bounds how long a test waits for raft to get somewhere; it is
// a hang guard, not a timing assertion.
const waitLimit = 60 * time.Second

func testConfig(id int32, dir string) Config {
	return Config{
		NodeID:   id,
		RaftAddr: "127.0.0.1:0",
		DataDir:  dir,
		Env: jio.Env{
			Net: jio.OSNetwork{},
			FS:  afero.NewOsFs(),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		},
	}
}

// running is a node whose Run goroutine the test controls.
type running struct {
	*Node
	stop func()
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatalf("NewNode(%d): %v", cfg.NodeID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("node %d Run: %v", cfg.NodeID, err)
			}
		})
	}
	t.Cleanup(stop)
	return &running{n, stop}
}

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("gave up waiting for %s", what)
		case <-tick.C:
		}
	}
}

func waitReady(t *testing.T, n *running) {
	t.Helper()
	waitFor(t, "ready", func() bool {
		select {
		case <-n.Ready():
			return true
		default:
			return false
		}
	})
}

func propose(t *testing.T, n *running, cmds ...Command) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for _, cmd := range cmds {
		if err := n.Propose(ctx, cmd); err != nil {
			t.Fatalf("Propose(%#v): %v", cmd, err)
		}
	}
}

func createTopic(name string, id byte, replicas ...int32) CreateTopic {
	return CreateTopic{Name: name, ID: [16]byte{id}, Assignments: [][]int32{replicas}}
}

func TestNodeSingleVoterRecoversFromLogAndSnapshot(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(1, dir)
	cfg.RaftAddr = ":0"
	cfg.Bootstrap = true
	cfg.TrailingLogs = 1

	n := start(t, cfg)
	waitReady(t, n)
	if id, ok := n.LeaderID(); !n.IsLeader() || !ok || id != 1 {
		t.Fatalf("single voter: IsLeader %v, LeaderID %d %v", n.IsLeader(), id, ok)
	}
	changed := n.Changed()
	propose(t, n, RegisterBroker{Broker: Broker{ID: 1, Host: "localhost", Port: 9092}}, createTopic("t1", 1, 1))
	<-changed // already closed: the proposals were applied
	if _, ok := n.State().Topic("t1"); !ok {
		t.Fatal("proposed topic not in State")
	}
	err := n.Propose(context.Background(), createTopic("t1", 2, 1))
	if !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate CreateTopic: %v, expected ErrTopicExists", err)
	}
	n.stop()

	// Restart: the state comes back by replaying the log.
	n = start(t, cfg)
	waitReady(t, n)
	if _, ok := n.State().Topic("t1"); !ok {
		t.Fatal("topic lost across a restart (log replay)")
	}
	propose(t, n, createTopic("t2", 2, 1))
	if err := n.Snapshot(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	want := n.State()
	n.stop()

	// Restart with the log gone: everything must come from the snapshot.
	if err := afero.NewOsFs().RemoveAll(filepath.Join(dir, "log")); err != nil {
		t.Fatal(err)
	}
	n = start(t, cfg)
	waitReady(t, n)
	got := n.State()
	for _, name := range []string{"t1", "t2"} {
		if _, ok := got.Topic(name); !ok {
			t.Fatalf("topic %s lost across a restart from a snapshot", name)
		}
	}
	if got.Brokers[1] != want.Brokers[1] {
		t.Fatalf("broker after restore %+v, expected %+v", got.Brokers[1], want.Brokers[1])
	}
	propose(t, n, createTopic("t3", 3, 1))
}

func TestNodeProposeBeforeRunAndBadConfig(t *testing.T) {
	if _, err := NewNode(Config{NodeID: 1, RaftAddr: ":0"}); err == nil {
		t.Fatal("NewNode without a data dir succeeded")
	}
	n, err := NewNode(testConfig(1, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Propose(context.Background(), SetClusterID{ID: "x"}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Propose before Run: %v", err)
	}
	if n.IsLeader() {
		t.Fatal("a node that is not running claims leadership")
	}
}
