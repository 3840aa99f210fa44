// Package core is the Jocko broker: the connection server, one handler file
// per Kafka API, partition replicas with their high watermark and producer
// state, and the reconciler that turns cluster metadata into local logs.
package core

import (
	"context"
	"errors"
	"fmt"
	"github.com/spf13/afero"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jocko/jocko/cluster"
	jio "github.com/jocko/jocko/io"
	"golang.org/x/sync/errgroup"
)

// Broker is one Jocko broker. NewBroker prepares it; Run serves.
type Broker struct {
	cfg  Config
	env  jio.Env
	log  *slog.Logger
	node *cluster.Node // created by Run (prepareNode), once the broker ID is known

	members cluster.Membership // gossip; nil without Config.Membership

	// runCtx is Run's context; spawn starts goroutines under it and Run
	// waits for them (bg) before it returns.
	runCtx  context.Context
	spawnMu sync.Mutex // guards stopped, so that no goroutine is spawned once Run waits for them
	stopped bool
	bg      sync.WaitGroup

	ready    chan struct{}
	addr     string // advertised Kafka address, set by Run before ready
	epoch    int64  // this start's broker epoch, set by Run before ready
	lostLogs bool   // the data directory was empty at start

	shuttingDown atomic.Bool // Shutdown began: heartbeats ask to shut down
	dirFailed    atomic.Bool // the log directory failed: heartbeats ask to be fenced
	// diskUnknownLogged: retention by percent of disk found no capacity
	// and said so (disk_retention.go).
	diskUnknownLogged atomic.Bool

	partsMu sync.RWMutex
	parts   map[tp]*partition

	reconcileMu sync.Mutex
	opens       opener // opens partitions in the background (partition_open.go)
	pids        producerIDs
	coord       coordinator
	txns        txnCoordinator

	peers  peerPool // connections to other brokers for short requests
	puller puller   // the metadata pull's connection, used by the node's observer only
	ctrl   controllerShell
	fetch  fetchers

	connsMu   sync.Mutex          // guards conns, connsByIP, connSeq and refusedLog
	conns     map[net.Conn]uint64 // open connections, by accept order (nil once closing)
	connsByIP map[string]int      // open connections per remote IP
	connSeq   uint64
	connWG    sync.WaitGroup
	// refusedLog is when a refused connection was last logged (at most
	// one line a second).
	refusedLog time.Time
	reqBytes   byteBudget   // queued.max.request.bytes
	quotas     quotaSensors // byte-rate quota accounting (quota_enforce.go)
	disk       diskGuard    // log.disk.free.min.bytes/.percent (disk_guard.go)

	// What the metrics read (metrics.go, stats.go): metrics hears the hot
	// paths (nopMetrics unless Config.Metrics is set, and then measured
	// says to take the time); the rest are counted here.
	metrics    Metrics
	measured   bool
	topicStats topicStatsSet
	// repairKick wakes the repairer (corrupt.go); capacity 1.
	repairKick   chan struct{}
	corruptFound atomic.Uint64 // corrupt batches found by reads and the scrub
	repairs      atomic.Uint64 // corrupt replicas truncated to fetch again
	scrubbed     atomic.Uint64 // bytes the scrub checked
	isrShrinks   atomic.Uint64 // ISR changes the controller committed
	isrExpands   atomic.Uint64
	rebalances   atomic.Uint64 // group rebalances begun by this broker's coordinator
}

// tp names a topic partition.
type tp struct {
	topic string
	part  int32
}

// NewBroker checks cfg and opens the metadata stores. It starts nothing.
func NewBroker(cfg Config, env jio.Env) (*Broker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	env = env.Defaults()
	log := env.Log.With("node", cfg.NodeID)
	// A data directory with nothing in it: a new broker, or one whose disk
	// was wiped. Either way it holds no replica data (see cluster.Broker).
	entries, _ := afero.ReadDir(env.FS, cfg.DataDir)
	lostLogs := len(entries) == 0
	if err := env.FS.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	b := &Broker{
		lostLogs:   lostLogs,
		cfg:        cfg,
		env:        env,
		log:        log,
		ready:      make(chan struct{}),
		repairKick: make(chan struct{}, 1),
		parts:      map[tp]*partition{},
		conns:      map[net.Conn]uint64{},
		connsByIP:  map[string]int{},
		metrics:    nopMetrics{},
	}
	if cfg.Metrics != nil {
		b.metrics, b.measured = cfg.Metrics, true
	}
	b.pids.b = b
	b.ctrl.b = b
	b.coord = newCoordinator(b)
	b.txns = newTxnCoordinator(b)
	return b, nil
}

// Ready is closed once the broker serves Kafka requests.
func (b *Broker) Ready() <-chan struct{} { return b.ready }

// Addr is the Kafka address advertised to clients (valid once Ready).
func (b *Broker) Addr() string { return b.addr }

