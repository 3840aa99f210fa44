package core

import (
	"context"
	"errors"
	"fmt"
	"github.com/jocko/jocko/io/buggify"
	"log/slog"
	"sync"
	"time"

	"github.com/jocko/jocko/core/group"
	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// errCoordinatorLoading and errNotCoordinator are answered while a shard
// loads and after it stopped (or when the group lives elsewhere).
var (
	errCoordinatorLoading = errors.New("coordinator is loading its groups")
	errNotCoordinator     = errors.New("not the coordinator of this group")
)

// shard coordinates the groups of one __consumer_offsets partition that this
// broker leads. It feeds the pure group state machine from one lock, appends
// the records it decides to the partition, and releases each reply only once
// the records before it are committed (the Output contract of core/group).
//
// Its life: it waits for the shard it replaces (after), loads the groups
// from the partition, then serves and runs the timers. An append that fails
// drops the groups (the state machine may hold what the log does not), and
// the shard loads them again from the log, answering
// COORDINATOR_LOAD_IN_PROGRESS meanwhile, as Kafka's coordinator does when
// it reloads a partition. A failed partition (a storage error, which only a
// reopen clears) takes the shard offline: NOT_COORDINATOR until reconcile
// replaces the partition or moves the leadership.
type shard struct {
	b     *Broker
	part  int32
	p     *partition
	after <-chan struct{} // closed once the shard this one replaces has stopped; nil: none

	// mu guards groups, offline, nextH, held, lastEnd and halted, and
	// serialises the state machine's inputs with their appends.
	mu      sync.Mutex
	groups  *group.Groups // nil while loading, after an append error until reloaded, offline and halted
	offline bool          // the partition failed: no reload until the shard is replaced
	nextH   group.Handle
	held    map[group.Handle]heldRequest
	lastEnd int64 // end offset of the last append; replies wait for it
	halted  bool  // stop has begun

	queueMu sync.Mutex // guards queue
	queue   []delivery
	wake    chan struct{} // capacity 1: the deliverer has work
	rearm   chan struct{} // capacity 1: the deadline may have changed, or the groups were dropped
	cancel  context.CancelFunc
	done    sync.WaitGroup // the deliverer and the run loop
	stopped chan struct{}  // closed when stop has finished
}

// heldRequest is a request waiting for its answer from the state machine.
type heldRequest struct {
	req kmsg.Request
	ch  chan kmsg.Response
}

// delivery is work released once the partition's high watermark reaches end.
type delivery struct {
	end int64
	gen uint64 // the leadership the records were appended under
	fn  func(committed bool)
}

// Backoff between failed loads of a shard.
const (
	shardLoadBackoffMin = 100 * time.Millisecond
	shardLoadBackoffMax = 10 * time.Second
)

func newShard(b *Broker, part int32, p *partition, after <-chan struct{}) *shard {
	return &shard{
		b: b, part: part, p: p, after: after,
		held:    map[group.Handle]heldRequest{},
		wake:    make(chan struct{}, 1),
		rearm:   make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
}

func (s *shard) stoppedCh() <-chan struct{} { return s.stopped }
func (s *shard) replica() *partition        { return s.p }

// start runs the deliverer and the run loop (load, then serve and run the
// timers, load again after an append error) until stop.
func (s *shard) start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		s.deliverLoop(ctx)
	}()
	go func() {
		defer s.done.Done()
		s.run(ctx)
	}()
}

// stop ends the shard: held requests are answered NOT_COORDINATOR. It
// returns once the shard's goroutines have ended (and with them the shard
// it replaced, which its run loop waits for); call it once.
func (s *shard) stop() {
	s.mu.Lock()
	s.halted = true
	s.groups = nil
	s.failHeldLocked()
	s.mu.Unlock()
	s.cancel()
	s.done.Wait()
	close(s.stopped)
}

