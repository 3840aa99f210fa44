// Package runner runs one simulated scenario for one seed: it builds the
// cluster on simnet and simfs, drives real franz-go clients against it,
// injects the seed's fault schedule, heals, reads everything back and runs
// the checkers. It is what the wasm program (sim/wasm) executes; it also runs
// natively (not deterministic there, but -race can see data races).
package runner

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jocko/jocko/sim/check"
	"github.com/twmb/franz-go/pkg/kgo"
)

// FaultKind names one entry of the fault menu.
type FaultKind string

// The fault menu.
const (
	ProcessCrash  FaultKind = "process-crash"  // kill the broker; page cache survives
	MachineCrash  FaultKind = "machine-crash"  // kill the machine; unsynced data dropped
	TornCrash     FaultKind = "torn-crash"     // kill the machine; unsynced data torn
	PartitionHold FaultKind = "partition-hold" // clients <-/-> broker, data held until heal
	PartitionDrop FaultKind = "partition-drop" // clients <-/-> broker, connections reset
	OneWay        FaultKind = "one-way"        // broker -> clients held only
	Loss          FaultKind = "loss"           // each delivery may reset its connection
	Pause         FaultKind = "pause"          // broker stopped as by SIGSTOP: traffic held, clock and disk calls blocked
	SyncFail      FaultKind = "sync-fail"      // fsyncs fail (EIO); healed by a restart
	WriteFail     FaultKind = "write-fail"     // writes fail (EIO); healed by a restart
	DiskFull      FaultKind = "disk-full"      // writes fail with ENOSPC until space is freed
	SlowDisk      FaultKind = "slow-disk"      // every disk operation takes milliseconds

	// Cluster faults (several brokers).
	BrokerPartition FaultKind = "broker-partition" // the target cut from the other brokers (clients still reach it)
	BrokerOneWay    FaultKind = "broker-one-way"   // the target's traffic to the other brokers held; theirs still arrives
	Bridge          FaultKind = "bridge"           // the other brokers split in two halves that only the target joins
	Isolate         FaultKind = "isolate"          // the target cut from everyone (brokers and clients)
	MinorityCrash   FaultKind = "minority-crash"   // the target and more brokers, a minority, crash (machine)
	CrashAll        FaultKind = "crash-all"        // every broker's machine crashes at once
	Rolling         FaultKind = "rolling-restart"  // each broker in turn restarts (process crash, start, wait until it serves)
	WipeDisk        FaultKind = "wipe-disk"        // the target crashes, loses its whole disk and restarts with the same ID
	// LaggingFollower cuts a follower of the workload's partition 0 off from
	// its leader (the target) long enough to leave the ISR, then crashes the
	// leader: the failover must not pick the lagging follower.
	LaggingFollower FaultKind = "lagging-follower"
	// Reassign moves a workload partition (AlterPartitionReassignments, as
	// `jocko topic reassign` sends it): one of its replicas, the leader as
	// likely as any, is replaced by a broker outside them. The move
	// completes on its own once the new replica is in sync; a draw while one
	// is in progress replaces it. Needs more brokers than replicas.
	Reassign FaultKind = "reassign"
	// SilentCrash kills the broker's process as a power cut does: no
	// reset reaches its peers, who find out by their timeouts; dials to
	// it time out. Its page cache survives (the disk as ProcessCrash).
	SilentCrash FaultKind = "silent-crash"
	// SwizzleClog stops the broker's links (to brokers and clients, both
	// ways) one by one, then restores them one by one in another order
	// (FoundationDB's swizzle-clogging).
	SwizzleClog FaultKind = "swizzle-clog"
	// DelaySpike adds a delay of 20-300 ms to every one of the broker's
	// links, both ways.
	DelaySpike FaultKind = "delay-spike"
	// ReadFail makes the broker's disk reads fail (EIO) with probability
	// 0.2 until healed by a restart.
	ReadFail FaultKind = "read-fail"
	// ClockJump steps the broker's wall clock by -10 s to +10 s (NTP
	// stepping it), and back when healed.
	ClockJump FaultKind = "clock-jump"
	// BitFlip flips one bit of one synced byte of one of the broker's
	// partition segment files (simfs Disk.FlipSyncedBit), as silent media
	// corruption does: reads return it and it survives crashes. Healing
	// does nothing; the broker has to find and repair it.
	BitFlip FaultKind = "bit-flip"
)

// Target says which broker a fault hits.
type Target uint8

// Targets.
const (
	AnyBroker  Target = iota // a broker drawn at random
	Leader                   // the leader of the workload topic's partition 0
	Controller               // the metadata Raft leader
)

