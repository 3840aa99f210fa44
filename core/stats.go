package core

import (
	"slices"
	"sort"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/core/group"
)

// Stats is what the broker's metrics show that is not measured on the hot
// paths: read when they are scraped (Broker.Stats), from values the broker
// keeps anyway.
type Stats struct {
	// Topics is this broker's client traffic per topic (produce into its
	// leaders, fetches by consumers; not replication), by name.
	Topics []TopicStats
	// Partitions are the local replicas with their log size, by topic
	// and partition.
	Partitions []PartitionStats
	// Leaders counts the partitions this broker leads, UnderReplicated
	// those of them whose ISR lacks a replica.
	Leaders, UnderReplicated int
	// Failed counts local replicas whose log failed (they serve nothing
	// until the broker restarts).
	Failed int
	// Offline counts the cluster's partitions without a leader; only the
	// controller (the Raft leader) reports them, 0 elsewhere, so a sum
	// over brokers counts each once.
	Offline int
	// ISRShrinks and ISRExpands count the ISR changes of partitions this
	// broker led that the controller committed, since the broker started.
	ISRShrinks, ISRExpands uint64
	// CorruptBatches counts the corrupt batches reads and the scrub found,
	// Repairs the corrupt replicas truncated to fetch again, and
	// ScrubbedBytes the bytes the scrub checked, since the broker started.
	CorruptBatches, Repairs, ScrubbedBytes uint64
	// Raft is the metadata Raft's state on this broker.
	Raft cluster.RaftStats
	// Groups counts the groups this broker coordinates by state (every
	// state present, zeros included), and Rebalances the rebalances they
	// began since the broker started.
	Groups     map[string]int
	Rebalances uint64
	// Lags is each coordinated group's lag on the partitions it has
	// committed offsets for, where this broker has a replica of the
	// partition (its high watermark minus the committed offset; never
	// negative), by group, topic and partition. At most lagMax entries
	// (the Stats argument); LagsDropped counts those left out.
	Lags        []GroupLag
	LagsDropped int
	// Connections counts the open client and broker connections.
	Connections int
}

// TopicStats is one topic's traffic through this broker.
type TopicStats struct {
	Topic                                    string
	BytesIn, RecordsIn, BytesOut, RecordsOut int64
}

// PartitionStats is one local replica's log.
type PartitionStats struct {
	Topic     string
	Partition int32
	SizeBytes int64 // the bytes of its segments
	Segments  int
	Leader    bool // this broker leads it
}

// GroupLag is how far a group's committed offset is behind a partition's
// high watermark.
type GroupLag struct {
	Group     string
	Topic     string
	Partition int32
	Lag       int64
}

// Stats takes a snapshot for the metrics: atomics and the metadata, each
// partition's segment list under its read lock, and each coordinator
// shard's groups under the shard's lock, briefly. At most lagMax group
// lags are listed.
func (b *Broker) Stats(lagMax int) Stats {
	var s Stats
	b.partsMu.RLock()
	parts := make(map[tp]*partition, len(b.parts))
	for k, p := range b.parts {
		parts[k] = p
	}
	b.partsMu.RUnlock()
	var st *cluster.State
	if b.node != nil {
		st = b.node.State()
		s.Raft = b.node.RaftStats()
		if b.node.IsLeader() {
			s.Offline = offlinePartitions(st)
		}
	}
	for _, p := range parts {
		ps := PartitionStats{Topic: p.topic, Partition: p.index, SizeBytes: p.log.Size(), Segments: p.log.Segments(), Leader: p.isLeader()}
		s.Partitions = append(s.Partitions, ps)
		if p.err() != nil {
			s.Failed++
		}
		if ps.Leader {
			s.Leaders++
			if underReplicated(st, p.topic, p.index) {
				s.UnderReplicated++
			}
		}
	}
	sort.Slice(s.Partitions, func(i, j int) bool {
		a, c := s.Partitions[i], s.Partitions[j]
		return a.Topic < c.Topic || a.Topic == c.Topic && a.Partition < c.Partition
	})
	s.Topics = b.topicStats.snapshot(st, parts)
	s.ISRShrinks, s.ISRExpands = b.isrShrinks.Load(), b.isrExpands.Load()
	s.CorruptBatches, s.Repairs, s.ScrubbedBytes = b.corruptFound.Load(), b.repairs.Load(), b.scrubbed.Load()
	s.Rebalances = b.rebalances.Load()
	s.Groups, s.Lags, s.LagsDropped = b.coord.stats(parts, lagMax)
	b.connsMu.Lock()
	s.Connections = len(b.conns)
	b.connsMu.Unlock()
	return s
}