// Run serves until ctx is cancelled, then closes connections, partitions and
// the metadata log, and returns. It returns early with an error if the
// listener or the metadata log fails.
func (b *Broker) Run(ctx context.Context) error {
	ln, err := b.env.Net.Listen(ctx, b.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", b.cfg.ListenAddr, err)
	}
	b.addr = b.cfg.AdvertiseAddr
	if b.addr == "" {
		b.addr = ln.Addr().String()
	}
	// The Kafka port is bound at once; requests are served once this
	// broker has its ID and metadata (joining may take a while).
	if err := b.prepareNode(ctx); err != nil {
		ln.Close()
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	b.runCtx = gctx
	g.Go(func() error { return b.node.Run(gctx) })
	g.Go(func() error { return b.ctrl.run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		ln.Close()
		b.closeConns()
		return nil
	})
	g.Go(func() error {
		if err := b.start(gctx); err != nil {
			return err
		}
		close(b.ready)
		gossip := ""
		if b.members != nil {
			gossip = b.members.Local().GossipAddr
		}
		b.log.Info("broker ready", "kafka", b.addr, "raft", b.node.RaftAddr(), "gossip", gossip, "data_dir", b.cfg.DataDir)
		g.Go(func() error { return b.watchMetadata(gctx) })
		g.Go(func() error { return b.heartbeatLoop(gctx, b.epoch) })
		g.Go(func() error { return b.isrLoop(gctx) })
		g.Go(func() error { return b.repairLoop(gctx) })
		g.Go(func() error { return b.scrubLoop(gctx) })
		g.Go(func() error { return b.retentionLoop(gctx) })
		g.Go(func() error { return b.diskRetentionLoop(gctx) })
		return b.accept(gctx, ln)
	})
	err = g.Wait()
	b.stopFetchers()
	b.connWG.Wait()
	b.spawnMu.Lock()
	b.stopped = true
	b.spawnMu.Unlock()
	b.bg.Wait()
	b.closePeers()
	if b.puller.conn != nil {
		b.puller.conn.close() // the node's observer has stopped with Run
	}
	b.txns.stopAll() // before the groups: its markers complete transactional offset commits
	b.coord.stopAll()
	b.closePartitions()
	b.stopMembership(true)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = nil
	}
	return err
}

// start waits for the metadata log, registers this broker and opens the
// partitions it hosts.
func (b *Broker) start(ctx context.Context) error {
	b.coord.begin(ctx)
	b.txns.begin(ctx)
	select {
	case <-b.node.Ready():
	case <-ctx.Done():
		return ctx.Err()
	}
	host, portStr, _ := net.SplitHostPort(b.addr)
	port, _ := strconv.Atoi(portStr)
	me := cluster.Broker{ID: b.cfg.NodeID, Host: host, Port: int32(port), Rack: b.cfg.Rack, RaftAddr: b.node.RaftAddr(),
		LostLogs: b.lostLogs}
	st := b.node.State()
	if st.ClusterID == "" {
		id := b.cfg.ClusterID
		if id == "" {
			id = newClusterID(b.env.Rand)
		}
		// With several initial voters each may propose an ID: the first
		// one applied wins, and the others' proposals fail harmlessly.
		if err := b.commit(ctx, cluster.SetClusterID{ID: id}); err != nil && b.node.State().ClusterID == "" {
			return fmt.Errorf("set cluster id: %w", err)
		}
	}
	if err := b.recordClusterID(b.node.State().ClusterID); err != nil {
		return err
	}
	// Every start registers anew: a new broker epoch, fenced until the
	// controller sees this broker's metadata caught up (KIP-903).
	if err := b.commit(ctx, cluster.RegisterBroker{Broker: me}); err != nil {
		return fmt.Errorf("register broker: %w", err)
	}
	b.epoch = b.node.State().Brokers[me.ID].Epoch
	if err := b.awaitUnfenced(ctx, b.epoch); err != nil {
		return fmt.Errorf("waiting to be unfenced: %w", err)
	}
	if err := b.reconcile(); err != nil {
		return err
	}
	b.sweepOrphans()
	return nil
}

// closePartitions closes every partition, those opened and not installed
// yet too, after writing its clean-shutdown producer snapshot,
// openWorkersMax at a time (each costs two fsyncs).
func (b *Broker) closePartitions() {
	b.partsMu.Lock()
	parts := make([]*partition, 0, len(b.parts))
	for k, p := range b.parts {
		parts = append(parts, p)
		delete(b.parts, k)
	}
	b.partsMu.Unlock()
	for _, op := range b.opens.takeOpened() {
		parts = append(parts, op.p)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, openWorkersMax)
	for _, p := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			p.closeSnapshots(true)
			p.close()
		}()
	}
	wg.Wait()
}

// partition returns the local replica of topic/part, if this broker has it.
func (b *Broker) partition(topic string, part int32) *partition {
	b.partsMu.RLock()
	defer b.partsMu.RUnlock()
	return b.parts[tp{topic, part}]
}

// spawn runs fn in a goroutine under Run's context; Run waits for it.
func (b *Broker) spawn(fn func(ctx context.Context)) {
	b.spawnMu.Lock()
	defer b.spawnMu.Unlock()
	if b.stopped {
		return
	}
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		fn(b.runCtx)
	}()
}
