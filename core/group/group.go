package group

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Group is one classic consumer group: its membership state machine and its
// committed offsets. It is a plain struct: every input carries the current
// time in milliseconds and returns an Output, nothing happens between
// inputs, and nothing in it reads a clock or starts a goroutine. It is not
// safe for concurrent use; the shell serialises the inputs of a partition.
type Group struct {
	id  string
	cfg Config
	ids IDSource

	state      State
	stateMs    int64 // when the group entered its state; -1 when unknown (old records)
	generation int32
	protoType  *string // nil for a group that only stores offsets ("simple" group)
	protocol   *string // the selected protocol; nil unless members exist
	leader     string

	members   map[string]*member
	order     []string          // member ids, oldest first: the iteration order
	static    map[string]string // group.instance.id -> member id
	pending   map[string]int64  // member ids sent with MEMBER_ID_REQUIRED -> expiry
	supported map[string]int    // protocol name -> members that support it
	awaiting  int               // members with a JoinGroup held

	joinTimer      joinTimer
	syncTimer      syncTimer
	pendingSync    map[string]bool // members that have not sent SyncGroup this generation
	newMemberAdded bool            // a member joined during the initial delay

	subscribed map[string]bool // topics the consumer members subscribe to; nil if unknown

	offsetStore       // committed offsets and the pending ones of open transactions
	seq         int64 // the number of the group's last offset record, in log order (see offsetStore)
}

// joinTimer is the deadline of the join phase (Kafka's DelayedJoin, or
// InitialDelayedJoin when initial is set: that one never completes early,
// and is extended while new members keep arriving).
type joinTimer struct {
	armed       bool
	deadlineMs  int64
	initial     bool
	delayMs     int32
	remainingMs int32
}

// syncTimer is the deadline by which every member must send SyncGroup after
// a join phase (Kafka's DelayedSync).
type syncTimer struct {
	armed      bool
	deadlineMs int64
	generation int32
}

// NewGroup returns an Empty group with no offsets. Groups creates groups;
// tests and the Loader use this directly.
func NewGroup(id string, cfg Config, ids IDSource, nowMs int64) *Group {
	return &Group{
		id:          id,
		cfg:         cfg,
		ids:         ids,
		state:       Empty,
		stateMs:     nowMs,
		members:     map[string]*member{},
		static:      map[string]string{},
		pending:     map[string]int64{},
		supported:   map[string]int{},
		pendingSync: map[string]bool{},
		offsetStore: newOffsetStore(),
	}
}

// ID is the group id.
func (g *Group) ID() string { return g.id }

// State is the group's state.
func (g *Group) State() State { return g.state }

// Generation is the group's generation id.
func (g *Group) Generation() int32 { return g.generation }

// Leader is the leader's member id, "" without members.
func (g *Group) Leader() string { return g.leader }

// ProtocolType is the protocol type of the group ("consumer"), "" for a group
// that only stores offsets.
func (g *Group) ProtocolType() string { return deref(g.protoType) }

// Protocol is the protocol selected for the current generation.
func (g *Group) Protocol() string { return deref(g.protocol) }

// Members lists the member ids, oldest first.
func (g *Group) Members() []string { return slices.Clone(g.order) }

