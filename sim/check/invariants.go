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
	// Leader and LeaderEpoch: the partition's leader in the sampled
	// broker's metadata.
	Leader      int32
	LeaderEpoch int32
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
//     A replica whose copy a bit flip corrupted may drop once per flip
//     within an incarnation: its repair truncates below it (Corrupted).
//   - partition-vanished: a partition a broker had, with committed data,
//     is absent from a later sample of a ready incarnation, although the
//     broker is still one of its replicas (no scenario deletes topics; a
//     replica moved away by a reassignment is Forgotten first), so its
//     committed data was lost.
//   - offset-reused: two values seen at one offset of a partition (acks,
//     polls, fetches), i.e. an offset handed out twice.
//
// With several replicas a restarted broker's high watermark starts low
// (Kafka does not keep it), so the cross-restart floor above applies to a
// single replica only; instead, per partition across brokers:
//
//   - committed-lost: a broker that leads at leader epoch e has a log end
//     below the highest high watermark a leader reported in an earlier
//     epoch: committed data is gone (a clean election keeps it, because
//     the high watermark never passes what an ISR member holds).
//   - two-leaders: two brokers led in the same leader epoch.
//   - epoch-reused: two incarnations of one broker led in the same leader
//     epoch (a restarted leader that took up its old epoch may write
//     different batches at offsets its followers already hold).
//   - epoch-regressed: a broker's view of a partition's leader epoch went
//     down within one incarnation.
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
	repairs  map[monKey]int           // bit flips not yet excused: each allows one high watermark drop (Corrupted)
	epochs   map[monKey]*monEpochs    // broker 0: per partition, across brokers
	values   map[int32]map[int64]seen // workload partition -> offset -> first value seen there
	reported map[string]bool
}

type monLeader struct {
	broker int32
	inc    int
}

// monEpochs is what leaders of one partition reported, by leader epoch.
type monEpochs struct {
	leaders   map[int32]monLeader // leader epoch -> the broker incarnation that led it
	committed map[int32]int64     // leader epoch -> highest high watermark its leader reported
}

// seen is the first value a client saw at an offset, and how.
type seen struct {
	value int64
	what  string
}

type monKey struct {
	broker int32
	topic  string
	part   int32
}

type monPart struct {
	inc     int   // incarnation last sampled
	epoch   int32 // last leader epoch of that incarnation
	hw      int64 // last high watermark of that incarnation
	durable int64 // last durable end of that incarnation
	floor   int64 // what earlier incarnations committed: a restart must keep it
}

// NewMonitor returns an empty monitor.
func NewMonitor(singleReplica bool) *Monitor {
	return &Monitor{SingleReplica: singleReplica, parts: map[monKey]*monPart{}, epochs: map[monKey]*monEpochs{},
		values: map[int32]map[int64]seen{}, reported: map[string]bool{}, repairs: map[monKey]int{}}
}

func (m *Monitor) once(kind string, k monKey, out *[]Violation, detail string) {
	id := fmt.Sprintf("%s/%d/%s/%d", kind, k.broker, k.topic, k.part)
	if m.reported[id] {
		return
	}
	m.reported[id] = true
	*out = append(*out, Violation{kind, k.part, fmt.Sprintf("broker %d %s-%d: %s", k.broker, k.topic, k.part, detail)})
}

// Forget drops what the monitor knows of broker's partitions for which
// replica is false: the broker no longer replicates them (a reassignment
// moved them away), so their absence is not a loss. Should the broker
// become a replica again, it starts afresh as an empty one.
func (m *Monitor) Forget(broker int32, replica func(topic string, part int32) bool) {
	for k := range m.parts {
		if k.broker == broker && !replica(k.topic, k.part) {
			delete(m.parts, k)
		}
	}
}

