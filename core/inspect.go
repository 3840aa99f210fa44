package core

import (
	"errors"
	"fmt"
	"sort"

	"github.com/jocko/jocko/wire"

	"github.com/jocko/jocko/cluster"
)

// PartitionView is a read-only snapshot of one local partition, for the
// simulator's in-run invariants (sim/runner): the high watermark against the
// log's end and durable end.
type PartitionView struct {
	Topic     string
	Partition int32
	TopicID   [16]byte
	// LogStart is the first offset kept.
	LogStart int64
	// HighWatermark is the offset below which records are committed.
	HighWatermark int64
	// DurableEnd is the end of what has been fsynced.
	DurableEnd int64
	// LogEnd is the next offset to assign.
	LogEnd int64
	// Durable says the partition acknowledges only fsynced data
	// (flush.messages <= 1): then HighWatermark <= DurableEnd.
	Durable bool
	// Failed says the partition went offline after a storage error.
	Failed bool
	// Leader and LeaderEpoch are the partition's leader as this broker's
	// metadata says.
	Leader      int32
	LeaderEpoch int32
}

// Inspect returns a snapshot of every local partition, sorted by topic and
// partition. It reads atomics only (no disk, no partition lock); the values
// are read in the order high watermark, durable end, log end, each of which
// only grows within one incarnation, so HighWatermark <= DurableEnd <=
// LogEnd holds in the snapshot whenever it holds at every instant.
func (b *Broker) Inspect() []PartitionView {
	b.partsMu.RLock()
	parts := make([]*partition, 0, len(b.parts))
	for _, p := range b.parts {
		parts = append(parts, p)
	}
	b.partsMu.RUnlock()
	out := make([]PartitionView, 0, len(parts))
	for _, p := range parts {
		v := PartitionView{Topic: p.topic, Partition: p.index, TopicID: p.topicID}
		v.HighWatermark = p.highWatermark()
		v.DurableEnd = p.log.DurableEnd()
		v.LogEnd = p.log.EndOffset()
		v.LogStart = p.log.StartOffset()
		v.Durable = p.config().durable()
		v.Failed = p.err() != nil
		v.Leader, v.LeaderEpoch = p.leader.Load(), p.leaderEpoch.Load()
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// Metadata returns this broker's copy of the cluster metadata (read-only)
// and the controller's broker ID (-1 when none is known), for the
// simulator's nemesis and checkers. Before the broker is ready (Run has
// not yet made its metadata node) it is an empty state and -1.
func (b *Broker) Metadata() (*cluster.State, int32) {
	node := b.readyNode()
	if node == nil {
		return cluster.NewState(), -1
	}
	id, ok := node.LeaderID()
	if !ok {
		id = -1
	}
	return node.State(), id
}

// readyNode is the metadata node once the broker is ready, else nil (Run
// sets b.node before it closes b.ready).
func (b *Broker) readyNode() *cluster.Node {
	select {
	case <-b.ready:
		return b.node
	default:
		return nil
	}
}

// Voters returns the metadata group's voters as this broker's latest Raft
// configuration has them, sorted, for the simulator's nemesis; nil before
// the broker is ready or when Raft cannot say.
func (b *Broker) Voters() []int32 {
	node := b.readyNode()
	if node == nil {
		return nil
	}
	servers, err := node.Servers()
	if err != nil {
		return nil
	}
	var out []int32
	for id, s := range servers {
		if s.Voter {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// BatchSummary identifies one stored batch: replicas store the leader's
// batches byte for byte, so equal prefixes have equal summaries (the CRC
// covers the records).
type BatchSummary struct {
	Base, Last  int64
	LeaderEpoch int32
	CRC         uint32
}

// Batches lists a local replica's batches that lie wholly below upTo, for
// the simulator's replica-identity check.
func (b *Broker) Batches(topic string, part int32, upTo int64) ([]BatchSummary, error) {
	p := b.partition(topic, part)
	if p == nil {
		return nil, fmt.Errorf("no local replica of %s-%d", topic, part)
	}
	var out []BatchSummary
	errStop := errors.New("stop")
	err := p.log.Batches(p.log.StartOffset(), func(base int64, raw []byte) error {
		bh, err := wire.ParseBatchHeader(raw)
		if err != nil {
			return err
		}
		if bh.LastOffset() >= upTo {
			return errStop
		}
		out = append(out, BatchSummary{Base: base, Last: bh.LastOffset(), LeaderEpoch: bh.PartitionLeaderEpoch, CRC: bh.CRC})
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return out, nil
}
