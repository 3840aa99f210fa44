// Package scenarios names the simulator's scenarios. Each is data: a cluster
// shape, a workload, a fault menu, durations and the invariants to hold. Run
// one with `go test ./sim -run TestSim -scenario=NAME -seed=S -v`.
package scenarios

import (
	"sort"
	"time"

	"github.com/jocko/jocko/sim/runner"
)

const ms = time.Millisecond

// base is the shape every single-broker scenario starts from.
var base = runner.Scenario{
	Brokers:     1,
	Partitions:  2,
	Producers:   2,
	Consumers:   1,
	SendEvery:   40 * ms,
	InFlightMax: 8,
	FaultGap:    [2]time.Duration{500 * ms, 3 * time.Second},
	Duration:    15 * time.Second,
	Quiet:       4 * time.Second,
	FinalRead:   20 * time.Second,
	TimeLimit:   150 * time.Second,
	Progress:    true,
	Linearize:   true,
	SegmentMax:  32 << 10,
	SyncLatency: [2]time.Duration{200 * time.Microsecond, 4 * ms},
}

func with(name, desc string, faults ...runner.Fault) runner.Scenario {
	s := base
	s.Name, s.Description, s.Faults = name, desc, faults
	return s
}

var all = []runner.Scenario{
	with("smoke", "single broker, no faults: the workload and checkers alone"),
	clusterOf(runner.Scenario{Name: "cluster-smoke", Brokers: 3,
		Description: "three brokers (all metadata voters), RF=3, min.insync.replicas=2, no faults"}),
	clusterOf(runner.Scenario{Name: "cluster-crash", Brokers: 3,
		Description: "three brokers, RF=3: the leader, the controller, a minority or every machine crashes; rolling restarts",
		Faults: []runner.Fault{
			{Kind: runner.ProcessCrash, Target: runner.Leader, Weight: 3, Min: 50 * ms, Max: 4 * time.Second},
			{Kind: runner.MachineCrash, Target: runner.Controller, Weight: 2, Min: 50 * ms, Max: 4 * time.Second},
			{Kind: runner.TornCrash, Weight: 1, Min: 50 * ms, Max: 2 * time.Second},
			{Kind: runner.MinorityCrash, Weight: 1, Min: 500 * ms, Max: 3 * time.Second},
			{Kind: runner.CrashAll, Weight: 1, Min: 50 * ms, Max: 2 * time.Second},
			{Kind: runner.Rolling, Weight: 1},
			{Kind: runner.SilentCrash, Target: runner.Leader, Weight: 2, Min: 50 * ms, Max: 4 * time.Second},
			{Kind: runner.ClockJump, Weight: 1, Min: time.Second, Max: 5 * time.Second},
		}}),
	clusterOf(runner.Scenario{Name: "cluster-partition", Brokers: 3,
		Description: "three brokers, RF=3: the leader isolated, the controller cut from the brokers, one-way links, a bridge, " +
			"the leader or the controller paused (SIGSTOP: its timers stop too)",
		Faults: []runner.Fault{
			{Kind: runner.Isolate, Target: runner.Leader, Weight: 2, Min: time.Second, Max: 6 * time.Second},
			{Kind: runner.BrokerPartition, Target: runner.Controller, Weight: 2, Min: time.Second, Max: 6 * time.Second},
			{Kind: runner.BrokerOneWay, Target: runner.Leader, Weight: 2, Min: 2 * time.Second, Max: 6 * time.Second},
			{Kind: runner.BrokerPartition, Target: runner.Leader, Weight: 2, Min: 2 * time.Second, Max: 6 * time.Second},
			{Kind: runner.LaggingFollower, Target: runner.Leader, Weight: 2, Min: time.Second, Max: 2 * time.Second},
			{Kind: runner.Bridge, Weight: 1, Min: time.Second, Max: 5 * time.Second},
			{Kind: runner.PartitionDrop, Target: runner.Leader, Weight: 1, Min: 500 * ms, Max: 3 * time.Second},
			{Kind: runner.SwizzleClog, Target: runner.Leader, Weight: 2, Min: 500 * ms, Max: 4 * time.Second},
			{Kind: runner.DelaySpike, Weight: 1, Min: 500 * ms, Max: 3 * time.Second},
			{Kind: runner.Pause, Target: runner.Leader, Weight: 2, Min: time.Second, Max: 6 * time.Second},
			{Kind: runner.Pause, Target: runner.Controller, Weight: 1, Min: time.Second, Max: 6 * time.Second},
		}}),
	clusterOf(runner.Scenario{Name: "cluster-5", Brokers: 5,
		Description: "five brokers (five voters), RF=3: crashes of leaders and minorities, partitions, a slow disk, " +
			"replicas moved by AlterPartitionReassignments",
		Faults: []runner.Fault{
			{Kind: runner.Reassign, Weight: 3},
			{Kind: runner.ProcessCrash, Target: runner.Leader, Weight: 2, Min: 50 * ms, Max: 4 * time.Second},
			{Kind: runner.MinorityCrash, Weight: 1, Min: 500 * ms, Max: 3 * time.Second},
			{Kind: runner.Isolate, Target: runner.Controller, Weight: 1, Min: time.Second, Max: 5 * time.Second},
			{Kind: runner.SlowDisk, Weight: 1, Min: time.Second, Max: 5 * time.Second},
		}}),
	clusterOf(runner.Scenario{Name: "cluster-wipe", Brokers: 3,
		Description: "three brokers, RF=3: a broker's disk is wiped while it is down and it returns with the same ID",
		Faults: []runner.Fault{
			{Kind: runner.WipeDisk, Weight: 1, Min: 500 * ms, Max: 3 * time.Second},
			{Kind: runner.ProcessCrash, Target: runner.Leader, Weight: 1, Min: 50 * ms, Max: 2 * time.Second},
		}}),
	bitflip(clusterOf(runner.Scenario{Name: "cluster-bitflip", Brokers: 3,
		Description: "three brokers, RF=3: bits flip in the synced segment bytes of one broker at a time " +
			"(leaders included), with process crashes; reads and the background scrub must find every flip, " +
			"the replica repair itself from the leader, and no corrupt record reach a client (the clients " +
			"do not check CRCs themselves)",
		Faults: []runner.Fault{
			{Kind: runner.BitFlip, Target: runner.Leader, Weight: 3, Min: 200 * ms, Max: 1500 * ms},
			{Kind: runner.BitFlip, Weight: 3, Min: 200 * ms, Max: 1500 * ms},
			{Kind: runner.BitFlip, Target: runner.Controller, Weight: 2, Min: 200 * ms, Max: 1500 * ms},
			{Kind: runner.ProcessCrash, Target: runner.Leader, Weight: 1, Min: 50 * ms, Max: 2 * time.Second},
			{Kind: runner.ProcessCrash, Weight: 1, Min: 50 * ms, Max: 2 * time.Second},
		}})),
	clusterOf(runner.Scenario{Name: "cluster-100", Brokers: 100, Partitions: 100, Duration: 15 * time.Second,
		Description: "a hundred brokers (five voters, the rest observers pulling the metadata), 100 partitions at RF=3: " +
			"brokers crash and restart; the cluster must converge (make sim-long)",
		BrokerSettings: map[string]string{"replica.fetch.wait.max.ms": "5000"},
		Faults: []runner.Fault{
			{Kind: runner.ProcessCrash, Weight: 3, Min: 50 * ms, Max: 3 * time.Second},
			{Kind: runner.ProcessCrash, Target: runner.Leader, Weight: 1, Min: 50 * ms, Max: 3 * time.Second},
			{Kind: runner.MachineCrash, Target: runner.Controller, Weight: 1, Min: 50 * ms, Max: 3 * time.Second},
		}}),
	crashLoop100(),
	with("single-crash", "single broker, process crashes (page cache survives) and client partitions",
		runner.Fault{Kind: runner.ProcessCrash, Weight: 4, Min: 50 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.PartitionHold, Weight: 1, Min: 100 * ms, Max: 3 * time.Second},
		runner.Fault{Kind: runner.PartitionDrop, Weight: 1, Min: 100 * ms, Max: 3 * time.Second},
		runner.Fault{Kind: runner.OneWay, Weight: 1, Min: 100 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.Loss, Weight: 1, Min: 500 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.SilentCrash, Weight: 1, Min: 50 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.DelaySpike, Weight: 1, Min: 500 * ms, Max: 2 * time.Second}),
	with("single-machine-crash", "single broker, machine crashes: unsynced data dropped or torn",
		runner.Fault{Kind: runner.MachineCrash, Weight: 2, Min: 50 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.TornCrash, Weight: 3, Min: 50 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.ProcessCrash, Weight: 1, Min: 50 * ms, Max: time.Second}),
	with("disk-full", "single broker, the disk fills up and is freed again",
		runner.Fault{Kind: runner.DiskFull, Weight: 3, Min: 500 * ms, Max: 4 * time.Second},
		runner.Fault{Kind: runner.ProcessCrash, Weight: 1, Min: 50 * ms, Max: time.Second}),
	with("slow-disk", "single broker, slow fsyncs and writes, with process crashes",
		runner.Fault{Kind: runner.SlowDisk, Weight: 3, Min: time.Second, Max: 5 * time.Second},
		runner.Fault{Kind: runner.ProcessCrash, Weight: 1, Min: 50 * ms, Max: time.Second}),
	with("disk-errors", "single broker, fsync, write and read failures (EIO), healed by a restart",
		runner.Fault{Kind: runner.SyncFail, Weight: 1, Min: 200 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.WriteFail, Weight: 1, Min: 200 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.ReadFail, Weight: 1, Min: 200 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.TornCrash, Weight: 1, Min: 50 * ms, Max: time.Second}),
	diskPercent("disk-percent", "single broker on a small disk that the producers overfill many times: "+
		"log.retention.disk.percent=50 must keep it under half, produce must never stall, and every record left must read back",
		runner.Fault{Kind: runner.ProcessCrash, Weight: 1, Min: 50 * ms, Max: time.Second}),
	crashLoop("crash-loop", "single broker crashed and restarted about once a second for five virtual minutes: "+
		"what crashed incarnations leave behind (make sim-long)",
		runner.Fault{Kind: runner.ProcessCrash, Weight: 2, Min: 20 * ms, Max: 300 * ms},
		runner.Fault{Kind: runner.MachineCrash, Weight: 1, Min: 20 * ms, Max: 300 * ms}),
	txn(with("txn-crash", "single broker, two franz-go transactional producers committing and aborting, "+
		"a read_committed consumer, while the broker process and machine crash",
		runner.Fault{Kind: runner.ProcessCrash, Weight: 2, Min: 50 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.MachineCrash, Weight: 1, Min: 50 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.PartitionDrop, Weight: 1, Min: 100 * ms, Max: 2 * time.Second})),
	txn(clusterOf(runner.Scenario{Name: "txn-cluster", Brokers: 3,
		Description: "three brokers, RF=3: transactional producers and a read_committed consumer while leaders " +
			"(of data and of __transaction_state alike), the controller or a minority crash, or a leader is isolated",
		Faults: []runner.Fault{
			{Kind: runner.ProcessCrash, Weight: 3, Min: 50 * ms, Max: 3 * time.Second},
			{Kind: runner.ProcessCrash, Target: runner.Leader, Weight: 2, Min: 50 * ms, Max: 3 * time.Second},
			{Kind: runner.MachineCrash, Target: runner.Controller, Weight: 1, Min: 50 * ms, Max: 3 * time.Second},
			{Kind: runner.Isolate, Target: runner.Leader, Weight: 1, Min: time.Second, Max: 4 * time.Second},
			{Kind: runner.SilentCrash, Weight: 1, Min: 50 * ms, Max: 3 * time.Second},
			{Kind: runner.ClockJump, Weight: 1, Min: time.Second, Max: 5 * time.Second},
		}})),
	group("group-crash", "single broker, three franz-go group consumers (cooperative-sticky, autocommit) "+
		"while the broker process and machine crash and restart",
		runner.Fault{Kind: runner.ProcessCrash, Weight: 2, Min: 50 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.MachineCrash, Weight: 1, Min: 50 * ms, Max: 2 * time.Second},
		runner.Fault{Kind: runner.TornCrash, Weight: 1, Min: 50 * ms, Max: 2 * time.Second}),
}

