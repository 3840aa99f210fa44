package cluster

import (
	"fmt"
	"slices"
)

// Limits the state machine enforces on commands.
const (
	topicNameBytesMax     = 249 // Kafka's limit
	partitionsPerTopicMax = 1 << 16
	replicasMax           = 64
	producerIDCountMax    = 1 << 20
)

// ApplyCommand is the metadata state machine: it returns the state after
// applying cmd at Raft index, or s itself and an error if cmd is rejected.
// It never mutates s: the new state shares every part that cmd does not
// change. Passing a pointer to a command is the same as passing the value.
func ApplyCommand(s *State, index uint64, cmd Command) (*State, error) {
	cmd, err := derefCommand(cmd)
	if err != nil {
		return s, err
	}
	var next *State
	switch c := cmd.(type) {
	case RegisterBroker:
		next, err = applyRegisterBroker(s, index, c)
	case FenceBroker:
		next, err = applyFenceBroker(s, c)
	case CreateTopic:
		next, err = applyCreateTopic(s, c)
	case DeleteTopic:
		next, err = applyDeleteTopic(s, c)
	case CreatePartitions:
		next, err = applyCreatePartitions(s, c)
	case AlterTopicConfigs:
		next, err = applyAlterTopicConfigs(s, c)
	case AlterBrokerConfigs:
		next = s.shallowCopy()
		next.BrokerConfigs = alterConfigs(s.BrokerConfigs, c.Set, c.Delete, c.Replace)
	case UpdatePartition:
		next, err = applyUpdatePartition(s, c)
	case SetClusterID:
		next, err = applySetClusterID(s, c)
	case AllocateProducerIDs:
		next, err = applyAllocateProducerIDs(s, c)
	case ReassignPartition:
		next, err = applyReassignPartition(s, c)
	case UnregisterBroker:
		next, err = applyUnregisterBroker(s, c)
	case UpdateFeatures:
		next, err = applyUpdateFeatures(s, index, c)
	case AlterClientQuotas:
		next, err = applyAlterClientQuotas(s, c)
	default:
		return s, fmt.Errorf("%w: unhandled %T", ErrBadCommand, cmd)
	}
	if err != nil {
		return s, err
	}
	next.AppliedIndex = index
	return next, nil
}

func applyRegisterBroker(s *State, index uint64, c RegisterBroker) (*State, error) {
	b := c.Broker
	if b.ID < 0 || b.Port < 0 || b.Port > 65535 {
		return nil, fmt.Errorf("%w: broker %d with port %d", ErrBadCommand, b.ID, b.Port)
	}
	b.Epoch, b.Fenced = int64(index), true
	next := s.shallowCopy()
	next.Brokers = cloneMap(s.Brokers)
	next.Brokers[b.ID] = b
	return next, nil
}

func applyUnregisterBroker(s *State, c UnregisterBroker) (*State, error) {
	b, ok := s.Brokers[c.ID]
	if !ok {
		return nil, fmt.Errorf("%w: broker %d is not registered", ErrBadCommand, c.ID)
	}
	if !b.Fenced {
		return nil, fmt.Errorf("%w: broker %d is not fenced; stop it first", ErrBadCommand, c.ID)
	}
	next := s.shallowCopy()
	next.Brokers = cloneMap(s.Brokers)
	delete(next.Brokers, c.ID)
	return next, nil
}

func applyFenceBroker(s *State, c FenceBroker) (*State, error) {
	b, ok := s.Brokers[c.ID]
	if !ok {
		return nil, fmt.Errorf("%w: broker %d is not registered", ErrBadCommand, c.ID)
	}
	if b.Epoch != c.Epoch {
		return nil, fmt.Errorf("%w: broker %d is at epoch %d, not %d", ErrStaleEpoch, c.ID, b.Epoch, c.Epoch)
	}
	b.Fenced = c.Fenced
	next := s.shallowCopy()
	next.Brokers = cloneMap(s.Brokers)
	next.Brokers[b.ID] = b
	return next, nil
}

func applyCreateTopic(s *State, c CreateTopic) (*State, error) {
	if c.Name == "" || len(c.Name) > topicNameBytesMax {
		return nil, fmt.Errorf("%w: topic name of %d bytes", ErrBadCommand, len(c.Name))
	}
	if c.ID == ([16]byte{}) {
		return nil, fmt.Errorf("%w: topic %q has the zero UUID", ErrBadCommand, c.Name)
	}
	if _, ok := s.Topics[c.Name]; ok {
		return nil, fmt.Errorf("%w: %q", ErrTopicExists, c.Name)
	}
	if other, ok := s.TopicIDs[c.ID]; ok {
		return nil, fmt.Errorf("%w: UUID of %q already names %q", ErrTopicExists, c.Name, other)
	}
	if len(c.Assignments) == 0 {
		return nil, fmt.Errorf("%w: topic %q with no partitions", ErrInvalidPartitions, c.Name)
	}
	parts, err := newPartitions(s, 0, c.Assignments)
	if err != nil {
		return nil, fmt.Errorf("topic %q: %w", c.Name, err)
	}
	next := s.shallowCopy()
	next.Topics = cloneMap(s.Topics)
	next.TopicIDs = cloneMap(s.TopicIDs)
	next.Topics[c.Name] = &Topic{
		Name:       c.Name,
		ID:         c.ID,
		Partitions: parts,
		Configs:    cloneConfigs(c.Configs),
		Internal:   c.Internal,
	}
	next.TopicIDs[c.ID] = c.Name
	return next, nil
}

