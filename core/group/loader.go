package group

import (
	"bytes"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Loader rebuilds the groups of one __consumer_offsets partition from its
// records, read in log order: the last record of a key wins and a tombstone
// deletes (Kafka's GroupMetadataManager.loadGroupsAndOffsets). A coordinator
// that starts leading the partition feeds every record to Apply, then calls
// Done, and answers COORDINATOR_LOAD_IN_PROGRESS until then.
type Loader struct {
	cfg    Config
	ids    IDSource
	groups map[string]*loading
	// Skipped counts records that were not classic group records.
	Skipped int
}

type loading struct {
	meta    *kmsg.GroupMetadataValue
	offsets map[TopicPartition]Offset
}

// NewLoader returns a Loader whose groups will use cfg and ids.
func NewLoader(cfg Config, ids IDSource) *Loader {
	return &Loader{cfg: cfg, ids: ids, groups: map[string]*loading{}}
}

// Apply replays one record. A record of another kind (ErrNotClassic) is
// counted and skipped; any other error means the record is corrupt and was
// not applied.
func (l *Loader) Apply(key, value []byte) error {
	d, err := decodeRecord(key, value)
	if errors.Is(err, ErrNotClassic) {
		l.Skipped++
		return nil
	}
	if err != nil {
		return err
	}
	lg := l.groups[d.group]
	if lg == nil {
		lg = &loading{offsets: map[TopicPartition]Offset{}}
		l.groups[d.group] = lg
	}
	switch {
	case d.isMeta:
		lg.meta = d.meta
	case d.offset == nil:
		delete(lg.offsets, d.tp)
	default:
		lg.offsets[d.tp] = *d.offset
	}
	if lg.meta == nil && len(lg.offsets) == 0 {
		delete(l.groups, d.group)
	}
	return nil
}

// Done builds the groups. Loaded members' sessions start at nowMs: they
// must heartbeat within their session timeout or be expired.
func (l *Loader) Done(nowMs int64) *Groups {
	gs := NewGroups(l.cfg, l.ids)
	ids := make([]string, 0, len(l.groups))
	for id := range l.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		lg := l.groups[id]
		g := NewGroup(id, l.cfg, l.ids, nowMs)
		if lg.meta != nil {
			g.restore(nowMs, lg.meta)
		}
		g.offsets = lg.offsets
		gs.groups[id] = g
	}
	return gs
}

// restore installs loaded group metadata: a group with members is Stable,
// one without is Empty (Kafka's GroupMetadata.loadGroup).
func (g *Group) restore(nowMs int64, v *kmsg.GroupMetadataValue) {
	if v.ProtocolType != "" {
		t := v.ProtocolType
		g.protoType = &t
	}
	g.generation = v.Generation
	g.stateMs = -1
	if v.Version >= 2 {
		g.stateMs = v.CurrentStateTimestamp
	}
	if len(v.Members) == 0 {
		g.subscribed = g.computeSubscribed()
		return
	}
	g.protocol = cloneString(v.Protocol)
	g.leader = *v.Leader
	for _, vm := range v.Members {
		m := &member{
			id:                  vm.MemberID,
			instanceID:          cloneString(vm.InstanceID),
			clientID:            vm.ClientID,
			clientHost:          vm.ClientHost,
			rebalanceTimeoutMs:  vm.RebalanceTimeoutMillis,
			sessionTimeoutMs:    vm.SessionTimeoutMillis,
			protocolType:        v.ProtocolType,
			protocols:           []protocol{{name: *v.Protocol, metadata: bytes.Clone(vm.Subscription)}},
			assignment:          bytes.Clone(vm.Assignment),
			heartbeatDeadlineMs: nowMs + int64(vm.SessionTimeoutMillis),
		}
		if v.Version == 0 || m.rebalanceTimeoutMs < 0 {
			m.rebalanceTimeoutMs = m.sessionTimeoutMs
		}
		g.members[m.id] = m
		g.order = append(g.order, m.id)
		g.countProtocols(m, 1)
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	g.state = Stable
	g.subscribed = g.computeSubscribed()
}