// run waits for the shard this one replaces to stop, then loads the groups
// and serves them, and loads them again each time an append fails, until
// ctx ends. A failed load is retried with a backoff.
func (s *shard) run(ctx context.Context) {
	runShard(ctx, s.b, s.p, s.after, "consumer groups", s.part, s.goOffline, s.load, s.timerLoop)
}

// goOffline makes the shard answer NOT_COORDINATOR for good: its partition
// failed and refuses appends until it is reopened (as a new partition,
// which gets a new shard).
func (s *shard) goOffline(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.offline && !s.halted {
		s.b.log.Error("consumer groups offline: their partition failed", "partition", s.part, "err", err)
	}
	s.offline = true
	s.groups = nil
	s.failHeldLocked()
}

// load replays the partition into a Loader. Records are read up to the log
// end: everything in this partition was appended by a coordinator, and a
// record not yet committed is committed before any reply that depends on it
// is released (lastEnd starts at the log end). Nothing appends meanwhile
// but the transaction markers WriteTxnMarkers writes: the groups are nil,
// and the shard this one replaced has stopped. A marker's txnCompleted
// while the groups are nil is dropped, so the groups are installed only
// under s.mu with the log end unchanged since it was read: every marker
// appended before is loaded, every later one reaches them by txnCompleted.
func (s *shard) load(ctx context.Context) error {
	cfg := s.b.groupConfig()
	ld := group.NewLoader(cfg, s.b.env.Rand)
	from, end := s.p.log.StartOffset(), s.p.log.EndOffset()
	for {
		if err := s.loadRange(ctx, ld, from, end); err != nil {
			return err
		}
		s.mu.Lock()
		e := s.p.log.EndOffset()
		if s.halted || e == end {
			break
		}
		s.mu.Unlock()
		from, end = end, e // markers written meanwhile
	}
	defer s.mu.Unlock()
	if s.halted {
		return context.Canceled
	}
	s.groups = ld.Done(s.now())
	s.lastEnd = max(s.lastEnd, end)
	lvl := slog.LevelInfo
	if end == 0 {
		lvl = slog.LevelDebug // a fresh partition: one line per partition is noise
	}
	s.b.log.Log(ctx, lvl, "consumer groups loaded", "partition", s.part, "groups", len(s.groups.IDs()), "end_offset", end)
	return nil
}

// loadRange feeds the batches of [from, end) to ld: plain batches to
// Apply, transactional ones to ApplyTxn, transaction markers to
// ApplyMarker.
func (s *shard) loadRange(ctx context.Context, ld *group.Loader, from, end int64) error {
	return loadBatches(ctx, s.p, from, end, func(h wire.BatchHeader, raw []byte) error {
		base := h.BaseOffset
		if h.Control() {
			c, err := wire.ParseControlRecord(raw)
			if err != nil {
				return fmt.Errorf("offset %d: %w", base, err)
			}
			if c.Type == wire.ControlCommit || c.Type == wire.ControlAbort {
				ld.ApplyMarker(h.ProducerID, c.Type == wire.ControlCommit)
			}
			return nil
		}
		recs, err := wire.Records(raw)
		if err != nil {
			return fmt.Errorf("offset %d: %w", base, err)
		}
		for _, r := range recs {
			if buggify.Broken(buggify.ForgetCommits) && len(r.Key) >= 2 && r.Key[0] == 0 && r.Key[1] <= 1 {
				continue // broken variant (simulator self-test): offset commits (key v0, v1) not loaded
			}
			apply := ld.Apply
			if h.Transactional() {
				apply = func(k, v []byte) error { return ld.ApplyTxn(h.ProducerID, k, v) }
			}
			// A record that does not decode is skipped with a log line
			// rather than leaving the coordinator unavailable for good.
			if err := apply(r.Key, r.Value); err != nil && !errors.Is(err, group.ErrNotClassic) {
				s.b.log.Warn("skipping undecodable __consumer_offsets record", "partition", s.part, "offset", base+int64(r.OffsetDelta), "err", err)
			}
		}
		return nil
	})
}

