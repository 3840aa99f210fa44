package core

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/wire"
)

// coordShard is what a shardSet needs of a coordinator's shard.
type coordShard interface {
	start(ctx context.Context)
	// stop ends the shard and returns once its goroutines have ended.
	stop()
	// replica is the partition the shard was made for.
	replica() *partition
	// stoppedCh is closed once stop has finished.
	stoppedCh() <-chan struct{}
}

// shardSet keeps one shard per partition of an internal topic
// (__consumer_offsets for the group coordinator, __transaction_state for
// the transaction coordinator) whose leader is this broker, following the
// leadership reconcile sees: nothing in a shard depends on the cluster's
// shape.
//
// A shard that is replaced is stopped in the background (reconcile does not
// wait for a request in progress), and its successor for the same partition
// waits for that stop before loading (answering COORDINATOR_LOAD_IN_PROGRESS
// meanwhile): two shards never append to one partition, and the new one
// loads a log that the old one no longer writes.
type shardSet[S coordShard] struct {
	b     *Broker
	topic string
	// newShard makes the shard of partition part (this broker's replica
	// p), to load once after is closed (nil: at once).
	newShard func(part int32, p *partition, after <-chan struct{}) S

	// mu guards shards, gone and ctx.
	mu     sync.Mutex
	shards map[int32]S
	// gone holds, per partition, the stopped channel of the last shard
	// retired for it (closed once that shard has fully stopped).
	gone map[int32]<-chan struct{}
	ctx  context.Context // the broker's run context, shards live under it; nil before begin and after stopAll
	// stopping counts the background stops of retired shards; stopAll
	// waits for them.
	stopping sync.WaitGroup
}

func newShardSet[S coordShard](b *Broker, topic string, newShard func(int32, *partition, <-chan struct{}) S) shardSet[S] {
	return shardSet[S]{b: b, topic: topic, newShard: newShard, shards: map[int32]S{}}
}

// begin lets shards start under ctx (the broker's Run).
func (c *shardSet[S]) begin(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctx = ctx
}

// syncShards starts shards for the topic's partitions this broker now
// leads and stops the others. Called by reconcile with its lock held.
func (c *shardSet[S]) syncShards(st *cluster.State) {
	want := map[int32]*partition{}
	if t, ok := st.Topic(c.topic); ok {
		for _, ps := range t.Partitions {
			if ps.Leader == c.b.cfg.NodeID {
				if p := c.b.partition(c.topic, ps.Index); p != nil {
					want[ps.Index] = p
				}
			}
		}
	}
	c.setShards(want)
}

// setShards makes want (partition -> this broker's replica, which it
// leads) the partitions with a shard: shards of other partitions, or of
// another replica object of the partition, are retired; the missing ones
// start, each after the retired shard of its partition has stopped.
func (c *shardSet[S]) setShards(want map[int32]*partition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return
	}
	if c.gone == nil {
		c.gone = map[int32]<-chan struct{}{}
	}
	for i, s := range c.shards {
		if want[i] != s.replica() {
			delete(c.shards, i)
			c.gone[i] = s.stoppedCh()
			c.stopping.Add(1)
			go func() {
				defer c.stopping.Done()
				s.stop()
			}()
		}
	}
	for i, p := range want {
		if _, ok := c.shards[i]; !ok {
			s := c.newShard(i, p, c.gone[i])
			c.shards[i] = s
			s.start(c.ctx)
		}
	}
}

// stopAll stops every shard (broker shutdown).
func (c *shardSet[S]) stopAll() {
	c.mu.Lock()
	shards := c.shards
	c.shards = map[int32]S{}
	c.ctx = nil
	c.mu.Unlock()
	for _, s := range shards {
		s.stop()
	}
	c.stopping.Wait()
}

// shardOf returns the shard of the partition key hashes to (partOf, over
// the topic's partition count), or an error to answer: NOT_COORDINATOR
// when another broker leads it or the topic does not exist yet,
// COORDINATOR_LOAD_IN_PROGRESS when this broker leads it but has no shard
// yet (the topic was just created).
func (c *shardSet[S]) shardOf(key string, partOf func(string, int32) int32) (S, error) {
	var none S
	t, ok := c.b.node.State().Topic(c.topic)
	if !ok || len(t.Partitions) == 0 {
		return none, errNotCoordinator
	}
	part := partOf(key, int32(len(t.Partitions)))
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.shards[part]; ok {
		return s, nil
	}
	if t.Partitions[part].Leader == c.b.cfg.NodeID {
		return none, errCoordinatorLoading
	}
	return none, errNotCoordinator
}

// shard returns the shard of partition part, if there is one.
func (c *shardSet[S]) shard(part int32) (S, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.shards[part]
	return s, ok
}

// allShards lists the running shards.
func (c *shardSet[S]) allShards() []S {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]S, 0, len(c.shards))
	for _, s := range c.shards {
		out = append(out, s)
	}
	return out
}

// runShard is a coordinator shard's life after the shard it replaces has
// stopped (after): until ctx ends, load the partition (retried with a
// backoff), then serve until the loaded state is dropped, and load again.
// A failed partition (a storage error, which only a reopen clears) takes
// the shard offline for good: reconcile replaces it with the partition.
func runShard(ctx context.Context, b *Broker, p *partition, after <-chan struct{}, what string, part int32,
	offline func(error), load func(context.Context) error, serve func(context.Context)) {
	if after != nil {
		// Not abandoned when ctx ends: stop waits for this shard's run,
		// so a stopped shard also means its predecessors have stopped.
		<-after
	}
	backoff := shardLoadBackoffMin
	for ctx.Err() == nil {
		if err := p.err(); err != nil {
			offline(err)
			<-ctx.Done()
			return
		}
		if err := load(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			b.log.Error("load "+what, "partition", part, "err", err, "retry_in", backoff)
			if b.sleep(ctx, backoff) != nil {
				return
			}
			backoff = min(2*backoff, shardLoadBackoffMax)
			continue
		}
		backoff = shardLoadBackoffMin
		serve(ctx) // returns when ctx ends or the loaded state was dropped
	}
}

// loadBatches calls fn for every batch of p's log in [from, end), with its
// header, in order, until ctx ends.
func loadBatches(ctx context.Context, p *partition, from, end int64, fn func(h wire.BatchHeader, raw []byte) error) error {
	err := p.log.Batches(from, func(base int64, raw []byte) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if base >= end {
			return errStopLoad
		}
		if base < from {
			return nil // read before
		}
		h, err := wire.ParseBatchHeader(raw)
		if err != nil {
			return fmt.Errorf("offset %d: %w", base, err)
		}
		return fn(h, raw)
	})
	if err != nil && !errors.Is(err, errStopLoad) {
		return err
	}
	return nil
}

var errStopLoad = errors.New("stop loading")

// appendCoordinatorBatch writes a coordinator's records as one batch
// (batch's header fields set, its records numbered here) and returns the
// end offset to wait for.
func appendCoordinatorBatch(p *partition, batch wire.Batch, recs int, kv func(i int) (key, value []byte)) (int64, error) {
	for i := range recs {
		k, v := kv(i)
		batch.Records = append(batch.Records, wire.Record{OffsetDelta: int32(i), Key: k, Value: v})
	}
	raw, err := wire.AppendBatch(nil, batch)
	if err != nil {
		return 0, err
	}
	h, err := wire.ParseBatchHeader(raw)
	if err != nil {
		return 0, err
	}
	res, err := p.append(raw, []wire.BatchHeader{h})
	return res.end, err
}
