package replica

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// The leader against a small model: random fetches, appends, fsyncs, ticks,
// controller answers and metadata updates. The model keeps each follower's
// whole fetch history and recomputes from it what Kafka's rules say;
// the checks in check() are the invariants the cluster relies on.

// fetchRec is one follower Fetch as the model saw it.
type fetchRec struct {
	atMs, offset, leaderEnd int64
}

type model struct {
	l   *Leader
	cfg Config

	self       int32
	replicas   []int32 // sorted
	isr        []int32 // committed, sorted
	epoch      int32   // partition epoch
	epochStart int64
	pending    *Proposal
	ineligible []int32
	startMs    int64
	startISR   []int32 // the ISR at NewLeader: caught up then
	fetches    map[int32][]fetchRec

	now, end, durable, hw int64

	deadline   int64 // NextDeadline after the last input
	deadlineOK bool
	old        []*Proposal // proposals no longer pending
}

func newModel(t *rapid.T) *model {
	n := rapid.IntRange(1, 5).Draw(t, "replicas")
	m := &model{self: 1, fetches: map[int32][]fetchRec{}, now: t0}
	for id := int32(1); id <= int32(n); id++ {
		m.replicas = append(m.replicas, id)
		if id == 1 || rapid.Bool().Draw(t, "inISR") {
			m.isr = append(m.isr, id)
		}
	}
	m.cfg = Config{
		LagMaxMs: rapid.SampledFrom([]int64{100, 1000}).Draw(t, "lag"),
		MinISR:   rapid.IntRange(0, 4).Draw(t, "minISR"),
	}
	m.end = rapid.Int64Range(0, 20).Draw(t, "end")
	m.durable = rapid.Int64Range(0, m.end).Draw(t, "durable")
	hw := rapid.Int64Range(0, m.durable+2).Draw(t, "hw")
	m.epochStart = m.end
	if rapid.Bool().Draw(t, "earlierEpochStart") {
		m.epochStart = rapid.Int64Range(0, m.end).Draw(t, "epochStart")
	}
	m.epoch = 7
	m.startMs, m.startISR = m.now, slices.Clone(m.isr)
	order := rapid.Permutation(slices.Clone(m.replicas)).Draw(t, "order") // the controller's order
	m.l = NewLeader(m.cfg, Start{
		Self: m.self, SelfBrokerEpoch: 99, LeaderEpoch: 3, EpochStartOffset: m.epochStart,
		PartitionEpoch: m.epoch, Replicas: order, ISR: m.isr,
		LogEnd: m.end, DurableEnd: m.durable, HW: hw,
	}, m.now)
	m.hw = min(hw, m.durable)
	m.hw = m.expectHW(m.hw)
	if m.l.HW() != m.hw {
		t.Fatalf("initial high watermark %d, model %d", m.l.HW(), m.hw)
	}
	m.deadline, m.deadlineOK = m.l.NextDeadline(m.now)
	return m
}

func (m *model) followers() []int32   { return slices.DeleteFunc(slices.Clone(m.replicas), m.isSelf) }
func (m *model) isSelf(id int32) bool { return id == m.self }
func (m *model) inISR(id int32) bool  { return slices.Contains(m.isr, id) }
func (m *model) eligible(id int32) bool {
	return !slices.Contains(m.ineligible, id)
}

func (m *model) maximal() []int32 {
	out := slices.Clone(m.isr)
	if m.pending != nil {
		out = append(out, m.pending.Added...)
	}
	slices.Sort(out)
	return out
}

func (m *model) minISR() int { return max(1, min(m.cfg.MinISR, len(m.replicas))) }

// ackMinISR is min.insync.replicas as produce checks it: not capped by the
// replication factor (Kafka's appendRecordsToLeader).
func (m *model) ackMinISR() int { return max(1, m.cfg.MinISR) }

// offset is the follower's last fetch offset, -1 before its first fetch.
func (m *model) offset(id int32) int64 {
	fs := m.fetches[id]
	if len(fs) == 0 {
		return -1
	}
	return fs[len(fs)-1].offset
}

