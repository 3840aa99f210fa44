package core

import (
	"context"
	"errors"
	"fmt"
	"github.com/jocko/jocko/io/buggify"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/jocko/jocko/core/replica"
	"github.com/jocko/jocko/storage"
	"github.com/twmb/franz-go/pkg/kerr"
)

// errStorage marks a partition whose log failed (a write or an fsync); it
// refuses reads and writes until the broker restarts and recovers it.
var errStorage = errors.New("partition storage failed")

// partition is this broker's replica of one topic partition: its log, its
// high watermark, its idempotent producer table and the flusher that makes
// appends durable with group commit.
type partition struct {
	topic   string
	index   int32
	topicID [16]byte
	log     *storage.Log
	b       *Broker

	mu        sync.Mutex // serialises appends; guards producers, verified and unflushed
	producers producerState
	unflushed int64 // records appended since the last fsync (page-cache mode)
	// verified holds, per producer id, the epoch at which the transaction
	// coordinator confirmed this partition is in the producer's
	// transaction (KIP-890 verification) while the transaction has no
	// batch here yet; a marker for the producer removes it, so a batch
	// verified before a timeout's abort cannot open a hanging transaction.
	verified map[int64]int16

	leaderEpoch atomic.Int32
	leader      atomic.Int32 // the leader's broker ID from the metadata (-1: none)
	// leaderGen counts this broker's leaderships of the partition: it moves
	// whenever a leadership begins or ends (replication.go).
	leaderGen atomic.Uint64
	isr       atomic.Int32 // size of the in-sync replica set, from the metadata
	cfg       atomic.Pointer[topicConfig]
	hw        atomic.Int64

	// repMu guards lead. Lock order: mu, then repMu.
	repMu    sync.Mutex
	lead     *replica.Leader // leader state for the current leader epoch; nil unless this broker leads
	leaderHW atomic.Int64    // on a follower: the high watermark the leader last reported

	notifyMu sync.Mutex      // guards notify, watchers, endWatchers and synced
	notify   chan struct{}   // closed and replaced when the high watermark moves
	watchers []chan struct{} // long-poll fetches, signalled on the same events, in watch order
	// endWatchers are followers' long-poll fetches, signalled when the log
	// end moves (they read past the high watermark).
	endWatchers []chan struct{}
	// synced is closed (and cleared) when the flusher has fsynced, and at
	// every notify; made on demand by the first acks=1 waiter.
	synced chan struct{}

	kick   chan struct{} // wakes the flusher; capacity 1, so kicks coalesce
	failed atomic.Pointer[error]
	// corrupt is the bad batch with the lowest offset that a read or the
	// scrub found and the repairer has not yet repaired; nil: none
	// (corrupt.go).
	corrupt atomic.Pointer[storage.CorruptError]
	// closed is why the partition was closed (shut): set before
	// anything shuts down, so each waiter it wakes, and each request that
	// comes late, answers with it.
	closed atomic.Pointer[error]
	stop   context.CancelFunc
	done   chan struct{}

	snap snapshots // producer-state snapshot files (partition_snapshot.go)

	stats *topicStats // the topic's traffic counters (metrics.go)
}

// Why a partition was closed: what its waiters and late requests answer
// (partitionClosedCode gives the Kafka code).
var (
	errTopicDeleted   = errors.New("the topic was deleted")
	errReplicaMoved   = errors.New("this broker no longer hosts a replica of the partition")
	errBrokerStopping = errors.New("the broker is shutting down")
)

// close closes the partition (as the broker stops, unless shut gave
// another reason first): its waiters wake, an append in flight finishes,
// the flusher stops and the log closes.
func (p *partition) close() {
	p.shut(errBrokerStopping)
	p.mu.Lock() // an append in flight finishes; the next one sees closed
	p.mu.Unlock()
	p.stop()
	<-p.done
	p.log.Close()
}

// shut marks the partition closed for reason (errTopicDeleted,
// errReplicaMoved, errBrokerStopping; the first reason stays) and wakes
// every waiter at once: acks=all and acks=1 produces and long-poll
// fetches answer reason instead of waiting out their timeouts, as do the
// appends and reads that come later, instead of finding a closed log.
func (p *partition) shut(reason error) {
	p.closed.CompareAndSwap(nil, &reason)
	p.broadcast()
	p.broadcastEnd()
}

