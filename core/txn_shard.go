package core

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jocko/jocko/core/txn"
	"github.com/jocko/jocko/io/buggify"
	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnShard coordinates the transactional ids of one __transaction_state
// partition this broker leads: the shell of the pure core/txn
// Coordinator (see core/txn/doc.go for the contract it follows).
//
// Its life: it waits for the shard it replaces (after), loads the
// partition into a Loader, then serves. Every Output is acted on under
// mu: replies go out at once (the state machine changes only once a
// record is durable), records are appended as one batch and reported
// durable to Appended when the high watermark passes them, and marker work
// runs in goroutines that report to MarkersWritten. An append that fails,
// or a high-watermark wait that ends without the records (the leadership
// moved), drops the Coordinator: held requests are answered
// NOT_COORDINATOR, and the run loop loads the log again (the log is the
// truth; an ambiguous record is whatever it says).
type txnShard struct {
	b     *Broker
	part  int32
	p     *partition
	after <-chan struct{} // closed once the shard this one replaces has stopped; nil: none

	// mu guards c, gen, offline, halted, nextH and held, and serialises
	// the state machine's inputs with their appends.
	mu      sync.Mutex
	c       *txn.Coordinator // nil while loading, after a failure until reloaded, offline and halted
	gen     uint64           // counts loads: work begun under an older load reports nothing
	offline bool             // the partition failed: no reload until the shard is replaced
	halted  bool             // stop has begun
	nextH   txn.Handle
	held    map[txn.Handle]heldRequest

	ctx     context.Context // the shard's life; its goroutines end with it
	cancel  context.CancelFunc
	reload  chan struct{} // capacity 1: the Coordinator was dropped
	work    sync.WaitGroup
	stopped chan struct{} // closed when stop has finished
}

func newTxnShard(b *Broker, part int32, p *partition, after <-chan struct{}) *txnShard {
	return &txnShard{b: b, part: part, p: p, after: after,
		held: map[txn.Handle]heldRequest{}, reload: make(chan struct{}, 1), stopped: make(chan struct{})}
}

func (s *txnShard) start(ctx context.Context) {
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		s.run(s.ctx)
	}()
}

// stop ends the shard: held requests are answered NOT_COORDINATOR; it
// returns once every goroutine of the shard has ended.
func (s *txnShard) stop() {
	s.mu.Lock()
	s.halted = true
	s.dropLocked()
	s.mu.Unlock()
	s.cancel()
	s.work.Wait()
	close(s.stopped)
}

func (s *txnShard) stoppedCh() <-chan struct{} { return s.stopped }
func (s *txnShard) replica() *partition        { return s.p }

func (s *txnShard) now() int64 { return s.b.env.Clock.Now().UnixMilli() }

// run loads the partition, then serves and runs the timers until the
// Coordinator is dropped (then loads again) or ctx ends.
func (s *txnShard) run(ctx context.Context) {
	offline := func(err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.offline && !s.halted {
			s.b.log.Error("transaction coordinator offline: its partition failed", "partition", s.part, "err", err)
		}
		s.offline = true
		s.dropLocked()
	}
	runShard(ctx, s.b, s.p, s.after, "transactions", s.part, offline, s.load, s.timerLoop)
}