// unavailableLocked says why there are no groups to answer from.
func (s *shard) unavailableLocked() error {
	if s.halted || s.offline {
		return errNotCoordinator
	}
	return errCoordinatorLoading
}

func (s *shard) now() int64 { return s.b.env.Clock.Now().UnixMilli() }

// call feeds one request to the state machine and returns a reply that
// waits for its answer. loading answers while the groups load.
func (s *shard) call(ctx context.Context, req kmsg.Request, input func(gs *group.Groups, now int64, h group.Handle) group.Output) reply {
	s.mu.Lock()
	if s.groups == nil {
		err := s.unavailableLocked()
		s.mu.Unlock()
		return reply{resp: coordinatorError(req, err)}
	}
	s.nextH++
	h := s.nextH
	ch := make(chan kmsg.Response, 1)
	s.held[h] = heldRequest{req: req, ch: ch}
	out := input(s.groups, s.now(), h)
	s.applyLocked(out)
	s.mu.Unlock()
	s.kickTimer()
	return reply{wait: func() kmsg.Response {
		select {
		case resp := <-ch:
			return resp
		case <-ctx.Done():
			return nil
		}
	}}
}

// read runs answer against the groups now, and returns a wait that ends
// once the records appended before it are committed: nil then, or why the
// answer cannot be given (loading, not the coordinator).
func (s *shard) read(answer func(gs *group.Groups)) func() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		err := s.unavailableLocked()
		return func() error { return err }
	}
	answer(s.groups)
	ch := make(chan error, 1)
	s.enqueue(s.lastEnd, func(ok bool) {
		if !ok {
			ch <- errNotCoordinator
			return
		}
		ch <- nil
	})
	return func() error { return <-ch }
}

// applyLocked appends an Output's records and queues its replies behind
// them. s.mu is held.
func (s *shard) applyLocked(out group.Output) {
	s.b.rebalances.Add(uint64(out.Rebalances))
	if len(out.Records) > 0 {
		end, err := s.appendRecords(out.Records)
		if err != nil {
			// The state machine has moved past what the log holds: drop
			// it, and the run loop (woken by rearm) loads it again.
			s.b.log.Error("append to __consumer_offsets; reloading groups", "partition", s.part, "err", err)
			s.groups = nil
			s.failHeldLocked()
			s.kickTimer()
			return
		}
		s.lastEnd = end
	}
	if len(out.Replies) == 0 {
		return
	}
	replies := out.Replies
	s.enqueue(s.lastEnd, func(ok bool) { s.deliver(replies, ok) })
}

// appendRecords writes records as uncompressed batches: one per run of
// records with the same group.Record.Txn, and returns the end offset of the
// last.
func (s *shard) appendRecords(recs []group.Record) (int64, error) {
	var end int64
	for len(recs) > 0 {
		n := 1
		for n < len(recs) && sameTxn(recs[n].Txn, recs[0].Txn) {
			n++
		}
		e, err := s.appendBatch(recs[:n], recs[0].Txn)
		if err != nil {
			return 0, err
		}
		end, recs = e, recs[n:]
	}
	return end, nil
}

func sameTxn(a, b *group.Txn) bool { return a == b || a != nil && b != nil && *a == *b }

// batchTransactional is attributes bit 4: a batch of a transaction.
const batchTransactional = 0x10

// appendBatch writes records as one batch: a plain one, or with txn a
// transactional batch of that producer (see txnOffsetSeq for its
// sequence).
func (s *shard) appendBatch(recs []group.Record, txn *group.Txn) (int64, error) {
	now := s.now()
	batch := wire.Batch{FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	if txn != nil {
		seq, err := s.p.txnOffsetSeq(txn.ProducerID, txn.ProducerEpoch)
		if err != nil {
			return 0, err
		}
		batch.Attributes, batch.ProducerID, batch.ProducerEpoch, batch.BaseSequence = batchTransactional, txn.ProducerID, txn.ProducerEpoch, seq
	}
	return appendCoordinatorBatch(s.p, batch, len(recs), func(i int) ([]byte, []byte) { return recs[i].Key, recs[i].Value })
}

// txnCompleted feeds a transaction marker of producerID, just appended to
// the partition (committed or not), to the groups; later replies wait for
// the marker to be committed. While the groups are nil it does nothing: a
// load in progress reads the marker (see load), and a stopped shard's
// successor loads it.
func (s *shard) txnCompleted(producerID int64, commit bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		return
	}
	s.lastEnd = max(s.lastEnd, s.p.log.EndOffset())
	s.applyLocked(s.groups.TxnCompleted(s.now(), producerID, commit))
	s.kickTimer()
}