// lastCaughtUp replays Kafka's rule over the whole fetch history: a fetch
// that reached the leader's end then counts at its own time; one that
// reached the end of the previous fetch's time counts at that time.
func (m *model) lastCaughtUp(id int32) (int64, bool) {
	at, ok := m.startMs, slices.Contains(m.startISR, id)
	fs := m.fetches[id]
	for i, f := range fs {
		var c int64
		switch {
		case f.offset >= f.leaderEnd:
			c = f.atMs
		case i > 0 && f.offset >= fs[i-1].leaderEnd:
			c = fs[i-1].atMs
		default:
			continue
		}
		if !ok || c > at {
			at, ok = c, true
		}
	}
	return at, ok
}

func (m *model) caughtUp(id int32) bool {
	if m.offset(id) == m.end {
		return true
	}
	at, ok := m.lastCaughtUp(id)
	return ok && m.now-at <= m.cfg.LagMaxMs
}

func (m *model) outOfSync() []int32 {
	var out []int32
	for _, id := range m.isr {
		if id != m.self && !m.caughtUp(id) {
			out = append(out, id)
		}
	}
	return out
}

// expectHW is the high watermark the rules give from prev.
func (m *model) expectHW(prev int64) int64 {
	if len(m.isr) < m.minISR() {
		return prev
	}
	hw := m.durable
	for _, id := range m.followers() {
		if slices.Contains(m.maximal(), id) || (m.eligible(id) && m.caughtUp(id)) {
			hw = min(hw, m.offset(id))
		}
	}
	return max(prev, hw)
}

// check compares one input's Update and the Leader's state with the model.
// expected is the proposal the rules call for (nil: none).
func (m *model) check(t *rapid.T, u Update, expected []int32, what string) {
	prevHW := m.hw
	if u.Propose != nil {
		if m.pending != nil {
			t.Fatalf("%s: proposal %v while %v is in flight", what, u.Propose.IDs(), m.pending.IDs())
		}
		m.pending = u.Propose
	}
	got := []int32(nil)
	if u.Propose != nil {
		got = u.Propose.IDs()
		if !slices.Contains(got, m.self) {
			t.Fatalf("%s: proposal %v removes the leader", what, got)
		}
		if u.Propose.PartitionEpoch != m.epoch || u.Propose.LeaderEpoch != 3 {
			t.Fatalf("%s: proposal based on epochs %d/%d", what, u.Propose.LeaderEpoch, u.Propose.PartitionEpoch)
		}
	}
	if !slices.Equal(got, expected) {
		t.Fatalf("%s: proposed %v, want %v (ISR %v, out of sync %v)", what, got, expected, m.isr, m.outOfSync())
	}
	if m.l.Pending() != m.pending {
		t.Fatalf("%s: pending %v, model %v", what, m.l.Pending(), m.pending)
	}

	m.hw = m.expectHW(m.hw)
	if u.HW != m.l.HW() || m.l.HW() != m.hw || u.HWMoved != (m.hw > prevHW) {
		t.Fatalf("%s: high watermark %d (update %d, moved %v), model %d from %d", what, m.l.HW(), u.HW, u.HWMoved, m.hw, prevHW)
	}
	// The invariants, stated without the model's formula.
	if m.hw < prevHW || m.hw > m.durable {
		t.Fatalf("%s: high watermark %d: was %d, durable end %d", what, m.hw, prevHW, m.durable)
	}
	if m.hw > prevHW {
		for _, id := range m.maximal() {
			if id != m.self && m.offset(id) < m.hw {
				t.Fatalf("%s: high watermark %d passed ISR member %d at %d", what, m.hw, id, m.offset(id))
			}
		}
	}
	if !slices.Equal(m.l.ISR(), m.isr) || !slices.Equal(m.l.MaximalISR(), m.maximal()) {
		t.Fatalf("%s: ISR %v maximal %v, model %v %v", what, m.l.ISR(), m.l.MaximalISR(), m.isr, m.maximal())
	}
	if !slices.Contains(m.l.ISR(), m.self) {
		t.Fatalf("%s: the leader left the ISR %v", what, m.l.ISR())
	}
	m.checkAcks(t, what)
	m.deadline, m.deadlineOK = m.l.NextDeadline(m.now)
}

