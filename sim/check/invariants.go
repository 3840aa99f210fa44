package check

import (
	"fmt"
	"sort"
)

// PartitionSample is one broker's view of one of its partitions at one
// moment (core.Broker.Inspect), for the in-run invariants.
type PartitionSample struct {
	Topic      string
	Partition  int32
	LogStart   int64
	HW         int64
	DurableEnd int64
	LogEnd     int64
	Durable    bool // acknowledges fsynced data only (flush.messages <= 1)
}

// Monitor asserts invariants while the run goes, from samples of every live
// broker's partitions and from every offset a client saw. Unlike the
// checkers, which judge the history at the end, it reports a violation at
// the moment it is seen (the caller stamps the virtual time).
//
//   - hw-above-end: a partition's high watermark above its log end.
//   - hw-above-durable: on a single replica that acknowledges fsynced data
//     only, the high watermark above the durable end.
//   - hw-regressed: the high watermark went down within one incarnation of
//     a broker. Across a restart it may drop, but only to what was durable:
//     a new incarnation's high watermark or log end below the highest high
//     watermark (on a single replica: durable end) an earlier incarnation
//     reported is committed data lost (reported as hw-regressed too).
//   - partition-vanished: a partition a broker had, with committed data,
//     is absent from a later sample of a ready incarnation (no scenario
//     deletes topics or moves replicas, so its committed data was lost).
//   - offset-reused: two values seen at one offset of a partition (acks,
//     polls, fetches), i.e. an offset handed out twice.
//
// Replicas: "committed data identical on every replica that has it" needs
// several brokers, which core does not have yet (it bootstraps a
// single-voter Raft). The hook is Replicas below: samples already carry the
// broker; comparing data needs a digest of [LogStart, HW) per replica from
// core (e.g. an Inspect field), then Replicas compares digests of equal
// ranges across brokers.
//
// Monitor is not safe for concurrent use; the caller serialises.
type Monitor struct {
	// SingleReplica: every partition has one replica (HW <= durable end).
	SingleReplica bool

	parts    map[monKey]*monPart
	values   map[int32]map[int64]int64 // workload partition -> offset -> value
	reported map[string]bool
}

type monKey struct {
	broker int32
	topic  string
	part   int32
}

type monPart struct {
	inc     int   // incarnation last sampled
	hw      int64 // last high watermark of that incarnation
	durable int64 // last durable end of that incarnation
	floor   int64 // what earlier incarnations committed: a restart must keep it
}

// NewMonitor returns an empty monitor.
func NewMonitor(singleReplica bool) *Monitor {
	return &Monitor{SingleReplica: singleReplica, parts: map[monKey]*monPart{},
		values: map[int32]map[int64]int64{}, reported: map[string]bool{}}
}

func (m *Monitor) once(kind string, k monKey, out *[]Violation, detail string) {
	id := fmt.Sprintf("%s/%d/%s/%d", kind, k.broker, k.topic, k.part)
	if m.reported[id] {
		return
	}
	m.reported[id] = true
	*out = append(*out, Violation{kind, k.part, fmt.Sprintf("broker %d %s-%d: %s", k.broker, k.topic, k.part, detail)})
}

// Sample checks one ready broker incarnation's partitions (all of them).
func (m *Monitor) Sample(broker int32, inc int, views []PartitionSample) []Violation {
	var out []Violation
	present := map[monKey]bool{}
	for _, v := range views {
		present[monKey{broker, v.Topic, v.Partition}] = true
	}
	var gone []monKey
	for k := range m.parts {
		if k.broker == broker && !present[k] {
			gone = append(gone, k)
		}
	}
	sort.Slice(gone, func(i, j int) bool {
		if gone[i].topic != gone[j].topic {
			return gone[i].topic < gone[j].topic
		}
		return gone[i].part < gone[j].part
	})
	for _, k := range gone {
		if st := m.parts[k]; max(st.hw, st.floor) > 0 {
			m.once("partition-vanished", k, &out, fmt.Sprintf(
				"incarnation %d has no such partition; an earlier sample had committed data up to %d", inc, max(st.hw, st.floor)))
		}
	}
	for _, v := range views {
		k := monKey{broker, v.Topic, v.Partition}
		if v.HW > v.LogEnd {
			m.once("hw-above-end", k, &out, fmt.Sprintf("incarnation %d: high watermark %d above log end %d", inc, v.HW, v.LogEnd))
		}
		if m.SingleReplica && v.Durable && v.HW > v.DurableEnd {
			m.once("hw-above-durable", k, &out, fmt.Sprintf("incarnation %d: high watermark %d above durable end %d", inc, v.HW, v.DurableEnd))
		}
		st := m.parts[k]
		if st == nil {
			st = &monPart{inc: inc, hw: v.HW, durable: v.DurableEnd, floor: -1}
			m.parts[k] = st
		}
		if st.inc != inc {
			// A new incarnation: what the old one committed must survive.
			st.floor = max(st.floor, st.hw)
			if m.SingleReplica {
				st.floor = max(st.floor, st.durable)
			}
			st.inc, st.hw, st.durable = inc, v.HW, v.DurableEnd
		}
		if v.HW < st.hw {
			m.once("hw-regressed", k, &out, fmt.Sprintf("incarnation %d: high watermark %d after %d", inc, v.HW, st.hw))
		}
		if v.HW < st.floor || v.LogEnd < st.floor {
			m.once("hw-regressed", k, &out, fmt.Sprintf(
				"incarnation %d: high watermark %d, log end %d after a restart, below %d committed by an earlier incarnation",
				inc, v.HW, v.LogEnd, st.floor))
		}
		st.hw, st.durable = max(st.hw, v.HW), max(st.durable, v.DurableEnd)
	}
	return out
}

// Replicas is where samples of one partition from several brokers would be
// compared (see Monitor); with one broker there is nothing to compare.
func (m *Monitor) Replicas() []Violation { return nil }

// Observe checks one (offset, value) a client saw in a workload partition.
func (m *Monitor) Observe(p int32, offset, value int64, what string) []Violation {
	vals := m.values[p]
	if vals == nil {
		vals = map[int64]int64{}
		m.values[p] = vals
	}
	prev, ok := vals[offset]
	if !ok {
		vals[offset] = value
		return nil
	}
	if prev == value {
		return nil
	}
	id := fmt.Sprintf("offset-reused/%d/%d", p, offset)
	if m.reported[id] {
		return nil
	}
	m.reported[id] = true
	return []Violation{{"offset-reused", p, fmt.Sprintf("offset %d holds %d and %d (the second seen by a %s)",
		offset, prev, value, what)}}
}
