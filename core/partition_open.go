package core

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/spf13/afero"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/storage"
)

// openWorkersMax bounds how many partitions open at once. Opening is a few
// small reads (storage.Open, the newest producer snapshot, the batch
// headers after it) and three fsyncs per partition (storage.Open's, and the
// leader-epoch checkpoint of a new leadership), which the file system
// commits together when many wait at once: 1,000 partitions opened in
// 2.3-2.7 s with 8 workers and 1.6-1.8 s with 32 on a loaded 2-core box
// (64 did no better; make bench-restart).
const openWorkersMax = 32

// opener opens the partitions reconcile asks for in the background, with
// at most openWorkersMax workers, so that neither the broker's start nor a
// metadata handler holds reconcileMu while logs load; the next reconcile
// installs what they opened, all at once (a pass per partition would keep
// reconcileMu busy). A partition still opening is not in Broker.parts:
// produce and fetch answer it NOT_LEADER_OR_FOLLOWER, which clients retry
// after a metadata refresh (what Kafka answers for a replica it does not
// host yet; Kafka itself serves nothing until every log is loaded).
type opener struct {
	mu      sync.Mutex      // guards the fields below
	pending map[tp]*opening // scheduled, being opened, or opened and not installed yet, by partition
	queue   []*opening      // scheduled and not yet taken: taken newest first, so a handler's new partitions pass a start's backlog
	opened  []*opening      // opened, for the next reconcile to install
	workers int             // workers running
	seq     uint64          // openings scheduled so far
	started bool            // the first reconcile (the broker's start) has scheduled its openings
	kick    chan struct{}   // wakes the metadata watcher (capacity 1; made on first use)
	initial chan struct{}   // closed once the openings of the start are done (made on first use)
}

// chans returns the watcher's kick channel and the start's initial
// channel, making them on first use (the zero opener is ready to use).
func (o *opener) chans() (kick, initial chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.kick == nil {
		o.kick, o.initial = make(chan struct{}, 1), make(chan struct{})
	}
	return o.kick, o.initial
}

// firstCall reports true once: to the reconcile of the broker's start,
// the first (no handler runs and the watcher does not start before it).
func (o *opener) firstCall() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	first := !o.started
	o.started = true
	return first
}

// opening is one partition to open, for the topic ID it was scheduled for.
type opening struct {
	key    tp
	id     [16]byte
	seq    uint64
	p      *partition    // the opened partition; set before opened is closed
	err    error         // why it failed; set before opened is closed
	opened chan struct{} // closed once the worker is done with it (p or err set)
	done   chan struct{} // closed once the partition is installed, dropped or failed
}

// scheduled is how many openings were ever scheduled: pass it to since.
func (o *opener) scheduled() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seq
}

// since returns the openings scheduled after scheduled() returned seq and
// not finished yet.
func (o *opener) since(seq uint64) []*opening {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*opening
	for _, op := range o.pending {
		if op.seq > seq {
			out = append(out, op)
		}
	}
	return out
}

// claimed adds the directory names of the partitions being opened.
func (o *opener) claimed(names map[string]bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k := range o.pending {
		names[partitionDirName(k.topic, k.part)] = true
	}
}

// take returns the newest queued opening, or nil when there is none, in
// which case the calling worker is gone.
func (o *opener) take() *opening {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(o.queue)
	if n == 0 {
		o.workers--
		return nil
	}
	op := o.queue[n-1]
	o.queue[n-1] = nil
	o.queue = o.queue[:n-1]
	return op
}

// end ends an opening that did not open: err, or nil when this broker no
// longer hosts the partition.
func (o *opener) end(op *opening, err error) {
	op.err = err
	o.mu.Lock()
	delete(o.pending, op.key)
	o.mu.Unlock()
	close(op.opened)
	close(op.done)
}

// ready queues an opened partition for the next reconcile to install.
func (o *opener) ready(op *opening, p *partition) {
	op.p = p
	o.mu.Lock()
	o.opened = append(o.opened, op)
	o.mu.Unlock()
	close(op.opened)
}

// takeOpened returns the openings to install and forgets them: pending
// no longer holds them once the caller, holding reconcileMu, has
// installed or dropped them.
func (o *opener) takeOpened() []*opening {
	o.mu.Lock()
	defer o.mu.Unlock()
	ops := o.opened
	o.opened = nil
	for _, op := range ops {
		delete(o.pending, op.key)
	}
	return ops
}

