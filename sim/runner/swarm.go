package runner

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012): each seed
// runs its own variant of a scenario. It keeps a random subset of the
// fault menu, so that a fault is sometimes absent and the others get the
// whole run (one fault masking another hides bugs), and it draws the
// settings that shape timing: segment and index sizes, flush.messages,
// the broker session and replica lag, the metadata Raft's timeouts, fetch
// waits and the clients' linger and fetch wait. The draw depends on the
// seed alone, is printed with the run line and goes into the hash.

// swarmSalt separates the swarm's random stream from every other one
// derived from the seed.
const swarmSalt = 0x5377_61726d_0001

// Swarm returns seed's variant of sc and the drawn settings as name=value
// pairs in a fixed order. A scenario without faults keeps its (empty)
// menu; settings the scenario sets itself (BrokerSettings) are kept.
func Swarm(sc Scenario, seed uint64) (Scenario, []string) {
	rng := rand.New(rand.NewPCG(splitmix(seed^swarmSalt), swarmSalt))
	pick := func(vals ...int) int { return vals[rng.IntN(len(vals))] }
	var drawn []string
	note := func(name string, v any) {
		var s string
		switch v := v.(type) {
		case int:
			s = strconv.Itoa(v)
		case time.Duration:
			s = v.String()
		case string:
			s = v
		}
		drawn = append(drawn, name+"="+s)
	}

	if len(sc.Faults) > 0 {
		var kept []Fault
		for _, f := range sc.Faults {
			if rng.IntN(2) == 0 {
				kept = append(kept, f)
			}
		}
		if len(kept) == 0 {
			kept = []Fault{sc.Faults[rng.IntN(len(sc.Faults))]}
		}
		sc.Faults = kept
		names := make([]string, len(kept))
		for i, f := range kept {
			names[i] = string(f.Kind)
		}
		note("faults", strings.Join(names, "+"))
	}

	settings := map[string]string{}
	for k, v := range sc.BrokerSettings {
		settings[k] = v
	}
	set := func(name string, v int) {
		if _, ok := sc.BrokerSettings[name]; ok {
			return // the scenario's own
		}
		settings[name] = strconv.Itoa(v)
		note(name, v)
	}
	if _, ok := sc.BrokerSettings["log.segment.bytes"]; !ok {
		sc.SegmentMax = pick(8<<10, 32<<10, 256<<10)
		note("log.segment.bytes", sc.SegmentMax)
	}
	set("log.index.interval.bytes", pick(256, 4096))
	// flush.messages above 1 answers acks=all before the fsync (Kafka's
	// page-cache durability): only where no machine loses its page cache.
	if !slices.ContainsFunc(sc.Faults, func(f Fault) bool { return machineFault[f.Kind] }) {
		set("log.flush.interval.messages", pick(1, 1, 10))
	}
	if sc.Brokers > 1 {
		session := pick(2000, 3000, 5000)
		set("broker.session.timeout.ms", session)
		set("broker.heartbeat.interval.ms", session/6)
		set("replica.lag.time.max.ms", pick(1500, 3000, 6000))
		set("replica.fetch.wait.max.ms", pick(100, 500))
		sc.RaftTimeout = time.Duration(pick(300, 500, 1000)) * time.Millisecond
		note("raft.timeout", sc.RaftTimeout)
	}
	sc.BrokerSettings = settings
	sc.ClientLinger = time.Duration(pick(0, 2, 10)) * time.Millisecond
	note("client.linger", sc.ClientLinger)
	sc.FetchWait = time.Duration(pick(100, 500, 1000)) * time.Millisecond
	note("client.fetch.wait", sc.FetchWait)
	if sc.Brokers > 1 && sc.Overlap == 0 && len(sc.Faults) > 1 {
		// Several faults at once, on one broker or several (attrition).
		sc.Overlap = pick(1, 1, 2, 3)
		note("overlap", sc.Overlap)
	}
	if sc.Brokers > 1 && sc.ClockSkew == 0 && sc.ClockDriftPPM == 0 {
		// The brokers' wall clocks disagree (each drawn within the bounds).
		sc.ClockSkew = time.Duration(pick(0, 0, 500, 3000)) * time.Millisecond
		sc.ClockDriftPPM = int64(pick(0, 100, 1000))
		note("clock.skew", sc.ClockSkew)
		note("clock.drift.ppm", int(sc.ClockDriftPPM))
	}
	return sc, drawn
}

// machineFault are the faults that lose a machine's page cache.
var machineFault = map[FaultKind]bool{
	MachineCrash: true, TornCrash: true, CrashAll: true, MinorityCrash: true,
}
