package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

var _ raft.FSM = (*FSM)(nil)

// FSM is the raft.FSM over ApplyCommand. Readers get the current State
// lock-free and may wait for the next change on Changed. raft calls Apply,
// Snapshot and Restore from its FSM goroutine only; Persist runs
// concurrently but on an immutable State.
type FSM struct {
	state atomic.Pointer[State]

	// applyMu serialises the writers: raft's FSM goroutine (Apply,
	// Restore) and an observer's pulls (observer.go), which may both feed
	// a node that is changing from observer to Raft member.
	applyMu sync.Mutex

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
}

// NewFSM returns a state machine holding the empty state.
func NewFSM() *FSM {
	f := &FSM{changed: make(chan struct{})}
	f.state.Store(NewState())
	return f
}

// State returns the current state. Do not mutate it.
func (f *FSM) State() *State { return f.state.Load() }

// Changed returns a channel that is closed at the next state change. Take
// the channel before reading State to not miss a change in between.
func (f *FSM) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// set publishes s and wakes every watcher.
func (f *FSM) set(s *State) {
	f.state.Store(s)
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// Apply implements raft.FSM. It returns nil or the error ApplyCommand (or
// DecodeCommand) gave; a rejected command still advances AppliedIndex. An
// entry at or below AppliedIndex is skipped: a node that pulled the
// metadata as an observer and then joined the Raft group gets those
// committed entries again from raft.
func (f *FSM) Apply(l *raft.Log) any {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	cur := f.State()
	if l.Index <= cur.AppliedIndex {
		return nil
	}
	cmd, err := DecodeCommand(l.Data)
	next := cur
	if err == nil {
		next, err = ApplyCommand(cur, l.Index, cmd)
	}
	if err != nil {
		next = cur.shallowCopy()
		next.AppliedIndex = l.Index
	}
	f.set(next)
	return err
}

// Snapshot implements raft.FSM: the current State is immutable, so the
// snapshot is just a reference to it.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return fsmSnapshot{f.State()}, nil
}

// Restore implements raft.FSM: it replaces the state with a snapshot's,
// after checking the snapshot's invariants.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, err := decodeState(rc)
	if err != nil {
		return err
	}
	f.restore(s)
	return nil
}

// restore replaces the state with s unless the state is already newer (a
// node that pulled the metadata as an observer keeps what it has; raft
// then applies only entries past it).
func (f *FSM) restore(s *State) {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	if s.AppliedIndex >= f.State().AppliedIndex {
		f.set(s)
	}
}

type fsmSnapshot struct{ s *State }

// Persist implements raft.FSMSnapshot.
func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	b, err := encodeState(s.s)
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("cluster: persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (fsmSnapshot) Release() {}

// snapshotVersion is the version of the snapshot encoding.
const snapshotVersion = 1

// stateFile is the snapshot encoding of a State: JSON with maps keyed by
// non-strings turned into sorted lists, so the bytes are deterministic.
type stateFile struct {
	Version          int
	ClusterID        string
	Brokers          []Broker
	Topics           []*Topic
	BrokerConfigs    map[string]string
	NextProducerID   int64
	ProducerIDBlocks []producerIDBlockOf
	Features         map[string]int16              `json:",omitempty"`
	FeaturesEpoch    int64                         `json:",omitempty"`
	ClientQuotas     map[string]map[string]float64 `json:",omitempty"`
	AppliedIndex     uint64
}

type producerIDBlockOf struct {
	BrokerID int32
	ProducerIDBlock
}

func encodeState(s *State) ([]byte, error) {
	f := stateFile{
		Version:        snapshotVersion,
		ClusterID:      s.ClusterID,
		BrokerConfigs:  s.BrokerConfigs,
		NextProducerID: s.NextProducerID,
		Features:       s.Features,
		FeaturesEpoch:  s.FeaturesEpoch,
		ClientQuotas:   s.ClientQuotas,
		AppliedIndex:   s.AppliedIndex,
	}
	for _, id := range s.SortedBrokerIDs() {
		f.Brokers = append(f.Brokers, s.Brokers[id])
	}
	for _, name := range s.SortedTopicNames() {
		f.Topics = append(f.Topics, s.Topics[name])
	}
	for id, b := range s.ProducerIDBlocks {
		f.ProducerIDBlocks = append(f.ProducerIDBlocks, producerIDBlockOf{id, b})
	}
	sort.Slice(f.ProducerIDBlocks, func(i, j int) bool { return f.ProducerIDBlocks[i].BrokerID < f.ProducerIDBlocks[j].BrokerID })
	return json.Marshal(&f)
}

// decodeState reads a snapshot and rebuilds the State, normalised as
// ApplyCommand builds it and checked with Validate.
func decodeState(r io.Reader) (*State, error) {
	var f stateFile
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("cluster: decode snapshot: %w", err)
	}
	if f.Version != snapshotVersion {
		return nil, fmt.Errorf("cluster: snapshot version %d, expected %d", f.Version, snapshotVersion)
	}
	s := NewState()
	s.ClusterID = f.ClusterID
	s.BrokerConfigs = cloneConfigs(f.BrokerConfigs)
	s.NextProducerID = f.NextProducerID
	if len(f.Features) > 0 {
		s.Features = f.Features
	}
	s.FeaturesEpoch = f.FeaturesEpoch
	if len(f.ClientQuotas) > 0 {
		s.ClientQuotas = f.ClientQuotas
	}
	s.AppliedIndex = f.AppliedIndex
	for _, b := range f.Brokers {
		s.Brokers[b.ID] = b
	}
	for _, b := range f.ProducerIDBlocks {
		s.ProducerIDBlocks[b.BrokerID] = b.ProducerIDBlock
	}
	for _, t := range f.Topics {
		if t == nil {
			return nil, fmt.Errorf("cluster: snapshot holds a null topic")
		}
		if _, dup := s.Topics[t.Name]; dup {
			return nil, fmt.Errorf("cluster: snapshot holds topic %q twice", t.Name)
		}
		t.Configs = cloneConfigs(t.Configs)
		for i := range t.Partitions {
			t.Partitions[i].Replicas = cloneIDs(t.Partitions[i].Replicas)
			t.Partitions[i].ISR = cloneIDs(t.Partitions[i].ISR)
		}
		s.Topics[t.Name] = t
		s.TopicIDs[t.ID] = t.Name
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("cluster: snapshot: %w", err)
	}
	return s, nil
}

// Fingerprint is a digest of the whole state in its snapshot encoding:
// two brokers whose metadata converged have the same one (the simulator's
// convergence check compares them).
func (s *State) Fingerprint() string {
	b, err := encodeState(s)
	if err != nil {
		return "unencodable: " + err.Error()
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