// partitionClosedCode is the Kafka code for a closed partition's reason:
// UNKNOWN_TOPIC_OR_PARTITION once its topic is deleted,
// NOT_LEADER_OR_FOLLOWER when its replica moved away or the broker stops
// (the client looks for the leader again), as Kafka answers; ok=false for
// any other error.
func partitionClosedCode(err error) (int16, bool) {
	switch {
	case errors.Is(err, errTopicDeleted):
		return kerr.UnknownTopicOrPartition.Code, true
	case errors.Is(err, errReplicaMoved), errors.Is(err, errBrokerStopping):
		return kerr.NotLeaderForPartition.Code, true
	}
	return 0, false
}

func (p *partition) config() topicConfig { return *p.cfg.Load() }

func (p *partition) setConfig(c topicConfig) {
	p.cfg.Store(&c)
	p.log.SetConfig(c.storage)
}

// err is why the partition serves nothing: it was closed (shut), or
// its log failed (fail); nil while it serves.
func (p *partition) err() error {
	if e := p.closed.Load(); e != nil {
		return *e
	}
	if e := p.failed.Load(); e != nil {
		return *e
	}
	return nil
}

// fail takes the partition offline after a storage error. Errors from a
// closed partition's log are not failures: they are what closing does to
// requests still in flight.
func (p *partition) fail(err error) {
	if p.closed.Load() != nil {
		return
	}
	err = fmt.Errorf("%w: %s-%d: %v", errStorage, p.topic, p.index, err)
	if p.failed.CompareAndSwap(nil, &err) {
		p.b.log.Error("partition offline", "topic", p.topic, "partition", p.index, "err", err)
		p.broadcast()
		p.b.logDirFailed(err)
	}
}

// highWatermark is the offset below which records are committed: durable on
// this (single-replica) partition, and so visible to consumers.
func (p *partition) highWatermark() int64 { return p.hw.Load() }

// advanceHW moves the high watermark forward to hw.
func (p *partition) advanceHW(hw int64) {
	for {
		cur := p.hw.Load()
		if hw <= cur {
			return
		}
		if p.hw.CompareAndSwap(cur, hw) {
			p.broadcast()
			return
		}
	}
}

// followerAdvanceHW moves a follower's high watermark up to hw (what its
// leader reported, capped by what it has made durable), never past its
// log end. It holds p.mu: a truncation holds it too and lowers the high
// watermark before it cuts, so an end read before a cut (a sync that was
// under way while the repairer truncated) cannot raise the high
// watermark above the log end after it. Never called with repMu held.
func (p *partition) followerAdvanceHW(hw int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advanceHW(min(hw, p.log.EndOffset()))
}

func (p *partition) broadcast() {
	p.notifyMu.Lock()
	defer p.notifyMu.Unlock()
	close(p.notify)
	p.notify = make(chan struct{})
	p.wakeSyncedLocked()
	signal(p.watchers)
}

// broadcastSynced wakes the acks=1 waiters: the flusher has fsynced.
func (p *partition) broadcastSynced() {
	p.notifyMu.Lock()
	defer p.notifyMu.Unlock()
	p.wakeSyncedLocked()
}

func (p *partition) wakeSyncedLocked() {
	if p.synced != nil {
		close(p.synced)
		p.synced = nil
	}
}

// syncedChanged returns a channel closed at the flusher's next fsync (or
// the next high-watermark move, failure or close).
func (p *partition) syncedChanged() <-chan struct{} {
	p.notifyMu.Lock()
	defer p.notifyMu.Unlock()
	if p.synced == nil {
		p.synced = make(chan struct{})
	}
	return p.synced
}

// broadcastEnd signals the followers' long-poll fetches: the log end moved.
func (p *partition) broadcastEnd() {
	p.notifyMu.Lock()
	defer p.notifyMu.Unlock()
	signal(p.endWatchers)
}

