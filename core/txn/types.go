package txn

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Handle names one request the shell is holding open. The shell picks it
// (a counter is enough); every handle is answered exactly once, by a Reply
// in the Output of the call that took it or of a later Appended.
type Handle uint64

// Reply is a response to deliver to the request named by To. Msg is a kmsg
// response whose Version is the request's version.
type Reply struct {
	To  Handle
	Msg kmsg.Response
}

// Record is one record to append to the coordinator's __transaction_state
// partition, in Kafka's TransactionLog key and value formats (a nil Value
// is a tombstone). ID names it in the Appended call the shell makes once
// the record is durable, or once the append failed.
type Record struct {
	ID              uint64
	TransactionalID string
	Key             []byte
	Value           []byte
}

// TopicPartition names a partition of a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func compareTP(a, b TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// Markers is marker work: write a COMMIT or ABORT control batch with the
// producer id and epoch to every partition, stamped with the coordinator
// epoch (WriteTxnMarkers), then call MarkersWritten.
type Markers struct {
	TransactionalID  string
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32
	Partitions       []TopicPartition // sorted by topic, then partition
}

// Output is what one input decided. Records are to be appended in order;
// Replies and Markers may be acted on at once: this package changes its
// state only in Appended, after the record is durable, so nothing a reply
// or a marker reveals can be lost by a failover.
type Output struct {
	Records []Record
	Replies []Reply
	Markers []Markers
}

func (o *Output) reply(to Handle, msg kmsg.Response) {
	o.Replies = append(o.Replies, Reply{To: to, Msg: msg})
}

// State is a transaction's state, as Kafka's TransactionState; the values
// are the ids stored in the log.
type State int8

// The states of a transactional id.
const (
	Empty State = iota
	Ongoing
	PrepareCommit
	PrepareAbort
	CompleteCommit
	CompleteAbort
	Dead
	PrepareEpochFence
)

var stateNames = [...]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort",
	"CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// String is the state's name as DescribeTransactions and ListTransactions
// spell it.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int8(s))
	}
	return stateNames[s]
}

// ParseState maps a ListTransactions state filter to a State (Kafka
// compares names exactly).
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// ValidPrevious is Kafka's TransactionState.validPreviousStates: whether a
// transaction may move from one state to another.
func ValidPrevious(to, from State) bool {
	switch to {
	case Empty:
		return from == Empty || from == CompleteCommit || from == CompleteAbort
	case Ongoing:
		return from == Ongoing || from == Empty || from == CompleteCommit || from == CompleteAbort
	case PrepareCommit:
		return from == Ongoing
	case PrepareAbort:
		return from == Ongoing || from == PrepareEpochFence
	case CompleteCommit:
		return from == PrepareCommit
	case CompleteAbort:
		return from == PrepareAbort
	case Dead:
		return from == Empty || from == CompleteAbort || from == CompleteCommit
	case PrepareEpochFence:
		return from == Ongoing
	}
	return false
}

// expirable is Kafka's TransactionState.isExpirationAllowed.
func (s State) expirable() bool {
	return s == Empty || s == CompleteCommit || s == CompleteAbort
}

// Config holds the broker settings the coordinator obeys; DefaultConfig has
// Kafka's defaults.
type Config struct {
	// TimeoutMaxMs is transaction.max.timeout.ms.
	TimeoutMaxMs int32
	// IDExpirationMs is transactional.id.expiration.ms.
	IDExpirationMs int64
	// TransactionVersion is the finalized transaction.version feature
	// level: 0 writes TransactionLogValue v0, 1 and above v1 (flexible,
	// with the KIP-890 tagged fields).
	TransactionVersion int16
}

// DefaultConfig returns Kafka 4's defaults.
func DefaultConfig() Config {
	return Config{
		TimeoutMaxMs:       15 * 60 * 1000,
		IDExpirationMs:     7 * 24 * 60 * 60 * 1000,
		TransactionVersion: 2,
	}
}

// ProducerIDs supplies fresh producer ids. The broker's allocator (blocks
// reserved through Raft) satisfies it; Next may block while a new block is
// reserved. An error is answered to the client: a *kerr.Error as itself
// (COORDINATOR_LOAD_IN_PROGRESS while no block is ready), anything else as
// UNKNOWN_SERVER_ERROR.
type ProducerIDs interface {
	Next() (int64, error)
}

const (
	noProducerID    int64 = -1
	noProducerEpoch int16 = -1
	epochMax        int16 = 32767
)

// epochExhausted is Kafka's TransactionMetadata.isEpochExhausted: a client
// never gets epoch 32767, so the coordinator can always fence it.
func epochExhausted(e int16) bool { return e >= epochMax-1 }

// code maps a domain error to its Kafka error code at the edge.
func code(err error) int16 {
	if err == nil {
		return 0
	}
	if ke, ok := err.(*kerr.Error); ok {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

// fencedCode is PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH for the request
// versions that predate it (Kafka's KafkaApis does this mapping).
func fencedCode(err error, version, firstFenced int16) int16 {
	if err == kerr.ProducerFenced && version < firstFenced {
		return kerr.InvalidProducerEpoch.Code
	}
	return code(err)
}