// Fault is one menu entry: how likely it is and how long it lasts.
type Fault struct {
	Kind   FaultKind
	Target Target
	Weight int
	// Min and Max bound how long the fault lasts before it is healed (for a
	// crash: the downtime before restart).
	Min, Max time.Duration
}

// Scenario is a named run shape: cluster, workload, fault menu, durations
// and the invariants that must hold. Scenarios are data (see scenarios/).
type Scenario struct {
	Name        string
	Description string
	Brokers     int   // cluster size; the workload topic's replication factor is min(3, Brokers)
	Partitions  int32 // partitions of the workload topic
	Producers   int   // idempotent acks=all producer clients
	Consumers   int   // consumer clients reading every partition
	// GroupMembers are franz-go group consumers (kgo.ConsumerGroup,
	// cooperative-sticky, autocommit) sharing one group; 0: none.
	GroupMembers int
	// GroupSession is the members' session timeout (rebalance timeout alike);
	// the heartbeat interval is a tenth of it.
	GroupSession time.Duration
	// GroupChurn, when set, closes a random member and starts a new one
	// every GroupChurn[0]..GroupChurn[1] during the fault phase.
	GroupChurn [2]time.Duration
	// TxnProducers are franz-go transactional producers (a transactional
	// id each) writing 1-4 records per transaction to the "txn" topic,
	// committing or aborting; TxnConsumers read it read_committed. The
	// final read reads it read_committed to its stable end, and
	// check.Transactions judges the history. 0: none.
	TxnProducers, TxnConsumers int
	// TxnPipeline runs a consume-transform-produce pipeline (franz-go's
	// GroupTransactSession) copying the workload topic to "eos-out";
	// check.ExactlyOnce judges its output against the input's final read
	// and the group's committed offsets.
	TxnPipeline bool
	SendEvery   time.Duration
	InFlightMax int // outstanding sends per producer

	Faults []Fault
	// Overlap is how many faults may be active at once, on the same
	// broker or on several (0 or 1: one at a time; a fault due while
	// Overlap are active waits for one to heal).
	Overlap    int
	FaultGap   [2]time.Duration // quiet time between faults, drawn in [min, max]
	Duration   time.Duration    // workload + faults
	Quiet      time.Duration    // after healing: workload continues, no faults
	FinalRead  time.Duration    // limit for the final full read
	TimeLimit  time.Duration    // virtual-time limit of the whole run
	Progress   bool             // some send must succeed after the heal
	Linearize  bool             // run porcupine on the observer's history
	DiskBytes  int64            // disk capacity (0: unlimited) outside DiskFull
	SegmentMax int              // storage segment size (small: more rolls)
	// BrokerSettings are broker settings (Kafka names) over the
	// simulator's defaults, for every broker.
	BrokerSettings map[string]string
	// SyncLatency bounds how long each fsync takes; crashes can land inside.
	SyncLatency [2]time.Duration
	// RaftTimeout is the metadata Raft's heartbeat and election timeout
	// (0: the broker's default).
	RaftTimeout time.Duration
	// ClockSkew and ClockDriftPPM bound each broker's wall clock: off by
	// a constant within ±ClockSkew and running fast or slow by up to
	// ClockDriftPPM parts per million (runner/clock.go). Zero: exact.
	ClockSkew     time.Duration
	ClockDriftPPM int64
	// ClientLinger is the producers' linger; FetchWait the consumers'
	// fetch max wait (0: 500 ms).
	ClientLinger, FetchWait time.Duration
	// SkipClientCRC makes the readers of the workload topic (consumers,
	// the final read, the observer, group members) skip franz-go's batch
	// CRC check (kgo.DisableFetchCRCValidation): a corrupt batch a broker
	// serves then reaches the checkers (check.CorruptReads) instead of
	// being refused by the client, which would hide the broker's bug.
	SkipClientCRC bool
}

// readOpts are the options of every client reading the workload topic.
func (sc Scenario) readOpts() []kgo.Opt {
	if sc.SkipClientCRC {
		return []kgo.Opt{kgo.DisableFetchCRCValidation()}
	}
	return nil
}

// fetchWait is the consumers' fetch max wait.
func (sc Scenario) fetchWait() time.Duration {
	if sc.FetchWait > 0 {
		return sc.FetchWait
	}
	return 500 * time.Millisecond
}