func partitionDirName(topic string, part int32) string {
	return topic + "-" + strconv.Itoa(int(part))
}

// scheduleOpen queues the opening of t's partition index unless it is
// already pending, and starts a worker if fewer than openWorkersMax run.
// reconcileMu is held.
func (b *Broker) scheduleOpen(t *cluster.Topic, index int32) {
	op := &opening{key: tp{t.Name, index}, id: t.ID, opened: make(chan struct{}), done: make(chan struct{})}
	o := &b.opens
	o.mu.Lock()
	if o.pending == nil {
		o.pending = map[tp]*opening{}
	}
	if o.pending[op.key] != nil {
		o.mu.Unlock()
		return
	}
	o.seq++
	op.seq = o.seq
	o.pending[op.key] = op
	o.queue = append(o.queue, op)
	start := o.workers < openWorkersMax
	if start {
		o.workers++
	}
	o.mu.Unlock()
	if start {
		// Refused once Run waits for its goroutines: what stays queued
		// then is never waited for (every waiter's context has ended).
		b.spawn(b.openWorker)
	}
}

// openWorker opens queued partitions until the queue is empty, handing
// each to the next reconcile (which it kicks). Once ctx ends it fails the
// rest instead.
func (b *Broker) openWorker(ctx context.Context) {
	for {
		op := b.opens.take()
		if op == nil {
			return
		}
		err := ctx.Err()
		var p *partition
		if err == nil {
			p, err = b.openReplica(op)
		}
		if err != nil || p == nil {
			b.opens.end(op, err)
			if err != nil && ctx.Err() == nil {
				b.log.Error("open partition", "topic", op.key.topic, "partition", op.key.part, "err", err)
			}
			continue // retried at a later reconcile, not at once
		}
		b.opens.ready(op, p)
		b.kickReconcile()
	}
}

// openReplica opens the partition op names with the topic's current
// settings, or returns nil if the metadata no longer has this broker host
// it (then its data, if any, is deleted).
func (b *Broker) openReplica(op *opening) (*partition, error) {
	st := b.node.State()
	dir := filepath.Join(b.cfg.DataDir, partitionDirName(op.key.topic, op.key.part))
	t, ps, ok := b.hosted(st, op.key)
	if !ok || t.ID != op.id {
		return nil, b.removeClaimed(dir, op.id)
	}
	if err := b.claimDir(dir, t.ID); err != nil {
		return nil, err
	}
	p, err := openPartition(b, dir, t.Name, ps.Index, t.ID, b.resolveTopicConfig(st, t), ps.LeaderEpoch)
	if err != nil {
		return nil, fmt.Errorf("open %s-%d: %w", t.Name, ps.Index, err)
	}
	if ps.Leader == b.cfg.NodeID {
		// What roleFromMetadata would do under reconcileMu, where its
		// fsyncs would hold up every other install. Harmless if
		// the leadership moves before the install: an epoch the log began
		// as leader without writing in is dropped by the next truncation.
		if err := p.log.AssignEpoch(ps.LeaderEpoch); err != nil {
			b.log.Warn("record leader epoch", "topic", t.Name, "partition", ps.Index, "epoch", ps.LeaderEpoch, "err", err)
		}
	}
	return p, nil
}

// hosted returns the topic and partition k names if the metadata has this
// broker among its replicas.
func (b *Broker) hosted(st *cluster.State, k tp) (*cluster.Topic, cluster.Partition, bool) {
	t, ok := st.Topics[k.topic]
	if !ok {
		return nil, cluster.Partition{}, false
	}
	for _, ps := range t.Partitions {
		if ps.Index == k.part {
			return t, ps, contains(ps.Replicas, b.cfg.NodeID)
		}
	}
	return t, cluster.Partition{}, false
}

// removeClaimed deletes dir if it holds a partition of topic id.
func (b *Broker) removeClaimed(dir string, id [16]byte) error {
	got, err := afero.ReadFile(b.env.FS, filepath.Join(dir, partitionMetaFile))
	if err != nil || string(got) != partitionMeta(id) {
		return nil
	}
	return b.env.FS.RemoveAll(dir)
}

func partitionMeta(id [16]byte) string {
	return "version: 0\ntopic_id: " + hex.EncodeToString(id[:]) + "\n"
}

