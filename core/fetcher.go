package core

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/storage"
	"github.com/jocko/jocko/wire"
)

// The follower's side of replication, as Kafka's ReplicaFetcherThread: one
// fetcher per leader broker replicates every partition this broker follows
// under that leader. Before fetching from a new leader epoch a partition
// truncates its log to what that leader has (OffsetForLeaderEpoch; see
// truncate.go). A fetched batch set is appended, then fsynced, and only
// then is the next Fetch sent: the fetch offset the leader sees is this
// replica's durable end, so the leader's high watermark covers only data
// every ISR member has fsynced.

// fetcherBackoff is how long a fetcher waits after a failed exchange.
const fetcherBackoff = 100 * time.Millisecond

// fetchers are the broker's replica fetchers by leader broker ID.
type fetchers struct {
	mu       sync.Mutex // guards byLeader
	byLeader map[int32]*fetcher
}

type fetcher struct {
	b      *Broker
	leader int32
	wake   chan struct{} // capacity 1: the partition set changed
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex // guards parts
	parts map[tp]*followState
}

// followState is one followed partition in a fetcher.
type followState struct {
	p        *partition
	epoch    int32 // the leader epoch it follows
	truncate bool  // truncate to the leader's log before the next fetch
}

// syncFetchers gives each partition this broker follows to the fetcher of
// its leader, and stops fetchers with nothing left. Called by reconcile
// with its lock held.
func (b *Broker) syncFetchers() {
	want := map[int32]map[tp]*partition{}
	for _, p := range b.partitionsSnapshot() {
		leader := p.leader.Load()
		if leader < 0 || leader == b.cfg.NodeID {
			continue
		}
		if want[leader] == nil {
			want[leader] = map[tp]*partition{}
		}
		want[leader][tp{p.topic, p.index}] = p
	}
	b.fetch.mu.Lock()
	defer b.fetch.mu.Unlock()
	if b.fetch.byLeader == nil {
		b.fetch.byLeader = map[int32]*fetcher{}
	}
	for _, id := range slices.Sorted(maps.Keys(b.fetch.byLeader)) {
		if f := b.fetch.byLeader[id]; want[id] == nil {
			f.stop()
			delete(b.fetch.byLeader, id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		f := b.fetch.byLeader[id]
		if f == nil {
			if b.runCtx == nil || b.runCtx.Err() != nil {
				continue
			}
			f = &fetcher{b: b, leader: id, wake: make(chan struct{}, 1), done: make(chan struct{}), parts: map[tp]*followState{}}
			ctx, cancel := context.WithCancel(b.runCtx)
			f.cancel = cancel
			b.fetch.byLeader[id] = f
			b.spawn(func(context.Context) { defer close(f.done); f.run(ctx) })
		}
		f.set(want[id])
	}
}

// stopFetchers stops every fetcher (broker shutdown).
func (b *Broker) stopFetchers() {
	b.fetch.mu.Lock()
	defer b.fetch.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(b.fetch.byLeader)) {
		b.fetch.byLeader[id].stop()
	}
	b.fetch.byLeader = nil
}

func (f *fetcher) stop() {
	if f.cancel != nil {
		f.cancel()
	}
}

// set makes parts the fetcher's partitions: new ones, and ones whose
// leader epoch changed, truncate first.
func (f *fetcher) set(parts map[tp]*partition) {
	f.mu.Lock()
	changed := false
	for k := range f.parts {
		if parts[k] == nil || parts[k] != f.parts[k].p {
			delete(f.parts, k)
			changed = true
		}
	}
	for k, p := range parts {
		epoch := p.leaderEpoch.Load()
		if s := f.parts[k]; s == nil || s.epoch != epoch {
			f.parts[k] = &followState{p: p, epoch: epoch, truncate: true}
			changed = true
		}
	}
	f.mu.Unlock()
	if changed {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// snapshot lists the fetcher's partitions in topic/partition order.
func (f *fetcher) snapshot() []followState {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]followState, 0, len(f.parts))
	for _, s := range f.parts {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(x, y followState) int {
		if x.p.topic != y.p.topic {
			if x.p.topic < y.p.topic {
				return -1
			}
			return 1
		}
		return int(x.p.index - y.p.index)
	})
	return out
}

// truncated marks a partition's truncation done, if it still follows the
// same epoch.
func (f *fetcher) truncated(p *partition, epoch int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.parts[tp{p.topic, p.index}]; s != nil && s.p == p && s.epoch == epoch {
		s.truncate = false
	}
}

// retruncate asks for a partition's truncation again (the leader said its
// fetch offset is out of range).
func (f *fetcher) retruncate(p *partition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.parts[tp{p.topic, p.index}]; s != nil && s.p == p {
		s.truncate = true
	}
}

// run is the fetch loop.
func (f *fetcher) run(ctx context.Context) {
	var conn *peerConn
	defer func() {
		if conn != nil {
			conn.close()
		}
	}()
	fail := func() {
		if conn != nil {
			conn.close()
			conn = nil
		}
		f.b.sleep(ctx, fetcherBackoff)
	}
	for ctx.Err() == nil {
		parts := f.snapshot()
		if len(parts) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-f.wake:
			}
			continue
		}
		if conn == nil {
			addr, err := f.b.peerAddr(f.leader)
			if err == nil {
				conn, err = f.b.dialPeer(ctx, addr)
			}
			if err != nil {
				fail()
				continue
			}
		}
		var trunc, fetch []followState
		for _, s := range parts {
			if _, corrupt := s.p.corruptFrom(); corrupt || s.p.err() != nil {
				continue // a corrupt copy fetches again once repaired (corrupt.go)
			}
			if s.truncate {
				trunc = append(trunc, s)
			} else {
				fetch = append(fetch, s)
			}
		}
		if len(trunc) > 0 {
			if err := f.truncate(ctx, conn, trunc); err != nil {
				fail()
			}
			continue
		}
		if len(fetch) == 0 {
			f.b.sleep(ctx, fetcherBackoff)
			continue
		}
		if err := f.fetchOnce(ctx, conn, fetch); err != nil {
			fail()
		}
	}
}