// newPartitions builds partitions first, first+1, ... from assignments,
// each led by its first replica in epoch 0 with every replica in the ISR.
func newPartitions(s *State, first int, assignments [][]int32) ([]Partition, error) {
	if first+len(assignments) > partitionsPerTopicMax {
		return nil, fmt.Errorf("%w: %d partitions, above %d", ErrInvalidPartitions, first+len(assignments), partitionsPerTopicMax)
	}
	parts := make([]Partition, len(assignments))
	for i, replicas := range assignments {
		if err := checkReplicas(s, replicas); err != nil {
			return nil, fmt.Errorf("partition %d: %w", first+i, err)
		}
		parts[i] = Partition{
			Index:    int32(first + i),
			Replicas: cloneIDs(replicas),
			ISR:      cloneIDs(replicas),
			Leader:   replicas[0],
		}
	}
	return parts, nil
}

// checkReplicas requires a non-empty list of distinct registered brokers.
func checkReplicas(s *State, replicas []int32) error {
	if len(replicas) == 0 || len(replicas) > replicasMax {
		return fmt.Errorf("%w: %d replicas", ErrInvalidReplicas, len(replicas))
	}
	for i, id := range replicas {
		if _, ok := s.Brokers[id]; !ok {
			return fmt.Errorf("%w: broker %d is not registered", ErrInvalidReplicas, id)
		}
		if slices.Contains(replicas[:i], id) {
			return fmt.Errorf("%w: broker %d listed twice", ErrInvalidReplicas, id)
		}
	}
	return nil
}

func applyDeleteTopic(s *State, c DeleteTopic) (*State, error) {
	t, ok := s.Topics[c.Name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, c.Name)
	}
	next := s.shallowCopy()
	next.Topics = cloneMap(s.Topics)
	next.TopicIDs = cloneMap(s.TopicIDs)
	delete(next.Topics, c.Name)
	delete(next.TopicIDs, t.ID)
	return next, nil
}

func applyCreatePartitions(s *State, c CreatePartitions) (*State, error) {
	t, ok := s.Topics[c.Topic]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, c.Topic)
	}
	if len(c.Assignments) == 0 {
		return nil, fmt.Errorf("%w: no new partitions for %q", ErrInvalidPartitions, c.Topic)
	}
	parts, err := newPartitions(s, len(t.Partitions), c.Assignments)
	if err != nil {
		return nil, fmt.Errorf("topic %q: %w", c.Topic, err)
	}
	nt := cloneTopic(t)
	nt.Partitions = append(nt.Partitions, parts...)
	return withTopic(s, nt), nil
}

// withTopic returns a copy of s in which t replaces the topic of its name.
func withTopic(s *State, t *Topic) *State {
	next := s.shallowCopy()
	next.Topics = cloneMap(s.Topics)
	next.Topics[t.Name] = t
	return next
}

func applyAlterTopicConfigs(s *State, c AlterTopicConfigs) (*State, error) {
	t, ok := s.Topics[c.Topic]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, c.Topic)
	}
	nt := cloneTopic(t)
	nt.Configs = alterConfigs(t.Configs, c.Set, c.Delete, c.Replace)
	return withTopic(s, nt), nil
}

// alterConfigs returns a new map: set (with replace, only set) merged over
// cur, then del removed; an empty result is nil.
func alterConfigs(cur, set map[string]string, del []string, replace bool) map[string]string {
	base := cur
	if replace {
		base = nil
	}
	m := cloneMap(base)
	for k, v := range set {
		m[k] = v
	}
	for _, k := range del {
		delete(m, k)
	}
	return cloneConfigs(m)
}

func applySetClusterID(s *State, c SetClusterID) (*State, error) {
	if c.ID == "" {
		return nil, fmt.Errorf("%w: empty cluster ID", ErrBadCommand)
	}
	if s.ClusterID != "" && s.ClusterID != c.ID {
		return nil, fmt.Errorf("%w: cluster ID is %q, cannot become %q", ErrBadCommand, s.ClusterID, c.ID)
	}
	next := s.shallowCopy()
	next.ClusterID = c.ID
	return next, nil
}

func applyAllocateProducerIDs(s *State, c AllocateProducerIDs) (*State, error) {
	if c.Count <= 0 || c.Count > producerIDCountMax {
		return nil, fmt.Errorf("%w: producer ID block of %d", ErrBadCommand, c.Count)
	}
	if s.NextProducerID > 1<<62 {
		return nil, fmt.Errorf("%w: producer IDs exhausted", ErrBadCommand)
	}
	next := s.shallowCopy()
	next.ProducerIDBlocks = cloneMap(s.ProducerIDBlocks)
	next.ProducerIDBlocks[c.BrokerID] = ProducerIDBlock{Start: s.NextProducerID, Count: c.Count}
	next.NextProducerID = s.NextProducerID + c.Count
	return next, nil
}

// featuresMax bounds how many finalized features the state holds.
const featuresMax = 64

func applyUpdateFeatures(s *State, index uint64, c UpdateFeatures) (*State, error) {
	next := s.shallowCopy()
	next.Features = cloneMap(s.Features)
	for name, level := range c.Levels {
		if name == "" || len(name) > 255 || level < 0 {
			return nil, fmt.Errorf("%w: feature %q at level %d", ErrBadCommand, name, level)
		}
		// Level 0 is kept: a feature finalized at 0 (transaction.version
		// downgraded to the classic protocol) differs from one never set,
		// which has the broker's default level.
		next.Features[name] = level
	}
	if len(next.Features) > featuresMax {
		return nil, fmt.Errorf("%w: %d features, above %d", ErrBadCommand, len(next.Features), featuresMax)
	}
	if len(next.Features) == 0 {
		next.Features = nil
	}
	next.FeaturesEpoch = int64(index)
	return next, nil
}