// txn is a transactions scenario: two transactional producers and a
// read_committed consumer on a topic of their own, and a
// consume-transform-produce pipeline copying the queue workload's topic
// exactly once.
func txn(s runner.Scenario) runner.Scenario {
	s.TxnProducers = 2
	s.TxnConsumers = 1
	s.TxnPipeline = true
	s.Producers = 1
	s.Linearize = false
	return s
}

// group is a consumer-group scenario: the queue workload's producers, no
// partition-reading consumer or observer, and group members instead.
func group(name, desc string, faults ...runner.Fault) runner.Scenario {
	s := with(name, desc, faults...)
	s.Partitions = 4
	s.Consumers = 0
	s.Linearize = false
	s.GroupMembers = 3
	s.GroupSession = 6 * time.Second
	s.GroupChurn = [2]time.Duration{3 * time.Second, 6 * time.Second}
	return s
}

// Default lists the scenarios `go test ./sim` runs when none is named.
var Default = []string{"single-crash", "single-machine-crash", "disk-full", "slow-disk", "group-crash",
	"cluster-crash", "cluster-partition", "cluster-5", "cluster-wipe", "disk-percent", "txn-cluster", "cluster-bitflip"}

// Get returns the scenario called name.
func Get(name string) (runner.Scenario, bool) {
	for _, s := range all {
		if s.Name == name {
			return s, true
		}
	}
	return runner.Scenario{}, false
}