// signal wakes each watcher without blocking; notifyMu is held.
func signal(ws []chan struct{}) {
	for _, w := range ws {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// watcherList returns the list a long-poll fetch waits on: log-end moves for a
// follower's fetch (it reads past the high watermark), high-watermark moves
// otherwise. notifyMu is held.
func (p *partition) watcherList(end bool) *[]chan struct{} {
	if end {
		return &p.endWatchers
	}
	return &p.watchers
}

// watch signals w (without blocking) at every move watcherList(end) names
// until unwatch; a fetch waiting on many partitions shares one channel.
func (p *partition) watch(w chan struct{}, end bool) {
	p.notifyMu.Lock()
	defer p.notifyMu.Unlock()
	l := p.watcherList(end)
	*l = append(*l, w)
}

func (p *partition) unwatch(w chan struct{}, end bool) {
	p.notifyMu.Lock()
	defer p.notifyMu.Unlock()
	l := p.watcherList(end)
	*l = slices.DeleteFunc(*l, func(x chan struct{}) bool { return x == w })
}

// changed returns a channel closed at the next high-watermark move.
func (p *partition) changed() <-chan struct{} {
	p.notifyMu.Lock()
	defer p.notifyMu.Unlock()
	return p.notify
}

// flusher fsyncs whatever has been appended each time it is kicked. While one
// fsync runs, later appends pile up and the next fsync covers them all: group
// commit. In page-cache mode (flush.messages > 1) it also runs every flush.ms.
func (p *partition) flusher(ctx context.Context) {
	defer close(p.done)
	for {
		var tick <-chan time.Time
		var t *clock.Timer
		if ms := p.config().flushMs; !p.config().durable() && ms > 0 && ms < int64(time.Hour*24*365/time.Millisecond) {
			t = p.b.env.Clock.Timer(time.Duration(ms) * time.Millisecond)
			tick = t.C
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return
		case <-p.kick:
		case <-tick:
		}
		if t != nil {
			t.Stop()
		}
		if p.err() != nil {
			continue
		}
		end := p.log.EndOffset()
		if err := p.log.Sync(end); err != nil {
			p.fail(err)
			continue
		}
		p.leaderDurable(end)
		p.broadcastSynced()
	}
}

func (p *partition) kickFlusher() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// errLeadershipLost answers what was appended under a leadership this
// broker has lost since: a follower's high watermark counts the new
// leader's records, which may sit where the waiter's were truncated, so
// only the leadership that appended may say they are committed (Kafka's
// delayed produce answers NOT_LEADER_OR_FOLLOWER likewise).
var errLeadershipLost = errors.New("leadership of the partition moved before the records were committed")

// waitHW blocks until the high watermark reaches end, the partition fails,
// ctx ends, or the leadership gen (leaderGen at the append) ends.
func (p *partition) waitHW(ctx context.Context, end int64, gen uint64) error {
	for {
		ch := p.changed()
		if err := p.err(); err != nil {
			return err
		}
		if p.leaderGen.Load() != gen || !p.isLeader() {
			return errLeadershipLost
		}
		if p.highWatermark() >= end {
			return nil
		}
		if buggify.Broken(buggify.AckBeforeISR) && p.log.DurableEnd() >= end {
			return nil // the broken variant: the leader alone has it
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitSynced blocks until the leader has fsynced its log up to end (an
// acks=1 answer with flush.messages=1), the partition fails or closes, ctx
// ends, or the leadership gen (leaderGen at the append) ends.
func (p *partition) waitSynced(ctx context.Context, end int64, gen uint64) error {
	for {
		ch := p.syncedChanged()
		if err := p.err(); err != nil {
			return err
		}
		if p.leaderGen.Load() != gen || !p.isLeader() {
			return errLeadershipLost
		}
		if p.log.DurableEnd() >= end {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// isrSize is how many replicas are in sync (acks=all needs
// min.insync.replicas of them).
func (p *partition) isrSize() int { return int(p.isr.Load()) }

// isLeader reports whether this broker leads the partition in its metadata.
func (p *partition) isLeader() bool { return p.leader.Load() == p.b.cfg.NodeID }

// checkLeaderEpoch compares a client's view of the leader epoch with ours
// (KIP-320; -1 skips that check), then answers NOT_LEADER_OR_FOLLOWER when
// this broker does not lead the partition: what a request that only the
// leader serves gets.
func (p *partition) checkLeaderEpoch(epoch int32) int16 {
	if code := p.checkEpoch(epoch); code != 0 {
		return code
	}
	if !p.isLeader() {
		return kerr.NotLeaderForPartition.Code
	}
	return 0
}

// checkEpoch is checkLeaderEpoch without the leadership check, for what a
// follower may serve too (KIP-392 consumer fetches).
func (p *partition) checkEpoch(epoch int32) int16 {
	mine := p.leaderEpoch.Load()
	switch {
	case epoch >= 0 && epoch < mine:
		return kerr.FencedLeaderEpoch.Code
	case epoch > mine:
		return kerr.UnknownLeaderEpoch.Code
	}
	return 0
}