// installOpened adds the opened partitions to Broker.parts, or closes and
// deletes those this broker no longer hosts (the metadata may have moved
// while their logs loaded); the rest of the reconcile pass gives them the
// roles and settings of the metadata as it is now. reconcileMu is held.
func (b *Broker) installOpened(st *cluster.State) {
	for _, op := range b.opens.takeOpened() {
		p := op.p
		op.p = nil
		if t, ps, ok := b.hosted(st, op.key); ok && t.ID == op.id {
			if len(ps.ISR) == 1 && ps.ISR[0] == b.cfg.NodeID {
				// This broker alone is in sync: all it has fsynced was
				// committed (elsewhere the high watermark starts at the log
				// start and rises as the leader learns what the ISR has).
				p.hw.Store(p.log.DurableEnd())
			}
			b.partsMu.Lock()
			b.parts[op.key] = p
			b.partsMu.Unlock()
		} else {
			b.deletePartition(p)
		}
		close(op.done)
	}
}

// kickReconcile has the metadata watcher run reconcile again soon.
func (b *Broker) kickReconcile() {
	kick, _ := b.opens.chans()
	select {
	case kick <- struct{}{}:
	default:
	}
}

// reconcileWait reconciles, waits for the partitions opened since the
// opener had scheduled since openings (what a metadata command a handler
// just committed asked for), and reconciles again, which installs them and
// starts their shards and fetchers: the handler's answer sees the result.
func (b *Broker) reconcileWait(ctx context.Context, since uint64) error {
	b.reconcile()
	ops := b.opens.since(since)
	if len(ops) == 0 {
		return nil
	}
	var errs []error
	for _, op := range ops {
		select {
		case <-op.opened:
			errs = append(errs, op.err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b.reconcile()
	return errors.Join(errs...)
}

// awaitInitialOpens logs once the partitions a start scheduled are open
// and closes b.opened.
func (b *Broker) awaitInitialOpens(ctx context.Context, ops []*opening) {
	start := b.env.Clock.Now()
	failed := 0
	for _, op := range ops {
		select {
		case <-op.done:
			if op.err != nil {
				failed++
			}
		case <-ctx.Done():
			return
		}
	}
	b.log.Info("partitions open", "partitions", len(ops), "failed", failed,
		"ms", b.env.Clock.Since(start).Milliseconds())
	_, initial := b.opens.chans()
	close(initial)
}

// PartitionsOpen is closed once the partitions this broker hosted when it
// started have opened (or failed to); it serves before that.
func (b *Broker) PartitionsOpen() <-chan struct{} {
	_, initial := b.opens.chans()
	return initial
}

// openPartition opens a partition's log and rebuilds its producer table
// from the newest producer snapshot and the batches after it.
func openPartition(b *Broker, dir, topic string, index int32, id [16]byte, cfg topicConfig, epoch int32) (*partition, error) {
	lg, err := storage.Open(b.env.FS, dir, cfg.storage, b.env.Clock)
	if err != nil {
		return nil, err
	}
	p := &partition{
		topic: topic, index: index, topicID: id, log: lg, b: b,
		stats:  b.topicStats.get(topic),
		notify: make(chan struct{}),
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	p.snap.dir = dir
	p.cfg.Store(&cfg)
	p.leaderEpoch.Store(epoch)
	// The high watermark is not kept across restarts: it starts at the log
	// start and the leader state moves it (at once where this broker is
	// the whole ISR; once the followers have fetched otherwise).
	p.hw.Store(lg.StartOffset())
	if err := p.listSnapshots(); err != nil {
		lg.Close()
		return nil, err
	}
	if err := p.loadProducers(); err != nil {
		lg.Close()
		return nil, err
	}
	lg.SetRollHook(p.snapshotRolled)
	if b.measured {
		lg.SetSyncHook(b.metrics.LogSynced)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	go p.flusher(ctx)
	return p, nil
}

// deletePartition closes p and deletes its data. reconcileMu is held.
func (b *Broker) deletePartition(p *partition) {
	p.closeSnapshots(false)
	p.close()
	if err := p.log.Remove(); err != nil {
		b.log.Error("delete partition data", "topic", p.topic, "partition", p.index, "err", err)
	}
	b.log.Info("partition deleted", "topic", p.topic, "partition", p.index)
}