// fetchOnce sends one Fetch for parts and applies the answer.
func (f *fetcher) fetchOnce(ctx context.Context, conn *peerConn, parts []followState) error {
	st := f.b.node.State()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(15)
	req.ReplicaState.ID, req.ReplicaState.Epoch = f.b.cfg.NodeID, f.b.epoch
	req.MaxWaitMillis = int32(f.b.brokerInt(st, "replica.fetch.wait.max.ms"))
	req.MinBytes = 1
	req.MaxBytes = int32(f.b.brokerInt(st, "replica.fetch.response.max.bytes"))
	req.SessionEpoch = -1 // no fetch session
	partMax := int32(f.b.brokerInt(st, "replica.fetch.max.bytes"))
	byTopic := map[[16]byte]int{}
	for _, s := range parts {
		i, ok := byTopic[s.p.topicID]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.TopicID = s.p.topicID
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[s.p.topicID] = i
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch = s.p.index, s.epoch
		rp.FetchOffset, rp.LogStartOffset, rp.PartitionMaxBytes = s.p.log.EndOffset(), s.p.log.StartOffset(), partMax
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	resp, err := conn.do(ctx, f.b.env.Clock.Now(), req)
	if err != nil {
		return err
	}
	fr := resp.(*kmsg.FetchResponse)
	if fr.ErrorCode != 0 {
		return kerr.ErrorForCode(fr.ErrorCode)
	}
	for _, rt := range fr.Topics {
		for _, rp := range rt.Partitions {
			for _, s := range parts {
				if s.p.topicID == rt.TopicID && s.p.index == rp.Partition {
					f.apply(s, rp)
				}
			}
		}
	}
	return nil
}

// apply appends what the leader sent for one partition and makes it
// durable before the next fetch.
func (f *fetcher) apply(s followState, rp kmsg.FetchResponseTopicPartition) {
	p := s.p
	switch rp.ErrorCode {
	case 0:
	case kerr.OffsetOutOfRange.Code:
		if p.leaderEpoch.Load() == s.epoch && p.restartAtLeaderStart(rp.LogStartOffset) {
			return
		}
		f.retruncate(p)
		return
	default:
		// FENCED/UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER: the
		// metadata will move the partition; a storage error stays.
		return
	}
	if p.leaderEpoch.Load() != s.epoch {
		return
	}
	if len(rp.RecordBatches) > 0 {
		if err := p.appendReplica(rp.RecordBatches); err != nil {
			if !errors.Is(err, errStorage) && !errors.Is(err, storage.ErrNoSpace) {
				f.retruncate(p)
			}
			return // a full disk: the next fetch asks for the same offset
		}
	}
	p.leaderHW.Store(rp.HighWatermark)
	end := p.log.EndOffset()
	if err := p.log.Sync(end); err != nil {
		p.fail(err)
		return
	}
	p.followerAdvanceHW(min(end, rp.HighWatermark))
	p.followLeaderStart(rp.LogStartOffset)
}

// appendReplica appends a leader's batches as they are and records their
// producers, so that idempotence holds after a failover to this replica.
func (p *partition) appendReplica(batches []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.log.AppendReplica(batches); err != nil {
		if errors.Is(err, storage.ErrInvalidOffset) || errors.Is(err, storage.ErrCorrupt) || errors.Is(err, storage.ErrStaleEpoch) {
			return err // batches that do not follow the log: truncate against the leader again
		}
		if errors.Is(err, storage.ErrNoSpace) {
			return err // nothing written: fetched again once there is room
		}
		p.fail(err) // the disk: offline until restart, as on the leader
		return p.err()
	}
	for pos := 0; pos < len(batches); {
		h, err := wire.ParseBatchHeader(batches[pos:])
		if err != nil || h.Size() <= 0 {
			break
		}
		p.recordProducer(h, h.BaseOffset)
		pos += h.Size()
	}
	return nil
}

// retruncate has the fetcher following p truncate against its leader
// before its next fetch (the repairer cut p's log), and wakes it.
func (fs *fetchers) retruncate(p *partition) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.byLeader {
		f.retruncate(p)
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}
