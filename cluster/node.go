package cluster

import (
	"context"
	"errors"
	"fmt"
	"github.com/jocko/jocko/io/buggify"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"golang.org/x/sync/errgroup"

	"github.com/jocko/jocko/storage/raftstore"
)

// Node is one member of the metadata Raft group: hashicorp/raft over the
// stores in raftstore and a stream layer on the jio network, feeding the
// FSM. NewNode opens the stores and binds the listener; Run starts raft and
// stops it when its context ends. A Node runs once: restart by creating a
// new Node on the same DataDir.
type Node struct {
	cfg    Config
	fsm    *FSM
	logs   *raftstore.LogStore
	stable *raftstore.StableStore
	snaps  *raftstore.SnapshotStore
	ln     net.Listener
	addr   string // advertised raft address

	raft       atomic.Pointer[raft.Raft]
	leaderHint atomic.Int32 // the controller a metadata pull last heard from; 0: none
	started    atomic.Bool
	ready      chan struct{}
	readyOnce  sync.Once
	closeOnce  sync.Once

	// leaderChanges counts raft's leader observations (RaftStats).
	leaderChanges atomic.Uint64
}

// readyPollInterval is how often a starting node re-checks readiness when
// nothing else wakes it.
const readyPollInterval = 50 * time.Millisecond

// transportPoolMax and transportTimeout configure raft's network transport.
const (
	transportPoolMax = 3
	transportTimeout = 10 * time.Second
)

// NewNode opens the raft stores under cfg.DataDir and binds cfg.RaftAddr.
// It starts no goroutines. Call Run, or Close if Run will not be called.
func NewNode(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, fsm: NewFSM(), ready: make(chan struct{})}
	fs := cfg.Env.FS
	if n.logs, err = raftstore.NewLogStore(fs, filepath.Join(cfg.DataDir, "log")); err != nil {
		return nil, err
	}
	if n.stable, err = raftstore.NewStableStore(fs, filepath.Join(cfg.DataDir, "stable")); err != nil {
		n.logs.Close()
		return nil, err
	}
	if n.snaps, err = raftstore.NewSnapshotStore(fs, filepath.Join(cfg.DataDir, "snapshots"), cfg.SnapshotsRetained); err != nil {
		n.logs.Close()
		return nil, err
	}
	if n.ln = cfg.Listener; n.ln == nil {
		if n.ln, err = cfg.Env.Net.Listen(context.Background(), cfg.RaftAddr); err != nil {
			n.logs.Close()
			return nil, fmt.Errorf("cluster: listen for raft on %s: %w", cfg.RaftAddr, err)
		}
	}
	if st, err := loadObserverState(fs, cfg.DataDir); err != nil {
		n.ln.Close()
		n.logs.Close()
		return nil, err
	} else if st != nil {
		n.fsm.restore(st)
	}
	n.addr = cfg.AdvertiseRaftAddr
	if n.addr == "" {
		n.addr = n.ln.Addr().String()
	}
	return n, nil
}

// Run starts raft (bootstrapping a one-voter cluster if configured and no
// state exists), blocks until ctx is done, then shuts raft down and
// releases the stores and the listener.
func (n *Node) Run(ctx context.Context) error {
	if !n.started.CompareAndSwap(false, true) {
		return errors.New("cluster: node already ran")
	}
	defer n.Close()
	r, trans, err := n.startRaft()
	if err != nil {
		return err
	}
	if n.cfg.CountLeaderChanges {
		n.countLeaderChanges(r)
	}
	n.raft.Store(r)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.waitReady(gctx, r) })
	if n.cfg.Pull != nil {
		g.Go(func() error { n.observe(gctx, r); return nil })
	}
	if buggify.Active() {
		g.Go(func() error { n.buggifyStepDown(gctx, r); return nil })
	}
	<-ctx.Done()
	err = r.Shutdown().Error()
	if cerr := trans.Close(); err == nil {
		err = cerr
	}
	if werr := g.Wait(); err == nil {
		err = werr
	}
	return err
}