// Options are per-run switches.
type Options struct {
	Seed uint64
	// Bugs names deliberately broken variants: ack-before-fsync,
	// skip-torn-tail, reuse-offset, lying-fsync, forget-commits.
	Bugs []string
	// NoSwarm runs the scenario as written: its whole fault menu and its
	// settings, instead of the seed's swarm variant (see Swarm).
	NoSwarm bool
	// Schedule, when Schedule.Replay, is run instead of faults drawn from
	// the seed (see Step); everything else still comes from the seed.
	Schedule Schedule
	// Trim shrinks the scenario (the shrinker's smaller runs), after the
	// swarm draw.
	Trim Trim
	// Trace receives the text trace in a native run (nil: none). Under the
	// simulator the host receives every event and log line and decides.
	Trace interface{ Write([]byte) (int, error) }
}

// Trim overrides parts of a scenario: the shrinker's knobs. A negative
// count or a zero duration leaves the scenario's own.
type Trim struct {
	Producers, Consumers, TxnProducers, GroupMembers int
	Duration                                         time.Duration
}

// NoTrim changes nothing.
var NoTrim = Trim{Producers: -1, Consumers: -1, TxnProducers: -1, GroupMembers: -1}

// ParseTrim reads the -trim argument: "producers=N,consumers=N,
// txn-producers=N,group-members=N,duration=D", any subset ("": none).
func ParseTrim(s string) (Trim, error) {
	t := NoTrim
	if s == "" {
		return t, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return t, fmt.Errorf("trim: %q is not key=value", kv)
		}
		var err error
		switch k {
		case "producers":
			t.Producers, err = strconv.Atoi(v)
		case "consumers":
			t.Consumers, err = strconv.Atoi(v)
		case "txn-producers":
			t.TxnProducers, err = strconv.Atoi(v)
		case "group-members":
			t.GroupMembers, err = strconv.Atoi(v)
		case "duration":
			t.Duration, err = time.ParseDuration(v)
		default:
			return t, fmt.Errorf("trim: unknown knob %q (producers, consumers, txn-producers, group-members, duration)", k)
		}
		if err != nil {
			return t, fmt.Errorf("trim %s: %w", k, err)
		}
	}
	return t, nil
}

// apply returns sc trimmed.
func (t Trim) apply(sc Scenario) Scenario {
	if t.Producers >= 0 {
		sc.Producers = t.Producers
	}
	if t.Consumers >= 0 {
		sc.Consumers = t.Consumers
	}
	if t.TxnProducers >= 0 {
		sc.TxnProducers = t.TxnProducers
		sc.TxnConsumers = min(sc.TxnConsumers, t.TxnProducers)
	}
	if t.GroupMembers >= 0 {
		sc.GroupMembers = t.GroupMembers
	}
	if t.Duration > 0 {
		sc.Duration = t.Duration
	}
	return sc
}

// Stats counts what the workload did.
type Stats struct {
	Sends     int `json:"sends"`
	Acked     int `json:"acked"`
	Failed    int `json:"failed"`
	Polled    int `json:"polled"`
	Consumed  int `json:"group_consumed,omitempty"`
	Commits   int `json:"group_commits,omitempty"`
	Rebalance int `json:"group_assignments,omitempty"`
	Samples   int `json:"samples"`
	Observed  int `json:"observed"`
	Faults    int `json:"faults"`
	FinalRead int `json:"final_read"`
	Txns      int `json:"txns,omitempty"`     // transactions ended (any outcome)
	TxnOK     int `json:"txns_ok,omitempty"`  // of them, EndTransaction succeeded
	TxnRead   int `json:"txn_read,omitempty"` // records read read_committed (final read included)
}

// Result is the machine-readable outcome of one run.
type Result struct {
	Seed       uint64            `json:"seed"`
	Scenario   string            `json:"scenario"`
	Bugs       []string          `json:"bugs,omitempty"`
	Hash       string            `json:"hash"`
	Swarm      []string          `json:"swarm,omitempty"` // the drawn variant (Swarm)
	OK         bool              `json:"ok"`
	Violations []check.Violation `json:"violations"`
	VirtualMs  int64             `json:"virtual_ms"`
	Events     uint64            `json:"events"`
	Stats      Stats             `json:"stats"`
	// Porcupine is porcupine's input for the partitions found not
	// linearizable (check.LinearizableInput): the host draws it
	// (check.Visualize), since the program writes no files. It is part of
	// every run's result alike, after the hash, so it cannot change the run.
	Porcupine []check.LinOp `json:"porcupine,omitempty"`
	// Schedule is the faults the nemesis executed (see Step): written to a
	// file by the host and replayed with -schedule.
	Schedule []Step `json:"schedule"`
	// What the run left behind, read after it ended: live goroutines
	// (frozen ones of crashed incarnations included) and the live heap.
	Goroutines int    `json:"goroutines"`
	HeapBytes  uint64 `json:"heap_bytes"`
}