// Names lists every scenario, sorted.
func Names() []string {
	var out []string
	for _, s := range all {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// diskPercent is a disk-budget run (sim/runner/disk_budget.go): a disk of
// 128 KiB, half of it the budget, 4 KiB segments, and producers sending
// every 8 ms for 10 s, which write the disk's capacity over again.
// Linearizability is not checked: retention moves the log start under the
// model's reads.
func diskPercent(name, desc string, faults ...runner.Fault) runner.Scenario {
	s := with(name, desc, faults...)
	s.SendEvery = 8 * ms
	s.InFlightMax = 16
	s.Duration = 10 * time.Second
	s.SegmentMax = 4 << 10
	s.DiskBytes = 128 << 10
	s.Linearize = false
	s.BrokerSettings = map[string]string{
		"log.segment.bytes":               "4096", // retention deletes whole segments: small ones, pinned against the swarm's draw
		"log.retention.disk.percent":      "50",
		"log.retention.check.interval.ms": "100",
		"log.disk.free.min.bytes":         "16384", // the disk-full reserve, far below what retention keeps free
	}
	return s
}

// crashLoop is a long run of frequent crashes, for what dead incarnations
// cost (SIMULATION.md, "Crashed nodes").
func crashLoop(name, desc string, faults ...runner.Fault) runner.Scenario {
	s := with(name, desc, faults...)
	s.FaultGap = [2]time.Duration{100 * ms, 900 * ms}
	s.Duration = 300 * time.Second
	s.TimeLimit = 900 * time.Second
	s.Linearize = false
	return s
}

// crashLoop100 is cluster-100 run for five virtual minutes with a crash
// (or two, overlapping) every half second: the memory a long run with
// hundreds of dead incarnations across a hundred brokers leaves behind
// (make sim-long; SIMULATION.md, Isolation of crashed nodes).
func crashLoop100() runner.Scenario {
	s := clusterOf(runner.Scenario{Name: "cluster-100-crash-loop", Brokers: 100, Partitions: 100, Duration: 300 * time.Second,
		Description: "cluster-100 for five virtual minutes, brokers, leaders and the controller crashed about twice a second: " +
			"what hundreds of dead incarnations cost (make sim-long)",
		BrokerSettings: map[string]string{"replica.fetch.wait.max.ms": "5000"},
		Faults: []runner.Fault{
			{Kind: runner.ProcessCrash, Weight: 3, Min: 50 * ms, Max: time.Second},
			{Kind: runner.ProcessCrash, Target: runner.Leader, Weight: 1, Min: 50 * ms, Max: time.Second},
			{Kind: runner.MachineCrash, Target: runner.Controller, Weight: 1, Min: 50 * ms, Max: time.Second},
		}})
	s.FaultGap = [2]time.Duration{100 * ms, 900 * ms}
	s.TimeLimit = 900 * time.Second
	s.Linearize = false
	return s
}

// bitflip is a silent-corruption scenario: small segments, pinned against
// the swarm's draw, so that most data sits in sealed segments that only the
// scrub reads again; a scrub that passes over every log within a few
// virtual seconds; and readers that skip franz-go's CRC check, so that a
// corrupt record a broker serves reaches check.CorruptReads. The fault
// menu lists bit-flip three times (three targets) so that the swarm keeps
// at least one on most seeds.
func bitflip(s runner.Scenario) runner.Scenario {
	s.SegmentMax = 4 << 10
	s.BrokerSettings = map[string]string{
		"log.segment.bytes":          "4096",
		"log.scrub.bytes.per.second": "1048576",
	}
	s.SkipClientCRC = true
	return s
}

// clusterOf is a multi-broker scenario: what s sets (its name, broker
// count, faults, ...) over base. The workload topic has replication factor
// min(3, Brokers) and min.insync.replicas 2.
func clusterOf(s runner.Scenario) runner.Scenario {
	out := with(s.Name, s.Description, s.Faults...)
	out.Brokers = s.Brokers
	out.BrokerSettings = s.BrokerSettings
	if s.Partitions > 0 {
		out.Partitions = s.Partitions
	}
	out.TimeLimit = 300 * time.Second
	if s.Duration > 0 {
		out.Duration = s.Duration
	}
	return out
}