// load replays the partition up to its log end into a Loader. Nothing
// appends meanwhile: the Coordinator is nil and the shard this one
// replaced has stopped.
func (s *txnShard) load(ctx context.Context) error {
	ld := txn.NewLoader()
	end := s.p.log.EndOffset()
	// The coordinator epoch: the leader epoch the records are appended
	// under, read before the log (a newer leadership replaces this shard).
	epoch := s.p.leaderEpoch.Load()
	err := loadBatches(ctx, s.p, s.p.log.StartOffset(), end, func(h wire.BatchHeader, raw []byte) error {
		recs, err := wire.Records(raw)
		if err != nil {
			return fmt.Errorf("offset %d: %w", h.BaseOffset, err)
		}
		for _, r := range recs {
			if err := ld.Apply(r.Key, r.Value); err != nil {
				s.b.log.Warn("skipping undecodable __transaction_state record", "partition", s.part, "offset", h.BaseOffset+int64(r.OffsetDelta), "err", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Records up to end may not be committed yet; a reply that depends
	// on one waits for the high watermark to reach end first.
	if err := s.p.waitHW(ctx, end, s.p.leaderGen.Load()); err != nil {
		return fmt.Errorf("wait for the loaded records to commit: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.halted {
		return context.Canceled
	}
	s.gen++
	c, out := ld.Done(s.now(), s.b.txnConfig(), txnProducerIDs{ctx: ctx, b: s.b}, epoch)
	s.c = c
	lvl := slog.LevelInfo
	if end == 0 {
		lvl = slog.LevelDebug
	}
	s.b.log.Log(ctx, lvl, "transactions loaded", "partition", s.part, "transactional_ids", len(c.IDs()), "end_offset", end, "coordinator_epoch", epoch)
	s.applyLocked(out)
	return nil
}

// txnProducerIDs gives the Coordinator fresh producer ids from the
// broker's blocks.
type txnProducerIDs struct {
	ctx context.Context
	b   *Broker
}

func (t txnProducerIDs) Next() (int64, error) {
	id, err := t.b.pids.next(t.ctx)
	if err != nil {
		return 0, kerr.CoordinatorLoadInProgress
	}
	return id, nil
}

// unavailableLocked says why there is no Coordinator to answer from.
func (s *txnShard) unavailableLocked() error {
	if s.halted || s.offline {
		return errNotCoordinator
	}
	return errCoordinatorLoading
}

// call feeds one request to the Coordinator and returns a reply that
// waits for its answer; a shard without one answers with unavailable.
func (s *txnShard) call(ctx context.Context, req kmsg.Request, unavailable func(error) kmsg.Response,
	input func(c *txn.Coordinator, now int64, h txn.Handle) txn.Output) reply {
	s.mu.Lock()
	if s.c == nil {
		err := s.unavailableLocked()
		s.mu.Unlock()
		return reply{resp: unavailable(err)}
	}
	s.nextH++
	h := s.nextH
	ch := make(chan kmsg.Response, 1)
	s.held[h] = heldRequest{req: req, ch: ch}
	s.applyLocked(input(s.c, s.now(), h))
	s.mu.Unlock()
	return reply{wait: func() kmsg.Response {
		select {
		case resp := <-ch:
			return resp
		case <-ctx.Done():
			return nil
		}
	}}
}

// callSync is call for a request this broker makes itself (partition
// verification): it waits for the answer.
func (s *txnShard) callSync(ctx context.Context, req kmsg.Request, input func(c *txn.Coordinator, now int64, h txn.Handle) txn.Output) (kmsg.Response, error) {
	var unavailable error
	rep := s.call(ctx, req, func(err error) kmsg.Response { unavailable = err; return nil }, input)
	if unavailable != nil {
		return nil, unavailable
	}
	resp := rep.wait()
	if resp == nil {
		return nil, ctx.Err()
	}
	return resp, nil
}

// read runs answer against the Coordinator now; an error says why there
// is none.
func (s *txnShard) read(answer func(c *txn.Coordinator)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return s.unavailableLocked()
	}
	answer(s.c)
	return nil
}

// applyLocked acts on an Output: replies now, records appended and
// reported to Appended once committed, marker work started. s.mu is held.
func (s *txnShard) applyLocked(out txn.Output) {
	for _, r := range out.Replies {
		if hr, ok := s.held[r.To]; ok {
			delete(s.held, r.To)
			hr.ch <- r.Msg
		}
	}
	for _, m := range out.Markers {
		s.startMarkers(m)
	}
	if len(out.Records) == 0 || s.c == nil {
		return
	}
	gen, leaderGen := s.gen, s.p.leaderGen.Load()
	end, err := s.appendRecords(out.Records)
	if err != nil {
		s.b.log.Error("append to __transaction_state; reloading transactions", "partition", s.part, "err", err)
		s.dropLocked()
		return
	}
	ids := make([]uint64, len(out.Records))
	for i, r := range out.Records {
		ids[i] = r.ID
	}
	s.goWork(func(ctx context.Context) {
		err := s.p.waitHW(ctx, end, leaderGen)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.gen != gen || s.c == nil {
			return
		}
		if err != nil {
			// Not committed, perhaps never: the log decides, so load it.
			s.b.log.Warn("__transaction_state records not committed; reloading transactions", "partition", s.part, "err", err)
			s.dropLocked()
			return
		}
		for _, id := range ids {
			if s.c == nil {
				return
			}
			s.applyLocked(s.c.Appended(s.now(), id, nil))
		}
	})
}

// goWork runs fn in a goroutine the shard owns: stop waits for it, and its
// context ends with the shard.
func (s *txnShard) goWork(fn func(ctx context.Context)) {
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		fn(s.ctx)
	}()
}

// dropLocked forgets the Coordinator (held requests get NOT_COORDINATOR,
// work of this load reports nothing) and wakes the run loop to load
// again. s.mu is held.
func (s *txnShard) dropLocked() {
	s.c = nil
	s.gen++
	for h, hr := range s.held {
		hr.ch <- txnCoordinatorError(hr.req, errNotCoordinator)
		delete(s.held, h)
	}
	select {
	case s.reload <- struct{}{}:
	default:
	}
}

// appendRecords writes records as one uncompressed batch, once the ISR is
// big enough (transaction.state.log.min.isr).
func (s *txnShard) appendRecords(recs []txn.Record) (int64, error) {
	if err := s.p.canAppend(true); err != nil {
		return 0, err
	}
	now := s.now()
	batch := wire.Batch{FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	return appendCoordinatorBatch(s.p, batch, len(recs), func(i int) ([]byte, []byte) { return recs[i].Key, recs[i].Value })
}

// Backoff between rounds of marker writes that left partitions undone.
const (
	markerBackoffMin = 50 * time.Millisecond
	markerBackoffMax = 2 * time.Second
)

// startMarkers writes a transaction's markers in the background until
// every partition has one (or is gone), reporting each round's
// partitions to MarkersWritten. s.mu is held.
func (s *txnShard) startMarkers(m txn.Markers) {
	gen := s.gen
	s.goWork(func(ctx context.Context) {
		left := m.Partitions
		backoff := markerBackoffMin
		for len(left) > 0 && ctx.Err() == nil {
			done, rest := s.b.txns.writeMarkers(ctx, m, left)
			if len(done) > 0 {
				s.mu.Lock()
				if s.gen != gen || s.c == nil {
					s.mu.Unlock()
					return
				}
				s.applyLocked(s.c.MarkersWritten(s.now(), m.TransactionalID, done...))
				s.mu.Unlock()
			}
			left = rest
			if len(left) == 0 {
				return
			}
			if len(done) > 0 {
				backoff = markerBackoffMin
			}
			if s.b.sleep(ctx, backoff) != nil {
				return
			}
			backoff = min(2*backoff, markerBackoffMax)
			s.mu.Lock()
			stale := s.gen != gen || s.c == nil
			s.mu.Unlock()
			if stale {
				return
			}
		}
	})
}

// timerLoop aborts timed-out transactions and expires transactional ids
// on their intervals until ctx ends or the Coordinator is dropped.
func (s *txnShard) timerLoop(ctx context.Context) {
	st := s.b.node.State()
	abortEvery := time.Duration(s.b.brokerInt(st, "transaction.abort.timed.out.transaction.cleanup.interval.ms")) * time.Millisecond
	expireEvery := time.Duration(s.b.brokerInt(st, "transaction.remove.expired.transaction.cleanup.interval.ms")) * time.Millisecond
	if buggify.On(buggify.CoreEarlyTimeout) {
		abortEvery /= 10
	}
	nextExpire := s.b.env.Clock.Now().Add(expireEvery)
	for {
		t := s.b.env.Clock.Timer(abortEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.reload:
			t.Stop()
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.c == nil {
			s.mu.Unlock()
			return
		}
		now := s.now()
		s.applyLocked(s.c.AbortTimedOut(now))
		if s.c != nil && !s.b.env.Clock.Now().Before(nextExpire) {
			s.applyLocked(s.c.ExpireIDs(now))
			nextExpire = s.b.env.Clock.Now().Add(expireEvery)
		}
		s.mu.Unlock()
	}
}
