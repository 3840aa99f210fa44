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
// that starts leading the partition feeds it every batch of the log in
// order, then calls Done, and answers COORDINATOR_LOAD_IN_PROGRESS until
// then:
//   - each record of a plain batch to Apply;
//   - each record of a transactional batch (attributes bit 4) to ApplyTxn
//     with the batch's producer id;
//   - a control batch (bit 5) holding a COMMIT or ABORT marker to
//     ApplyMarker with its producer id; other control types are skipped.
//
// As Kafka's replay, an offset record of a transaction is pending until its
// producer's marker: COMMIT makes it the committed offset unless a later
// record committed the partition, ABORT drops it. A transaction with no
// marker yet is still pending in the loaded groups: Groups.TxnCompleted
// completes it once its marker is written.
type Loader struct {
	cfg    Config
	ids    IDSource
	groups map[string]*loading
	seq    int64                     // the number of the last offset record replayed
	txns   map[int64]map[string]bool // producer id -> groups it has offsets pending in
	// Skipped counts records that were not classic group records.
	Skipped int
}

type loading struct {
	meta *kmsg.GroupMetadataValue
	offsetStore
}

// NewLoader returns a Loader whose groups will use cfg and ids.
func NewLoader(cfg Config, ids IDSource) *Loader {
	return &Loader{cfg: cfg, ids: ids, groups: map[string]*loading{}, txns: map[int64]map[string]bool{}}
}

// Apply replays one record of a plain batch. A record of another kind
// (ErrNotClassic) is counted and skipped; any other error means the record
// is corrupt and was not applied.
func (l *Loader) Apply(key, value []byte) error {
	return l.ApplyTxn(-1, key, value)
}

// ApplyTxn replays one record of a transactional batch of producerID, as
// Apply does: an offset is pending until the producer's marker; a tombstone
// or group metadata takes effect at once (Kafka's replay looks at the
// producer of offset commits only). A producerID below 0 is no producer:
// the record is plain.
func (l *Loader) ApplyTxn(producerID int64, key, value []byte) error {
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
		lg = &loading{offsetStore: newOffsetStore()}
		l.groups[d.group] = lg
	}
	switch {
	case d.isMeta:
		lg.meta = d.meta
	case d.offset == nil:
		lg.removeOffset(d.tp)
	case producerID < 0:
		l.seq++
		lg.commit(d.tp, *d.offset, l.seq)
	default:
		l.seq++
		lg.stage(producerID, d.tp, *d.offset, l.seq)
		if l.txns[producerID] == nil {
			l.txns[producerID] = map[string]bool{}
		}
		l.txns[producerID][d.group] = true
	}
	l.drop(d.group, lg)
	return nil
}

// ApplyMarker replays the transaction marker of producerID: a COMMIT
// (commit set) or an ABORT control batch.
func (l *Loader) ApplyMarker(producerID int64, commit bool) {
	for id := range l.txns[producerID] {
		if lg := l.groups[id]; lg != nil {
			lg.complete(producerID, commit)
			l.drop(id, lg)
		}
	}
	delete(l.txns, producerID)
}

// drop forgets a group that the log no longer holds anything of.
func (l *Loader) drop(id string, lg *loading) {
	if lg.meta == nil && lg.empty() {
		delete(l.groups, id)
	}
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
		g.offsetStore, g.seq = lg.offsetStore, l.seq
		for pid := range g.txns {
			gs.noteTxn(pid, id)
		}
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
