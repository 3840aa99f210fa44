// Package cluster holds Jocko's cluster metadata: the state machine that a
// Raft log of commands builds (brokers, topics with UUIDs, partitions with
// replicas, leader, leader epoch and ISR, configs) and the Raft node that
// replicates that log.
//
// The state machine is pure: ApplyCommand takes a State and a Command and
// returns a new State or an error, never mutating its input, so it is
// tested natively against a model (apply_test.go) and read lock-free by the
// broker. The Node (node.go) is the thin shell that feeds it from
// hashicorp/raft.
package cluster

import "sort"

// Broker is a registered broker: where clients and peers reach it.
type Broker struct {
	ID       int32
	Host     string
	Port     int32
	Rack     string
	RaftAddr string
	// Epoch is the broker epoch (KIP-903): the Raft index of this
	// registration, new at every start of the broker. A request stamped
	// with an older epoch comes from a dead incarnation.
	Epoch int64 `json:",omitempty"`
	// Fenced brokers lead nothing and join no ISR: a broker is fenced from
	// its registration until its metadata has caught up (its heartbeat
	// says so), and again when its session with the controller expires.
	Fenced bool `json:",omitempty"`
	// LostLogs says this registration's broker started with an empty data
	// directory (a new broker, or a wiped disk): it holds none of the data
	// its replicas had, so the controller takes it out of every ISR before
	// unfencing it, and it rejoins each ISR only once it has caught up.
	LostLogs bool `json:",omitempty"`
}

// Partition is one partition of a topic. Leader is -1 when the partition
// has no leader. LeaderEpoch grows whenever the leader changes;
// PartitionEpoch grows with every change of the partition's state, and is
// what UpdatePartition's compare-and-set checks.
type Partition struct {
	Index          int32
	Replicas       []int32
	ISR            []int32
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	// AddingReplicas and RemovingReplicas describe a reassignment in
	// progress (KRaft's PartitionRegistration): Replicas is then the
	// target replicas followed by the ones being removed, AddingReplicas
	// the targets that were not replicas before, RemovingReplicas the old
	// replicas that are not targets. Both are empty otherwise; see
	// reassign.go.
	AddingReplicas   []int32 `json:",omitempty"`
	RemovingReplicas []int32 `json:",omitempty"`
}

// Topic is one topic. Partitions[i].Index == i.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions []Partition
	Configs    map[string]string
	Internal   bool
}

// ProducerIDBlock is a range [Start, Start+Count) of producer IDs reserved
// by a broker.
type ProducerIDBlock struct {
	Start int64
	Count int64
}

// State is an immutable snapshot of the cluster metadata. Never mutate a
// State (or anything it points to) that you got from State(): ApplyCommand
// builds a new one, copying only the parts a command changes.
type State struct {
	ClusterID     string
	Brokers       map[int32]Broker
	Topics        map[string]*Topic
	TopicIDs      map[[16]byte]string
	BrokerConfigs map[string]string
	// NextProducerID is the first producer ID not yet handed out, and
	// ProducerIDBlocks the latest block each broker reserved.
	NextProducerID   int64
	ProducerIDBlocks map[int32]ProducerIDBlock
	// Features are the finalized feature levels set by UpdateFeatures
	// (KIP-584; nil until the first), FeaturesEpoch the Raft index of
	// the last change (0: none).
	Features      map[string]int16
	FeaturesEpoch int64
	// ClientQuotas are the client quotas set by AlterClientQuotas
	// (KIP-546; nil until the first): per entity key (core/quota) the
	// quota values by name.
	ClientQuotas map[string]map[string]float64
	// AppliedIndex is the Raft index of the last log entry applied to this
	// state (including commands the state machine rejected).
	AppliedIndex uint64
}

// NewState returns the empty state a cluster starts from.
func NewState() *State {
	return &State{
		Brokers:          map[int32]Broker{},
		Topics:           map[string]*Topic{},
		TopicIDs:         map[[16]byte]string{},
		ProducerIDBlocks: map[int32]ProducerIDBlock{},
	}
}

// Topic returns the topic called name.
func (s *State) Topic(name string) (*Topic, bool) {
	t, ok := s.Topics[name]
	return t, ok
}

// TopicByID returns the topic with the given UUID.
func (s *State) TopicByID(id [16]byte) (*Topic, bool) {
	name, ok := s.TopicIDs[id]
	if !ok {
		return nil, false
	}
	return s.Topic(name)
}

// SortedTopicNames returns the names of all topics in ascending order.
func (s *State) SortedTopicNames() []string {
	names := make([]string, 0, len(s.Topics))
	for n := range s.Topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SortedBrokerIDs returns the IDs of all registered brokers in ascending
// order.
func (s *State) SortedBrokerIDs() []int32 {
	ids := make([]int32, 0, len(s.Brokers))
	for id := range s.Brokers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// shallowCopy returns a copy of s that shares every map with s; the caller
// replaces the maps it changes.
func (s *State) shallowCopy() *State {
	c := *s
	return &c
}

// cloneTopic returns a copy of t whose Partitions slice (but not the
// partitions' own slices) and Configs map are its own.
func cloneTopic(t *Topic) *Topic {
	c := *t
	c.Partitions = append([]Partition(nil), t.Partitions...)
	return &c
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
}

// cloneIDs copies a replica or ISR list; an empty list becomes nil so that
// states compare equal after a snapshot round trip.
func cloneIDs(ids []int32) []int32 {
	if len(ids) == 0 {
		return nil
	}
	return append([]int32(nil), ids...)
}

// cloneConfigs copies a config map; an empty map becomes nil.
func cloneConfigs(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return cloneMap(m)
}