func (m *model) checkAcks(t *rapid.T, what string) {
	if err := m.l.CanAppend(true); (err != nil) != (len(m.isr) < m.ackMinISR()) {
		t.Fatalf("%s: CanAppend(acks=all) = %v with ISR %v, min %d", what, err, m.isr, m.ackMinISR())
	}
	if err := m.l.CanAppend(false); err != nil {
		t.Fatalf("%s: CanAppend(acks=1) = %v", what, err)
	}
	for _, end := range []int64{m.hw, m.hw + 1} {
		done, err := m.l.AckError(end)
		if done != (m.hw >= end) || (err != nil) != (done && len(m.maximal()) < m.ackMinISR()) {
			t.Fatalf("%s: AckError(%d) = %v, %v with HW %d, maximal ISR %v", what, end, done, err, m.hw, m.maximal())
		}
	}
}

func (m *model) retire() {
	if m.pending != nil {
		m.old = append(m.old, m.pending)
		m.pending = nil
	}
}

func (m *model) append(t *rapid.T) {
	m.end += rapid.Int64Range(0, 5).Draw(t, "n")
	m.check(t, m.l.LocalAppend(m.end, m.now), nil, "append")
}

func (m *model) fsync(t *rapid.T) {
	d := m.end
	if rapid.Bool().Draw(t, "partial") {
		d = rapid.Int64Range(0, m.end).Draw(t, "durable")
	}
	m.durable = max(m.durable, d)
	m.check(t, m.l.LocalDurable(d, m.now), nil, "fsync")
}

// reorder delivers an fsync's report before its append's, then the
// append's, late.
func (m *model) reorder(t *rapid.T) {
	old := m.end
	m.end += rapid.Int64Range(1, 5).Draw(t, "n")
	m.durable = m.end
	m.check(t, m.l.LocalDurable(m.end, m.now), nil, "fsync before its append")
	m.check(t, m.l.LocalAppend(rapid.Int64Range(old, m.end).Draw(t, "late"), m.now), nil, "late append")
	if m.l.LogEnd() != m.end || m.l.DurableEnd() != m.durable {
		t.Fatalf("log end %d durable %d, want %d %d", m.l.LogEnd(), m.l.DurableEnd(), m.end, m.durable)
	}
}

func (m *model) fetch(t *rapid.T) {
	if len(m.replicas) == 1 {
		return
	}
	id := rapid.SampledFrom(m.followers()).Draw(t, "follower")
	lo := max(m.offset(id), 0)
	if rapid.IntRange(0, 9).Draw(t, "regress") == 0 {
		lo = 0 // a wiped follower starts over
	}
	off := m.end // a follower that keeps up
	if rapid.Bool().Draw(t, "behind") {
		off = rapid.Int64Range(lo, m.end).Draw(t, "offset")
	}
	prevHW, wasPending := m.hw, m.pending != nil
	u, err := m.l.FollowerFetch(id, int64(id)*1000, off, m.now)
	if err != nil {
		t.Fatalf("fetch of %d at %d (end %d): %v", id, off, m.end, err)
	}
	m.fetches[id] = append(m.fetches[id], fetchRec{atMs: m.now, offset: off, leaderEnd: m.end})
	var want []int32
	if !wasPending && !m.inISR(id) && m.eligible(id) && off >= prevHW && off >= m.epochStart {
		want = append(slices.Clone(m.isr), id)
		slices.Sort(want)
	}
	m.check(t, u, want, "fetch")
	if u.Propose != nil && (!slices.Equal(u.Propose.Added, []int32{id}) || u.Propose.Removed != nil) {
		t.Fatalf("expansion %+v", *u.Propose)
	}
}

func (m *model) badFetch(t *rapid.T) {
	id := rapid.Int32Range(0, 7).Draw(t, "id")
	off := rapid.Int64Range(-2, m.end+2).Draw(t, "offset")
	known := slices.Contains(m.replicas, id) && id != m.self
	if known && off >= 0 && off <= m.end {
		return
	}
	if _, err := m.l.FollowerFetch(id, 1, off, m.now); err == nil {
		t.Fatalf("fetch by %d at %d accepted (end %d)", id, off, m.end)
	}
	m.check(t, m.l.Tick(m.now), m.tickWants(), "tick after a refused fetch")
}

func (m *model) tickWants() []int32 {
	out := m.outOfSync()
	if m.pending != nil || len(out) == 0 {
		return nil
	}
	return slices.DeleteFunc(slices.Clone(m.isr), func(id int32) bool { return slices.Contains(out, id) })
}

