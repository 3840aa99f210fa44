package group

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Handle names one request the shell is holding open. It is opaque to this
// package: the shell picks it (a counter is enough), passes it with the
// request, and sends whatever Reply carries it back to that request's
// connection. A JoinGroup or SyncGroup may be answered in a later Output
// than the call that took it (the join phase waits for the other members,
// the followers' syncs wait for the leader). Every handle is answered
// exactly once, unless the Groups that took it is thrown away.
type Handle uint64

// Reply is a response to deliver to the request named by To. Msg is a kmsg
// response whose Version is the request's version, ready to encode.
type Reply struct {
	To  Handle
	Msg kmsg.Response
}

// Record is one record to append to the group's __consumer_offsets
// partition, in Kafka's own key and value formats. A nil Value is a
// tombstone.
//
// Txn is nil for a plain record. A record of a TxnOffsetCommit carries its
// producer: the shell appends each run of consecutive records with the
// same Txn as one batch, a transactional batch (attributes bit 4) with that
// producer id and epoch and base sequence -1 when Txn is set, as Kafka
// writes transactional offset commits.
type Record struct {
	Key   []byte
	Value []byte
	Txn   *Txn
}

// Txn names the producer, and its epoch, of a transaction's records.
type Txn struct {
	ProducerID    int64
	ProducerEpoch int16
}

// Output is what one input decided: records to append, then replies to send.
// The Records of one Output are appended as one batch, or as one batch per
// run of records with the same Txn (see Record).
//
// The contract (the same as etcd-io/raft's Ready): the shell appends the
// Records of every Output, in the order the Outputs were returned, and
// delivers an Output's Replies only once its Records and those of every
// earlier Output of the same partition are durable (committed to the
// partition's ISR). Replies of an Output without records still wait for
// the records of earlier Outputs, so no client ever sees state that a
// coordinator failover could lose. If an append fails, the shell throws the
// Groups away, answers the held handles with NOT_COORDINATOR, and rebuilds
// the state from the log with a Loader (Kafka resigns the coordinator).
type Output struct {
	Records []Record
	Replies []Reply
	// Rebalances counts the rebalances the input began (groups that
	// entered PreparingRebalance), for metrics.
	Rebalances int
}

func (o *Output) reply(to Handle, msg kmsg.Response) {
	o.Replies = append(o.Replies, Reply{To: to, Msg: msg})
}

func (o *Output) record(key, value []byte) {
	o.Records = append(o.Records, Record{Key: key, Value: value})
}

// merge appends p to o, as if one input had decided both.
func (o *Output) merge(p Output) {
	o.Records = append(o.Records, p.Records...)
	o.Replies = append(o.Replies, p.Replies...)
	o.Rebalances += p.Rebalances
}

// Client is what the shell knows about the connection a JoinGroup came on:
// the request header's client id and the peer's host.
type Client struct {
	ID   string
	Host string
}

// IDSource supplies the randomness in member ids. jio.Rand satisfies it;
// a seeded source makes member ids, and so whole runs, replay.
type IDSource interface {
	UUID() [16]byte
}

// memberID builds a member id the way Kafka does: the group instance id (or,
// for dynamic members, the client id), "-", and a random UUID in Java's
// textual form.
func memberID(ids IDSource, clientID string, instanceID *string) string {
	u := ids.UUID()
	u[6] = u[6]&0x0f | 0x40 // version 4, as java.util.UUID.randomUUID
	u[8] = u[8]&0x3f | 0x80 // IETF variant
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// State is a classic group's state, as Kafka's GroupState.
type State int8

// The states of a classic group.
const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

// String is the state's name as Kafka spells it in DescribeGroups and
// ListGroups.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int8(s))
	}
	return stateNames[s]
}

// ParseState maps a ListGroups state filter to a State. Kafka compares the
// names case-insensitively.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if strings.EqualFold(n, name) {
			return State(i), true
		}
	}
	return 0, false
}

// validPrevious is Kafka's GroupState.validPreviousStates.
func validPrevious(to, from State) bool {
	switch to {
	case Empty:
		return from == PreparingRebalance
	case PreparingRebalance:
		return from == Stable || from == CompletingRebalance || from == Empty
	case CompletingRebalance:
		return from == PreparingRebalance
	case Stable:
		return from == CompletingRebalance
	case Dead:
		return true
	}
	return false
}

// Config holds the broker settings the coordinator obeys. The broker reads
// them from its configuration and passes them in; DefaultConfig has Kafka's
// defaults.
type Config struct {
	// SessionTimeoutMinMs and SessionTimeoutMaxMs bound a member's session
	// timeout (group.min.session.timeout.ms, group.max.session.timeout.ms).
	SessionTimeoutMinMs int32
	SessionTimeoutMaxMs int32
	// InitialRebalanceDelayMs is group.initial.rebalance.delay.ms: how long
	// the first rebalance of an Empty group waits for more members.
	InitialRebalanceDelayMs int32
	// OffsetsRetentionMs is offsets.retention.minutes in milliseconds.
	OffsetsRetentionMs int64
	// GroupSizeMax is group.max.size; zero or less means no limit.
	GroupSizeMax int32
	// MetadataBytesMax is offset.metadata.max.bytes.
	MetadataBytesMax int
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SessionTimeoutMinMs:     6000,
		SessionTimeoutMaxMs:     1800000,
		InitialRebalanceDelayMs: 3000,
		OffsetsRetentionMs:      7 * 24 * 60 * 60 * 1000,
		GroupSizeMax:            0,
		MetadataBytesMax:        4096,
	}
}

// newMemberJoinTimeoutMs bounds how long a new member may wait in a join
// phase (Kafka's GroupCoordinator.NewMemberJoinTimeoutMs).
const newMemberJoinTimeoutMs = 5 * 60 * 1000

// code maps a domain error to its Kafka error code at the edge. Errors here
// are kerr values, so nil is success and the mapping cannot drift.
func code(err error) int16 {
	if err == nil {
		return 0
	}
	if ke, ok := err.(*kerr.Error); ok {
		return ke.Code
	}
	panic(fmt.Sprintf("group: error %v has no Kafka code", err))
}