func (n *Node) startRaft() (*raft.Raft, *raft.NetworkTransport, error) {
	layer := &streamLayer{Listener: n.ln, network: n.cfg.Env.Net, advertise: tcpAddr(n.addr)}
	rc := n.cfg.raftConfig()
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: transportPoolMax,
		Timeout: transportTimeout,
		Logger:  rc.Logger,
	})
	has, err := raft.HasExistingState(n.logs, n.stable, n.snaps)
	if err != nil {
		trans.Close()
		return nil, nil, fmt.Errorf("cluster: inspect raft state: %w", err)
	}
	logs, err := raft.NewLogCache(512, n.logs)
	if err != nil {
		trans.Close()
		return nil, nil, err
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, n.stable, n.snaps, trans)
	if err != nil {
		trans.Close()
		return nil, nil, fmt.Errorf("cluster: start raft: %w", err)
	}
	if (n.cfg.Bootstrap || len(n.cfg.Voters) > 0) && !has {
		boot := raft.Configuration{Servers: []raft.Server{
			{Suffrage: raft.Voter, ID: rc.LocalID, Address: raft.ServerAddress(n.addr)},
		}}
		if len(n.cfg.Voters) > 0 {
			boot.Servers = boot.Servers[:0]
			for _, id := range slices.Sorted(maps.Keys(n.cfg.Voters)) {
				boot.Servers = append(boot.Servers, raft.Server{Suffrage: raft.Voter, ID: serverID(id), Address: raft.ServerAddress(n.cfg.Voters[id])})
			}
		}
		// ErrCantBootstrap: between NewRaft and here a peer already gave
		// this node a term or entries (a voter restarted with a wiped disk
		// while the others run); it joins what they have.
		if err := r.BootstrapCluster(boot).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			r.Shutdown().Error()
			trans.Close()
			return nil, nil, fmt.Errorf("cluster: bootstrap: %w", err)
		}
	}
	return r, trans, nil
}

// Close releases the stores and the listener of a node that is not
// running. Run calls it on return; calling it again is harmless.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		err = errors.Join(n.ln.Close(), n.logs.Close())
	})
	return err
}

// waitReady closes n.ready once a leader is known and this node has
// applied what was committed: a leader proves that with a barrier, a
// follower by having applied its commit index.
func (n *Node) waitReady(ctx context.Context, r *raft.Raft) error {
	t := n.cfg.Env.Clock.Ticker(readyPollInterval)
	defer t.Stop()
	for {
		changed := n.fsm.Changed()
		if n.caughtUp(r) {
			n.readyOnce.Do(func() { close(n.ready) })
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-changed:
		}
	}
}

func (n *Node) caughtUp(r *raft.Raft) bool {
	if _, id := r.LeaderWithID(); id == "" {
		return false
	}
	if r.State() == raft.Leader {
		return r.Barrier(0).Error() == nil
	}
	commit := r.CommitIndex()
	return commit > 0 && r.AppliedIndex() >= commit
}

// Ready is closed once this node knows a leader and has applied everything
// committed at that point.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// State returns the current metadata, lock-free. Do not mutate it.
func (n *Node) State() *State { return n.fsm.State() }

// Changed returns a channel closed at the next state change. Take it
// before calling State so that no change slips in between.
func (n *Node) Changed() <-chan struct{} { return n.fsm.Changed() }

// RaftAddr returns the address peers reach this node's raft at: the
// advertised address, by default the one actually bound.
func (n *Node) RaftAddr() string { return n.addr }

// IsLeader reports whether this node is the raft leader.
func (n *Node) IsLeader() bool {
	r := n.raft.Load()
	return r != nil && r.State() == raft.Leader
}

// LeaderID returns the current leader's node ID, if one is known.
func (n *Node) LeaderID() (int32, bool) {
	r := n.raft.Load()
	if r == nil {
		return 0, false
	}
	_, id := r.LeaderWithID()
	if id == "" {
		if hint := n.leaderHint.Load(); hint > 0 {
			return hint, true // an observer's controller
		}
		return 0, false
	}
	return parseServerID(id)
}

// stepDownCheck is how often a simulated leader considers stepping down.
const stepDownCheck = time.Second

// buggifyStepDown runs only under the simulator (BUGGIFY): now and then the
// leader hands leadership away, as a real leader does on a slow disk or a
// lost quorum, so that every path that follows a leader change is taken.
func (n *Node) buggifyStepDown(ctx context.Context, r *raft.Raft) {
	t := n.cfg.Env.Clock.Ticker(stepDownCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if r.State() == raft.Leader && buggify.On(buggify.ClusterStepDown) {
				r.LeadershipTransfer() // fails harmlessly without another voter
			}
		}
	}
}

// WaitApplied waits until this node's metadata has applied Raft index
// index (or ctx ends).
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	for {
		ch := n.fsm.Changed()
		if n.fsm.State().AppliedIndex >= index {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