// Assignment is the member's current assignment.
func (g *Group) Assignment(memberID string) ([]byte, bool) {
	m, ok := g.members[memberID]
	if !ok {
		return nil, false
	}
	return m.assignment, true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (g *Group) transition(to State, nowMs int64) {
	if !validPrevious(to, g.state) {
		panic(fmt.Sprintf("group %q: transition from %v to %v is not allowed", g.id, g.state, to))
	}
	g.state = to
	g.stateMs = nowMs
}

// supportsProtocols is Kafka's GroupMetadata.supportsProtocols: an Empty
// group takes any non-empty type and protocol list; otherwise the type must
// match and one of the protocols must be supported by every member.
func (g *Group) supportsProtocols(protoType string, ps []protocol) bool {
	if g.state == Empty {
		return protoType != "" && len(ps) > 0
	}
	if g.protoType == nil || *g.protoType != protoType {
		return false
	}
	for _, p := range ps {
		if g.supported[p.name] == len(g.members) {
			return true
		}
	}
	return false
}

func (g *Group) countProtocols(m *member, delta int) {
	for name := range names(m.protocols) {
		g.supported[name] += delta
		if g.supported[name] == 0 {
			delete(g.supported, name)
		}
	}
}

// add makes m a member (Kafka's GroupMetadata.add).
func (g *Group) add(m *member) {
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if len(g.members) == 0 {
		t := m.protocolType
		g.protoType = &t
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	g.countProtocols(m, 1)
	if m.join != nil {
		g.awaiting++
	}
	delete(g.pending, m.id)
}

// remove drops a member or a pending member id (Kafka's GroupMetadata.remove).
// The caller answers the member's held requests first.
func (g *Group) remove(id string) {
	if m, ok := g.members[id]; ok {
		g.countProtocols(m, -1)
		if m.join != nil {
			g.awaiting--
		}
		if m.instanceID != nil && g.static[*m.instanceID] == id {
			delete(g.static, *m.instanceID)
		}
		delete(g.members, id)
		g.order = slices.DeleteFunc(g.order, func(s string) bool { return s == id })
	}
	if g.leader == id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
	delete(g.pending, id)
	delete(g.pendingSync, id)
}

// update replaces a member's protocols and timeouts and holds its JoinGroup
// (Kafka's GroupMetadata.updateMember). A JoinGroup already held for it is
// superseded and answered with REBALANCE_IN_PROGRESS so the shell never
// leaks a handle; the client gave up on it when it sent the new one.
func (g *Group) update(m *member, req *kmsg.JoinGroupRequest, rebalanceMs int32, w *waiter, out *Output) {
	g.countProtocols(m, -1)
	m.protocols = protocolsOf(req.Protocols)
	g.countProtocols(m, 1)
	m.rebalanceTimeoutMs = rebalanceMs
	m.sessionTimeoutMs = req.SessionTimeoutMillis
	if m.join != nil {
		out.reply(m.join.to, joinError(m.join.version, m.id, kerr.RebalanceInProgress))
		g.awaiting--
	}
	m.join = w
	if w != nil {
		g.awaiting++
	}
}

// validateMember is Kafka's validateCurrentMember: a static member's
// instance id must map to the member id given, and the member must exist.
func (g *Group) validateMember(memberID string, instanceID *string) error {
	if instanceID != nil {
		cur, ok := g.static[*instanceID]
		if !ok {
			return kerr.UnknownMemberID
		}
		if cur != memberID {
			return kerr.FencedInstanceID
		}
	}
	if _, ok := g.members[memberID]; !ok {
		return kerr.UnknownMemberID
	}
	return nil
}

// rebalanceTimeoutMs is the largest rebalance timeout of the members.
func (g *Group) rebalanceTimeoutMs() int32 {
	var max int32
	for _, id := range g.order {
		if t := g.members[id].rebalanceTimeoutMs; t > max {
			max = t
		}
	}
	return max
}

// selectProtocol lets every member vote for its most preferred protocol
// among those all members support, and picks the one with most votes
// (Kafka's GroupMetadata.selectProtocol). Kafka breaks ties by hash-map
// order; here the protocol voted for first (by the oldest member) wins.
func (g *Group) selectProtocol() string {
	candidates := map[string]bool{}
	for name, n := range g.supported {
		if n == len(g.members) {
			candidates[name] = true
		}
	}
	votes := map[string]int{}
	var first []string
	for _, id := range g.order {
		v, ok := g.members[id].vote(candidates)
		if !ok {
			panic(fmt.Sprintf("group %q: member %q supports none of the candidate protocols %v", g.id, id, candidates))
		}
		if votes[v] == 0 {
			first = append(first, v)
		}
		votes[v]++
	}
	best := first[0]
	for _, v := range first[1:] {
		if votes[v] > votes[best] {
			best = v
		}
	}
	return best
}

// computeSubscribed decodes the consumer members' subscriptions (Kafka's
// computeSubscribedTopics): nil when unknown.
func (g *Group) computeSubscribed() map[string]bool {
	if g.protoType == nil || *g.protoType != "consumer" {
		return nil
	}
	topics := map[string]bool{}
	if len(g.members) == 0 {
		return topics
	}
	if g.protocol == nil {
		return nil
	}
	for _, id := range g.order {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(g.members[id].metadata(*g.protocol)); err != nil {
			return nil
		}
		for _, t := range meta.Topics {
			topics[t] = true
		}
	}
	return topics
}