// deliver sends replies to their held requests; ok=false means the records
// before them were not committed, so they become NOT_COORDINATOR.
func (s *shard) deliver(replies []group.Reply, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range replies {
		hr, found := s.held[r.To]
		if !found {
			continue
		}
		delete(s.held, r.To)
		msg := r.Msg
		if !ok {
			msg = coordinatorError(hr.req, errNotCoordinator)
		}
		hr.ch <- msg
	}
}

// failHeldLocked answers every held request NOT_COORDINATOR.
func (s *shard) failHeldLocked() {
	for h, hr := range s.held {
		hr.ch <- coordinatorError(hr.req, errNotCoordinator)
		delete(s.held, h)
	}
}

func (s *shard) enqueue(end int64, fn func(bool)) {
	s.queueMu.Lock()
	s.queue = append(s.queue, delivery{end, s.p.leaderGen.Load(), fn})
	s.queueMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// deliverLoop releases queued work in order as the high watermark passes it.
func (s *shard) deliverLoop(ctx context.Context) {
	for {
		s.queueMu.Lock()
		var d *delivery
		if len(s.queue) > 0 {
			d = &s.queue[0]
		}
		s.queueMu.Unlock()
		if d == nil {
			select {
			case <-ctx.Done():
				s.drain()
				return
			case <-s.wake:
				continue
			}
		}
		err := s.p.waitHW(ctx, d.end, d.gen)
		d.fn(err == nil)
		s.queueMu.Lock()
		s.queue = s.queue[1:]
		s.queueMu.Unlock()
	}
}

// drain fails whatever is still queued when the shard stops.
func (s *shard) drain() {
	s.queueMu.Lock()
	q := s.queue
	s.queue = nil
	s.queueMu.Unlock()
	for _, d := range q {
		d.fn(false)
	}
}

func (s *shard) kickTimer() {
	select {
	case s.rearm <- struct{}{}:
	default:
	}
}

// timerLoop calls Tick at the state machine's next deadline, and expires
// offsets every offsets.retention.check.interval.ms. It returns when ctx
// ends or the groups are dropped (an append failed: run loads them again).
func (s *shard) timerLoop(ctx context.Context) {
	expireEvery := time.Duration(s.b.brokerInt(s.b.node.State(), "offsets.retention.check.interval.ms")) * time.Millisecond
	nextExpire := s.b.env.Clock.Now().Add(expireEvery)
	for {
		s.mu.Lock()
		if s.groups == nil {
			s.mu.Unlock()
			return
		}
		wait := s.b.env.Clock.Until(nextExpire)
		if ms, ok := s.groups.NextDeadline(); ok {
			if d := time.Duration(ms-s.now()) * time.Millisecond; d < wait {
				wait = d
			}
		}
		s.mu.Unlock()
		t := s.b.env.Clock.Timer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.rearm:
			t.Stop()
			continue
		case <-t.C:
		}
		s.mu.Lock()
		if s.groups != nil {
			now := s.now()
			s.applyLocked(s.groups.Tick(now))
			if s.groups != nil && !s.b.env.Clock.Now().Before(nextExpire) {
				s.applyLocked(s.groups.ExpireOffsets(now))
				nextExpire = s.b.env.Clock.Now().Add(expireEvery)
			}
		}
		s.mu.Unlock()
	}
}