// Corrupted tells the monitor that a bit flipped in broker's copy of a
// partition. The broker repairs a corrupt replica by leaving the ISR and
// truncating its log to the bad batch, below its high watermark (a
// follower's high watermark never exceeds its log end), and fetching the
// rest again: so each flip excuses one drop of that replica's high
// watermark within an incarnation. Committed data must still survive on
// the cluster: committed-lost, the queue checks and the replica check
// judge that.
func (m *Monitor) Corrupted(broker int32, topic string, part int32) {
	m.repairs[monKey{broker, topic, part}]++
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
			// A new incarnation: on a single replica what the old one
			// committed must survive on this broker.
			if m.SingleReplica {
				st.floor = max(st.floor, st.hw, st.durable)
			}
			st.inc, st.hw, st.durable, st.epoch = inc, v.HW, v.DurableEnd, v.LeaderEpoch
		}
		if v.LeaderEpoch < st.epoch {
			m.once("epoch-regressed", k, &out, fmt.Sprintf("incarnation %d: leader epoch %d after %d", inc, v.LeaderEpoch, st.epoch))
		}
		st.epoch = max(st.epoch, v.LeaderEpoch)
		if v.Leader == broker {
			m.leaderSample(k, inc, v, &out)
		}
		if v.HW < st.hw && m.repairs[k] > 0 {
			m.repairs[k]-- // a repair truncated the corrupt copy (Corrupted)
			st.hw = v.HW
		} else if v.HW < st.hw {
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

// leaderSample checks a sample in which the broker leads the partition.
func (m *Monitor) leaderSample(k monKey, inc int, v PartitionSample, out *[]Violation) {
	pk := monKey{0, k.topic, k.part}
	e := m.epochs[pk]
	if e == nil {
		e = &monEpochs{leaders: map[int32]monLeader{}, committed: map[int32]int64{}}
		m.epochs[pk] = e
	}
	other, ok := e.leaders[v.LeaderEpoch]
	switch {
	case ok && other.broker != k.broker:
		m.once("two-leaders", k, out, fmt.Sprintf("incarnation %d leads at epoch %d, which broker %d led", inc, v.LeaderEpoch, other.broker))
	case ok && other.inc != inc:
		m.once("epoch-reused", k, out, fmt.Sprintf("incarnation %d leads at epoch %d, which its incarnation %d led: a restarted leader must get a new epoch", inc, v.LeaderEpoch, other.inc))
	}
	e.leaders[v.LeaderEpoch] = monLeader{k.broker, inc}
	var floor int64
	var from int32 = -1
	for epoch, hw := range e.committed {
		if epoch < v.LeaderEpoch && (hw > floor || (hw == floor && hw > 0 && epoch < from)) {
			floor, from = hw, epoch
		}
	}
	if v.LogEnd < floor {
		m.once("committed-lost", k, out, fmt.Sprintf(
			"incarnation %d leads at epoch %d with log end %d, below the high watermark %d a leader reported at epoch %d",
			inc, v.LeaderEpoch, v.LogEnd, floor, from))
	}
	e.committed[v.LeaderEpoch] = max(e.committed[v.LeaderEpoch], v.HW)
}

// Replicas is where samples of one partition from several brokers would be
// compared (see Monitor); with one broker there is nothing to compare.
func (m *Monitor) Replicas() []Violation { return nil }

// Observe checks one (offset, value) a client saw in a workload partition.
func (m *Monitor) Observe(p int32, offset, value int64, what string) []Violation {
	vals := m.values[p]
	if vals == nil {
		vals = map[int64]seen{}
		m.values[p] = vals
	}
	prev, ok := vals[offset]
	if !ok {
		vals[offset] = seen{value, what}
		return nil
	}
	if prev.value == value {
		return nil
	}
	id := fmt.Sprintf("offset-reused/%d/%d", p, offset)
	if m.reported[id] {
		return nil
	}
	m.reported[id] = true
	return []Violation{{"offset-reused", p, fmt.Sprintf("offset %d holds %d (first seen by %s) and %d (seen by %s)",
		offset, prev.value, prev.what, value, what)}}
}