func (m *model) tick(t *rapid.T) {
	lag := m.cfg.LagMaxMs
	m.now += rapid.SampledFrom([]int64{0, 1, lag / 2, lag, lag + 1, 3 * lag}).Draw(t, "ms")
	if m.deadlineOK && rapid.Bool().Draw(t, "atDeadline") {
		m.now = max(m.now, m.deadline) // what a shell driven by NextDeadline does
	}
	prevHW, deadline, ok := m.hw, m.deadline, m.deadlineOK
	want := m.tickWants()
	u := m.l.Tick(m.now)
	m.check(t, u, want, "tick")
	if (u.Propose != nil || m.hw > prevHW) && (!ok || deadline > m.now) {
		t.Fatalf("tick at %d acted (proposal %v, HW %d->%d) before the deadline %d (ok %v)", m.now, u.Propose != nil, prevHW, m.hw, deadline, ok)
	}
	if u.Propose != nil && !slices.Equal(u.Propose.Removed, m.outOfSync()) {
		t.Fatalf("shrink removes %v, out of sync %v", u.Propose.Removed, m.outOfSync())
	}
}

func (m *model) advance(t *rapid.T) {
	m.now += rapid.Int64Range(0, 2*m.cfg.LagMaxMs).Draw(t, "ms")
}

// answer plays the controller answering the pending AlterPartition.
func (m *model) answer(t *rapid.T) {
	if m.pending == nil {
		return
	}
	p := m.pending
	switch rapid.IntRange(0, 3).Draw(t, "answer") {
	case 0, 1: // committed
		m.isr, m.epoch = p.IDs(), m.epoch+1
		m.retire()
		m.check(t, m.l.ISRCommitted(p, p.IDs(), m.epoch, m.now), nil, "committed")
	case 2: // not applied
		m.retire()
		m.check(t, m.l.ISRRejected(p, m.now), nil, "rejected")
	case 3: // a stale answer: ignored
		m.check(t, m.l.ISRCommitted(p, p.IDs(), m.epoch-1, m.now), nil, "stale answer")
	}
}

// oldAnswer delivers an answer to a proposal that is no longer pending.
func (m *model) oldAnswer(t *rapid.T) {
	if len(m.old) == 0 {
		return
	}
	p := rapid.SampledFrom(m.old).Draw(t, "old")
	if rapid.Bool().Draw(t, "commit") {
		m.check(t, m.l.ISRCommitted(p, p.IDs(), m.epoch+1, m.now), nil, "old commit")
	} else {
		m.check(t, m.l.ISRRejected(p, m.now), nil, "old rejection")
	}
}

// metadata plays a metadata update: the controller changed the ISR itself
// (fenced a broker, say), or replays the current state.
func (m *model) metadata(t *rapid.T) {
	if rapid.IntRange(0, 3).Draw(t, "replay") == 0 {
		m.check(t, m.l.PartitionChanged(m.replicas, m.isr, m.epoch, m.now), nil, "metadata replay")
		return
	}
	isr := []int32{m.self}
	for _, id := range m.followers() {
		if rapid.Bool().Draw(t, "inISR") {
			isr = append(isr, id)
		}
	}
	slices.Sort(isr)
	m.isr, m.epoch = isr, m.epoch+1
	m.retire()
	m.check(t, m.l.PartitionChanged(m.replicas, isr, m.epoch, m.now), nil, "metadata")
}

func (m *model) setIneligible(t *rapid.T) {
	m.ineligible = nil
	for _, id := range m.followers() {
		if rapid.IntRange(0, 2).Draw(t, "ineligible") == 0 {
			m.ineligible = append(m.ineligible, id)
		}
	}
	m.check(t, m.l.SetIneligible(m.ineligible, m.now), nil, "ineligible")
}

func (m *model) setMinISR(t *rapid.T) {
	m.cfg.MinISR = rapid.IntRange(1, 4).Draw(t, "minISR")
	m.check(t, m.l.SetConfig(m.cfg, m.now), nil, "config")
}

func TestLeaderProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := newModel(t)
		t.Repeat(map[string]func(*rapid.T){
			"append":        m.append,
			"fsync":         m.fsync,
			"reorder":       m.reorder,
			"fetch":         m.fetch,
			"fetch2":        m.fetch, // fetches are the common input
			"badFetch":      m.badFetch,
			"tick":          m.tick,
			"advance":       m.advance,
			"answer":        m.answer,
			"oldAnswer":     m.oldAnswer,
			"metadata":      m.metadata,
			"setIneligible": m.setIneligible,
			"setMinISR":     m.setMinISR,
		})
	})
}
