package replica

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Errors the shell maps to Kafka error codes at the edge.
var (
	// ErrNotEnoughReplicas: an acks=all produce found the ISR smaller than
	// min.insync.replicas before appending (NOT_ENOUGH_REPLICAS).
	ErrNotEnoughReplicas = errors.New("replica: not enough in-sync replicas")
	// ErrNotEnoughReplicasAfterAppend: the records were committed, but the
	// ISR had shrunk below min.insync.replicas by then
	// (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
	ErrNotEnoughReplicasAfterAppend = errors.New("replica: not enough in-sync replicas after append")
	// ErrUnknownReplica: a Fetch from a broker that is not a follower of
	// this partition (Kafka answers UNKNOWN_LEADER_EPOCH when the request
	// carries a leader epoch, NOT_LEADER_OR_FOLLOWER otherwise).
	ErrUnknownReplica = errors.New("replica: not a follower of this partition")
	// ErrOffsetOutOfRange: a follower fetched beyond the leader's log end
	// (OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("replica: fetch offset beyond the leader's log end")
)

// Config holds the settings the leader obeys.
type Config struct {
	// LagMaxMs is replica.lag.time.max.ms: how long a follower may go
	// without catching up to the leader's log end before it leaves the ISR.
	LagMaxMs int64
	// MinISR is the topic's min.insync.replicas; below 1 counts as 1.
	MinISR int
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config { return Config{LagMaxMs: 30000, MinISR: 1} }

// Start is what a broker knows when it becomes leader for a leader epoch.
type Start struct {
	Self            int32 // this broker
	SelfBrokerEpoch int64 // this broker's epoch (KIP-903), sent in proposals
	LeaderEpoch     int32
	// EpochStartOffset is the log end when this leader epoch began (the
	// offset the leader-epoch cache gives the epoch). A follower joins the
	// ISR only once it has reached it.
	EpochStartOffset int64
	PartitionEpoch   int32
	Replicas         []int32 // the assignment, the leader included
	ISR              []int32 // the committed ISR, the leader included
	LogEnd           int64   // the leader's log end offset
	DurableEnd       int64   // the leader's fsynced end, <= LogEnd
	HW               int64   // the high watermark the log knew
}

// Update is what one input decided.
type Update struct {
	HW      int64 // the high watermark after the input
	HWMoved bool  // it went up: wake long-poll fetches and acks=all waiters
	// Propose, if not nil, is an AlterPartition to send to the controller.
	// It stays the pending proposal until ISRCommitted, ISRRejected or
	// PartitionChanged ends it.
	Propose *Proposal
}

// Member is one replica of a proposed ISR with the broker epoch the leader
// last saw from it (-1: unknown), as AlterPartition v3 carries it.
type Member struct {
	ID          int32
	BrokerEpoch int64
}

// Proposal is an ISR change for the controller to commit (AlterPartition).
type Proposal struct {
	LeaderEpoch    int32
	PartitionEpoch int32    // the committed partition epoch it is based on
	ISR            []Member // the whole proposed ISR, sorted by ID
	Added          []int32  // followers it adds (at most one)
	Removed        []int32  // followers it removes
}

// IDs returns the proposed ISR's broker IDs.
func (p *Proposal) IDs() []int32 {
	ids := make([]int32, len(p.ISR))
	for i, m := range p.ISR {
		ids[i] = m.ID
	}
	return ids
}

// Leader is the leader's view of one partition for one leader epoch.
type Leader struct {
	cfg             Config
	self            int32
	selfBrokerEpoch int64
	leaderEpoch     int32
	epochStart      int64
	partitionEpoch  int32
	replicas        []int32    // the assignment, in the controller's order
	isr             []int32    // committed, sorted
	pending         *Proposal  // the AlterPartition in flight, or nil
	followers       []follower // every replica but the leader, sorted by ID
	ineligible      []int32    // sorted
	logEnd          int64
	durable         int64
	hw              int64
}

// NewLeader returns the state of a broker that has just become leader. It
// panics if the start breaks an invariant the metadata guarantees: the
// leader in the ISR, the ISR within the replicas, the durable end within the
// log end.
func NewLeader(cfg Config, s Start, nowMs int64) *Leader {
	if s.DurableEnd > s.LogEnd || s.DurableEnd < 0 {
		panic(fmt.Sprintf("replica: durable end %d outside the log end %d", s.DurableEnd, s.LogEnd))
	}
	l := &Leader{
		cfg: cfg, self: s.Self, selfBrokerEpoch: s.SelfBrokerEpoch,
		leaderEpoch: s.LeaderEpoch, epochStart: s.EpochStartOffset, partitionEpoch: s.PartitionEpoch,
		logEnd: s.LogEnd, durable: s.DurableEnd, hw: min(s.HW, s.DurableEnd),
	}
	l.setAssignment(s.Replicas, s.ISR)
	for i := range l.followers {
		l.followers[i].reset(l.inISR(l.followers[i].id), nowMs)
	}
	l.advance(nowMs)
	return l
}

// setAssignment installs a committed replica set and ISR, keeping the state
// of followers that stay and starting new ones as never fetched.
func (l *Leader) setAssignment(replicas, isr []int32) {
	r := sortedSet(replicas, "replicas")
	i := sortedSet(isr, "ISR")
	if _, ok := slices.BinarySearch(i, l.self); !ok {
		panic(fmt.Sprintf("replica: ISR %v lacks the leader %d", isr, l.self))
	}
	for _, id := range i {
		if _, ok := slices.BinarySearch(r, id); !ok {
			panic(fmt.Sprintf("replica: ISR %v is not within the replicas %v", isr, replicas))
		}
	}
	var fs []follower
	for _, id := range r {
		if id == l.self {
			continue
		}
		if f := l.follower(id); f != nil {
			fs = append(fs, *f)
		} else {
			fs = append(fs, newFollower(id))
		}
	}
	l.replicas = slices.Clone(replicas)
	l.isr = i
	l.followers = fs
}

// sortedSet returns ids sorted, and panics on a duplicate.
func sortedSet(ids []int32, what string) []int32 {
	s := slices.Clone(ids)
	slices.Sort(s)
	for k := 1; k < len(s); k++ {
		if s[k] == s[k-1] {
			panic(fmt.Sprintf("replica: %s %v repeat broker %d", what, ids, s[k]))
		}
	}
	return s
}

func (l *Leader) follower(id int32) *follower {
	k, ok := slices.BinarySearchFunc(l.followers, id, func(f follower, id int32) int { return cmp.Compare(f.id, id) })
	if !ok {
		return nil
	}
	return &l.followers[k]
}

func (l *Leader) inISR(id int32) bool {
	_, ok := slices.BinarySearch(l.isr, id)
	return ok
}

// inMaximalISR: the committed ISR plus a pending addition (KIP-497).
func (l *Leader) inMaximalISR(id int32) bool {
	return l.inISR(id) || (l.pending != nil && slices.Contains(l.pending.Added, id))
}

func (l *Leader) eligible(id int32) bool {
	_, ok := slices.BinarySearch(l.ineligible, id)
	return !ok
}

// minISR is the effective min.insync.replicas: never above the replication
// factor (KAFKA-15583), never below 1.
func (l *Leader) minISR() int {
	return max(1, min(l.cfg.MinISR, len(l.replicas)))
}

// FollowerFetch records a follower's Fetch at fetchOffset (its durable end
// in Jocko) with the broker epoch the request carried (-1: none), and may
// propose adding it to the ISR.
func (l *Leader) FollowerFetch(id int32, brokerEpoch int64, fetchOffset int64, nowMs int64) (Update, error) {
	f := l.follower(id)
	if f == nil {
		return l.update(false), ErrUnknownReplica
	}
	if fetchOffset < 0 || fetchOffset > l.logEnd {
		return l.update(false), ErrOffsetOutOfRange
	}
	f.fetched(fetchOffset, brokerEpoch, l.logEnd, nowMs)
	var p *Proposal
	if l.pending == nil && !l.inISR(id) && l.eligible(id) && fetchOffset >= l.hw && fetchOffset >= l.epochStart {
		p = l.propose(append(slices.Clone(l.isr), id), []int32{id}, nil)
	}
	u := l.update(l.advance(nowMs))
	u.Propose = p
	return u, nil
}

// LocalAppend records that the leader's log now ends at end. Reports may
// arrive out of order: one below the end already known is ignored (the
// leader's log never shrinks within its epoch).
func (l *Leader) LocalAppend(end int64, nowMs int64) Update {
	l.logEnd = max(l.logEnd, end)
	return l.update(l.advance(nowMs))
}

// LocalDurable records that the leader fsynced its log up to durable. A
// report below the durable end already known is ignored; one beyond the
// known log end (the fsync overtook the append's report) raises it too.
func (l *Leader) LocalDurable(durable int64, nowMs int64) Update {
	l.durable = max(l.durable, durable)
	l.logEnd = max(l.logEnd, l.durable)
	return l.update(l.advance(nowMs))
}

// Tick proposes removing the ISR followers that are no longer caught up,
// unless a proposal is in flight.
func (l *Leader) Tick(nowMs int64) Update {
	var p *Proposal
	if l.pending == nil {
		var out []int32
		for _, f := range l.followers {
			if l.inISR(f.id) && !f.caughtUp(l.logEnd, nowMs, l.cfg.LagMaxMs) {
				out = append(out, f.id)
			}
		}
		if len(out) > 0 {
			keep := slices.DeleteFunc(slices.Clone(l.isr), func(id int32) bool { return slices.Contains(out, id) })
			p = l.propose(keep, nil, out)
		}
	}
	u := l.update(l.advance(nowMs))
	u.Propose = p
	return u
}

func (l *Leader) propose(isr, added, removed []int32) *Proposal {
	slices.Sort(isr)
	p := &Proposal{LeaderEpoch: l.leaderEpoch, PartitionEpoch: l.partitionEpoch, Added: added, Removed: removed}
	for _, id := range isr {
		epoch := l.selfBrokerEpoch
		if f := l.follower(id); f != nil {
			epoch = f.brokerEpoch
		}
		p.ISR = append(p.ISR, Member{ID: id, BrokerEpoch: epoch})
	}
	l.pending = p
	return p
}

func (l *Leader) update(moved bool) Update { return Update{HW: l.hw, HWMoved: moved} }
