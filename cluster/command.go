package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// Command is one change to the cluster metadata; it travels in a Raft log
// entry as a 1-byte tag followed by the command's JSON. The set of commands
// is closed: only the types in this file implement Command.
type Command interface {
	commandTag() byte
}

// RegisterBroker adds a broker or replaces its registration. The state
// machine gives the registration a new broker epoch (the command's Raft
// index) and fences it; Broker.Epoch and Broker.Fenced are ignored.
type RegisterBroker struct{ Broker Broker }

// FenceBroker fences (or, with Fenced false, unfences) a broker's current
// registration; Epoch must be that registration's epoch.
type FenceBroker struct {
	ID     int32
	Epoch  int64
	Fenced bool
}

// CreateTopic creates a topic. Assignments holds the replicas of each
// partition, preferred leader first; the first replica becomes the leader
// with LeaderEpoch 0 and all replicas form the ISR.
type CreateTopic struct {
	Name        string
	ID          [16]byte
	Assignments [][]int32
	Configs     map[string]string
	Internal    bool
}

// DeleteTopic removes a topic.
type DeleteTopic struct{ Name string }

// CreatePartitions adds partitions to a topic; Assignments holds the
// replicas of the new partitions only.
type CreatePartitions struct {
	Topic       string
	Assignments [][]int32
}

// AlterTopicConfigs changes a topic's configs: with Replace the map becomes
// exactly Set; otherwise Set is merged in and Delete removed.
type AlterTopicConfigs struct {
	Topic   string
	Set     map[string]string
	Delete  []string
	Replace bool
}

// AlterBrokerConfigs changes the cluster-wide broker configs, as
// AlterTopicConfigs does a topic's.
type AlterBrokerConfigs struct {
	Set     map[string]string
	Delete  []string
	Replace bool
}

// UpdatePartition sets a partition's leader, leader epoch and ISR if its
// PartitionEpoch is still ExpectedPartitionEpoch (compare and set), and
// bumps PartitionEpoch. Leader is -1 or a member of ISR, ISR a subset of
// the replicas; LeaderEpoch may not go back, and must grow when the leader
// changes.
type UpdatePartition struct {
	Topic                  string
	Partition              int32
	Leader                 int32
	LeaderEpoch            int32
	ISR                    []int32
	ExpectedPartitionEpoch int32
}

// UnregisterBroker removes a fenced broker's registration (`jocko cluster
// remove-broker`, Kafka's UnregisterBroker). Partitions keep it among
// their replicas until they are reassigned; an unregistered broker leads
// nothing and joins no ISR.
type UnregisterBroker struct{ ID int32 }

// SetClusterID sets the cluster ID once; setting the same ID again is a
// no-op, a different one an error.
type SetClusterID struct{ ID string }

// AllocateProducerIDs reserves the next Count producer IDs for a broker;
// the block appears in State.ProducerIDBlocks[BrokerID].
type AllocateProducerIDs struct {
	BrokerID int32
	Count    int64
}

// UpdateFeatures sets finalized feature levels (KIP-584): a level of 0
// removes the feature. The broker validates the levels against what it
// supports; the state machine checks only their shape, and records the
// change's Raft index as the features epoch.
type UpdateFeatures struct {
	Levels map[string]int16
}

const (
	tagRegisterBroker byte = iota + 1
	tagCreateTopic
	tagDeleteTopic
	tagCreatePartitions
	tagAlterTopicConfigs
	tagAlterBrokerConfigs
	tagUpdatePartition
	tagSetClusterID
	tagAllocateProducerIDs
	tagFenceBroker
	tagReassignPartition
	tagUnregisterBroker
	tagUpdateFeatures
	tagAlterClientQuotas
)

func (RegisterBroker) commandTag() byte      { return tagRegisterBroker }
func (CreateTopic) commandTag() byte         { return tagCreateTopic }
func (DeleteTopic) commandTag() byte         { return tagDeleteTopic }
func (CreatePartitions) commandTag() byte    { return tagCreatePartitions }
func (AlterTopicConfigs) commandTag() byte   { return tagAlterTopicConfigs }
func (AlterBrokerConfigs) commandTag() byte  { return tagAlterBrokerConfigs }
func (UpdatePartition) commandTag() byte     { return tagUpdatePartition }
func (SetClusterID) commandTag() byte        { return tagSetClusterID }
func (AllocateProducerIDs) commandTag() byte { return tagAllocateProducerIDs }
func (FenceBroker) commandTag() byte         { return tagFenceBroker }
func (UnregisterBroker) commandTag() byte    { return tagUnregisterBroker }
func (UpdateFeatures) commandTag() byte      { return tagUpdateFeatures }

