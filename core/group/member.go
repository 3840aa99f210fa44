package group

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// protocol is one (name, metadata) pair a member supports, in the member's
// order of preference.
type protocol struct {
	name     string
	metadata []byte
}

// waiter is a JoinGroup or SyncGroup held until the group can answer it.
type waiter struct {
	to      Handle
	version int16
}

// member is one member of a classic group (Kafka's MemberMetadata).
type member struct {
	id                 string
	instanceID         *string // group.instance.id of a static member (KIP-345)
	clientID           string
	clientHost         string
	rebalanceTimeoutMs int32
	sessionTimeoutMs   int32
	protocolType       string
	protocols          []protocol
	assignment         []byte

	join *waiter // JoinGroup awaiting the end of the join phase
	sync *waiter // SyncGroup awaiting the leader's assignment

	// isNew marks a member that has not yet seen a join phase complete:
	// its deadline is the new-member join timeout, not its session.
	isNew bool
	// heartbeatDeadlineMs is when the member expires unless it heartbeats.
	// It does not run while the member awaits a join or a sync (Kafka's
	// hasSatisfiedHeartbeat), except for new members.
	heartbeatDeadlineMs int64
}

// protocolsOf copies a JoinGroup's protocols: the request's byte slices may
// alias a buffer the shell reuses.
func protocolsOf(ps []kmsg.JoinGroupRequestProtocol) []protocol {
	out := make([]protocol, len(ps))
	for i, p := range ps {
		out[i] = protocol{name: p.Name, metadata: bytes.Clone(p.Metadata)}
	}
	return out
}

// names is the set of protocol names (Kafka's plainProtocolSet).
func names(ps []protocol) map[string]bool {
	s := make(map[string]bool, len(ps))
	for _, p := range ps {
		s[p.name] = true
	}
	return s
}

// metadata is the member's metadata for the named protocol.
func (m *member) metadata(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

// matches reports whether ps is exactly what the member last joined with,
// in the same order (Kafka's MemberMetadata.matches).
func (m *member) matches(ps []protocol) bool {
	if len(ps) != len(m.protocols) {
		return false
	}
	for i := range ps {
		if ps[i].name != m.protocols[i].name || !bytes.Equal(ps[i].metadata, m.protocols[i].metadata) {
			return false
		}
	}
	return true
}

// vote is the member's most preferred protocol among the candidates.
func (m *member) vote(candidates map[string]bool) (string, bool) {
	for _, p := range m.protocols {
		if candidates[p.name] {
			return p.name, true
		}
	}
	return "", false
}

// expires reports whether the member's heartbeat deadline is running, and
// when it ends.
func (m *member) expires() (int64, bool) {
	if m.isNew || (m.join == nil && m.sync == nil) {
		return m.heartbeatDeadlineMs, true
	}
	return 0, false
}

func (m *member) isStatic() bool { return m.instanceID != nil }
