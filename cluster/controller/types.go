package controller

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
)

// BrokerInfo is what the controller knows about one registered broker when
// it decides. A broker absent from the list given to a function is treated
// as not registered: it can neither lead nor be in an ISR. IDs in a list are
// distinct (Place refuses a repeated ID; elsewhere the last entry counts).
type BrokerInfo struct {
	ID   int32
	Rack string // broker.rack; "" is a rack of its own
	// Fenced: its session with the controller expired, or it registered and
	// has not caught up yet. A fenced broker gets no replicas, does not
	// lead, and leaves every ISR where another member remains.
	Fenced bool
	// ShuttingDown: in controlled shutdown. It still replicates, but gets no
	// new replicas, loses leadership and leaves the ISRs as a fenced broker
	// does.
	ShuttingDown bool
	// Epoch is the broker epoch of its current registration (KIP-903,
	// cluster.Broker.Epoch: the registration's Raft index). AlterPartition
	// checks the requester's and the ISR members' epochs against it; 0
	// means not tracked, and nothing is checked.
	Epoch int64
	// LastHeartbeatMs is when the controller last heard from the broker.
	LastHeartbeatMs int64
}

// eligible reports whether the broker may lead, be in an ISR, or get a new
// replica.
func (b BrokerInfo) eligible() bool { return !b.Fenced && !b.ShuttingDown }

// brokerIndex finds brokers by ID.
type brokerIndex map[int32]BrokerInfo

func indexBrokers(brokers []BrokerInfo) brokerIndex {
	x := make(brokerIndex, len(brokers))
	for _, b := range brokers {
		x[b.ID] = b
	}
	return x
}

func (x brokerIndex) eligible(id int32) bool {
	b, ok := x[id]
	return ok && b.eligible()
}

// Policy holds the settings failover reads.
type Policy struct {
	// UncleanLeaderElection is the broker's unclean.leader.election.enable,
	// for topics that do not set it and when the cluster-wide dynamic
	// config does not either.
	UncleanLeaderElection bool
}

// uncleanConfig is the topic and broker config that allows unclean
// leader election.
const uncleanConfig = "unclean.leader.election.enable"

// UncleanAllowed resolves unclean.leader.election.enable for topic t: the
// topic's own config, then the cluster-wide dynamic broker config, then
// def. Booleans are read in any case, as Kafka's ConfigDef does.
func UncleanAllowed(st *cluster.State, t *cluster.Topic, def bool) bool {
	if t != nil {
		if v, ok := t.Configs[uncleanConfig]; ok {
			return strings.EqualFold(v, "true")
		}
	}
	if v, ok := st.BrokerConfigs[uncleanConfig]; ok {
		return strings.EqualFold(v, "true")
	}
	return def
}

// Error is a request the controller refuses: the Kafka error to answer
// with and a message for the response. errors.Is(err, kerr.X) matches it.
type Error struct {
	Code    *kerr.Error
	Message string
}

func (e *Error) Error() string { return e.Code.Message + ": " + e.Message }

// Unwrap returns the Kafka error.
func (e *Error) Unwrap() error { return e.Code }

func errorf(code *kerr.Error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// partition finds topic-partition in st.
func partition(st *cluster.State, topic string, index int32) (*cluster.Topic, cluster.Partition, error) {
	t, ok := st.Topic(topic)
	if !ok || index < 0 || int(index) >= len(t.Partitions) {
		return nil, cluster.Partition{}, errorf(kerr.UnknownTopicOrPartition, "no partition %s-%d", topic, index)
	}
	return t, t.Partitions[index], nil
}

// update returns the command that moves p to leader and isr, bumping the
// leader epoch if the leader changes, and false if nothing changes.
func update(topic string, p cluster.Partition, leader int32, isr []int32) (cluster.UpdatePartition, bool) {
	if leader == p.Leader && slices.Equal(isr, p.ISR) {
		return cluster.UpdatePartition{}, false
	}
	epoch := p.LeaderEpoch
	if leader != p.Leader {
		epoch++
	}
	return cluster.UpdatePartition{
		Topic:                  topic,
		Partition:              p.Index,
		Leader:                 leader,
		LeaderEpoch:            epoch,
		ISR:                    slices.Clone(isr),
		ExpectedPartitionEpoch: p.PartitionEpoch,
	}, true
}