// commandBytesMax bounds an encoded command.
const commandBytesMax = 16 << 20

// newCommand returns a pointer to a zero command for tag, or nil.
func newCommand(tag byte) any {
	switch tag {
	case tagRegisterBroker:
		return new(RegisterBroker)
	case tagCreateTopic:
		return new(CreateTopic)
	case tagDeleteTopic:
		return new(DeleteTopic)
	case tagCreatePartitions:
		return new(CreatePartitions)
	case tagAlterTopicConfigs:
		return new(AlterTopicConfigs)
	case tagAlterBrokerConfigs:
		return new(AlterBrokerConfigs)
	case tagUpdatePartition:
		return new(UpdatePartition)
	case tagSetClusterID:
		return new(SetClusterID)
	case tagAllocateProducerIDs:
		return new(AllocateProducerIDs)
	case tagFenceBroker:
		return new(FenceBroker)
	case tagReassignPartition:
		return new(ReassignPartition)
	case tagUnregisterBroker:
		return new(UnregisterBroker)
	case tagUpdateFeatures:
		return new(UpdateFeatures)
	case tagAlterClientQuotas:
		return new(AlterClientQuotas)
	}
	return nil
}

// EncodeCommand returns the log entry bytes of cmd.
func EncodeCommand(cmd Command) ([]byte, error) {
	cmd, err := derefCommand(cmd)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("%w: encode %T: %v", ErrBadCommand, cmd, err)
	}
	if len(body)+1 > commandBytesMax {
		return nil, fmt.Errorf("%w: %T encodes to %d bytes, above %d", ErrBadCommand, cmd, len(body)+1, commandBytesMax)
	}
	return append([]byte{cmd.commandTag()}, body...), nil
}

// DecodeCommand parses log entry bytes. Anything that is not a command
// EncodeCommand could have produced is an error wrapping ErrBadCommand; it
// never panics. The result is a command value (not a pointer).
func DecodeCommand(b []byte) (Command, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty entry", ErrBadCommand)
	}
	if len(b) > commandBytesMax {
		return nil, fmt.Errorf("%w: %d bytes, above %d", ErrBadCommand, len(b), commandBytesMax)
	}
	ptr := newCommand(b[0])
	if ptr == nil {
		return nil, fmt.Errorf("%w: unknown command tag %d", ErrBadCommand, b[0])
	}
	if err := json.Unmarshal(b[1:], ptr); err != nil {
		return nil, fmt.Errorf("%w: tag %d: %v", ErrBadCommand, b[0], err)
	}
	return derefCommand(ptr)
}

// derefCommand turns *T into T for every command type T, so that callers
// may pass either; a nil pointer is an error.
func derefCommand(c any) (Command, error) {
	if v := reflect.ValueOf(c); v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, fmt.Errorf("%w: nil %T", ErrBadCommand, c)
		}
		c = v.Elem().Interface()
	}
	cmd, ok := c.(Command)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not a command", ErrBadCommand, c)
	}
	return cmd, nil
}

// Errors returned by ApplyCommand (and so by Node.Propose); the broker maps
// them to Kafka error codes.
var (
	ErrTopicExists       = errors.New("cluster: topic already exists")
	ErrUnknownTopic      = errors.New("cluster: unknown topic")
	ErrInvalidPartitions = errors.New("cluster: invalid partitions")
	ErrInvalidReplicas   = errors.New("cluster: invalid replica assignment")
	ErrStaleEpoch        = errors.New("cluster: stale epoch")
	ErrNotLeader         = errors.New("cluster: not the metadata leader")
	ErrBadCommand        = errors.New("cluster: bad command")
)

// errorNames names the errors above for the wire: a command forwarded to
// the controller comes back with its verdict's name.
var errorNames = map[string]error{
	"topic-exists": ErrTopicExists, "unknown-topic": ErrUnknownTopic,
	"invalid-partitions": ErrInvalidPartitions, "invalid-replicas": ErrInvalidReplicas,
	"stale-epoch": ErrStaleEpoch, "not-leader": ErrNotLeader, "bad-command": ErrBadCommand,
}

// ErrorName returns the wire name of err's cluster error ("" for nil, "other"
// for an error that is none of them).
func ErrorName(err error) string {
	if err == nil {
		return ""
	}
	for name, e := range errorNames {
		if errors.Is(err, e) {
			return name
		}
	}
	return "other"
}

// ErrorFromName rebuilds an error named by ErrorName, with its message.
func ErrorFromName(name, msg string) error {
	switch e, ok := errorNames[name]; {
	case name == "":
		return nil
	case ok:
		return fmt.Errorf("%w (%s)", e, msg)
	default:
		return errors.New(msg)
	}
}