// offlinePartitions counts the partitions in st without a leader.
func offlinePartitions(st *cluster.State) int {
	n := 0
	for _, t := range st.Topics {
		for _, p := range t.Partitions {
			if p.Leader < 0 {
				n++
			}
		}
	}
	return n
}

// underReplicated reports whether st gives topic/part an ISR smaller than
// its replicas.
func underReplicated(st *cluster.State, topic string, part int32) bool {
	if st == nil {
		return false
	}
	t, ok := st.Topic(topic)
	if !ok || int(part) >= len(t.Partitions) {
		return false
	}
	p := t.Partitions[part]
	return len(p.ISR) < len(p.Replicas)-len(p.AddingReplicas)
}

// snapshot lists the topics' counters by name, and forgets the topics
// that neither the metadata nor a local partition has any more.
func (s *topicStatsSet) snapshot(st *cluster.State, parts map[tp]*partition) []TopicStats {
	local := map[string]bool{}
	for k := range parts {
		local[k.topic] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TopicStats, 0, len(s.topics))
	for name, ts := range s.topics {
		if _, ok := st.Topic(name); st != nil && !ok && !local[name] {
			delete(s.topics, name)
			continue
		}
		out = append(out, TopicStats{Topic: name, BytesIn: ts.bytesIn.Load(), RecordsIn: ts.recordsIn.Load(),
			BytesOut: ts.bytesOut.Load(), RecordsOut: ts.recordsOut.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

// stats counts the coordinated groups by state and lists their lags on
// the partitions in parts (at most lagMax; dropped counts the rest).
func (c *coordinator) stats(parts map[tp]*partition, lagMax int) (states map[string]int, lags []GroupLag, dropped int) {
	states = map[string]int{}
	for s := group.Empty; s <= group.Dead; s++ {
		states[s.String()] = 0
	}
	c.mu.Lock()
	shards := make([]*shard, 0, len(c.shards))
	for _, s := range c.shards {
		shards = append(shards, s)
	}
	c.mu.Unlock()
	slices.SortFunc(shards, func(a, b *shard) int { return int(a.part - b.part) })
	for _, s := range shards {
		dropped += s.stats(parts, states, &lags, lagMax)
	}
	return states, lags, dropped
}

// stats adds the shard's groups to states and their lags to lags, up to
// lagMax in all, and returns how many lags did not fit.
func (s *shard) stats(parts map[tp]*partition, states map[string]int, lags *[]GroupLag, lagMax int) (dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		return 0
	}
	for _, id := range s.groups.IDs() {
		g := s.groups.Get(id)
		states[g.State().String()]++
		offs := g.Offsets()
		tps := make([]group.TopicPartition, 0, len(offs))
		for k := range offs {
			if parts[tp{k.Topic, k.Partition}] != nil {
				tps = append(tps, k)
			}
		}
		if room := lagMax - len(*lags); len(tps) > room {
			dropped += len(tps) - max(room, 0)
			if room <= 0 {
				continue
			}
		}
		slices.SortFunc(tps, func(a, b group.TopicPartition) int {
			if a.Topic != b.Topic {
				if a.Topic < b.Topic {
					return -1
				}
				return 1
			}
			return int(a.Partition - b.Partition)
		})
		for _, k := range tps {
			if len(*lags) >= lagMax {
				break
			}
			hw := parts[tp{k.Topic, k.Partition}].highWatermark()
			*lags = append(*lags, GroupLag{Group: id, Topic: k.Topic, Partition: k.Partition, Lag: max(hw-offs[k].Offset, 0)})
		}
	}
	return dropped
}
