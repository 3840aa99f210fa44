package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/clock"
)

// Membership is how a broker finds the other brokers and learns that one
// failed. Production uses Serf (serf.go, not built for wasip1); the
// simulator supplies its own failure detector. Membership only reports: the
// controller decides what a failure means (it fences a broker whose
// heartbeats stop, and a Fail event is one more reason to).
type Membership interface {
	// Local returns this broker as its peers see it.
	Local() Member
	// Members returns every member known, this broker included, alive or
	// not (failed and left members stay until they are reaped), sorted by
	// Name.
	Members() []Member
	// Events delivers membership changes, in the order they happened, for
	// every member including this one. It is buffered; a consumer must
	// keep draining it (an implementation may drop events when its
	// buffer is full, so treat Members as the truth and an event as the
	// cue to look). It is closed when membership stops: by Close or
	// Leave, or on its own (then Err says why).
	Events() <-chan Event
	// Join contacts the given members (gossip addresses, host:port) and
	// merges with their cluster. It retries with backoff (200ms doubling
	// to 5s) until at least one address answers, and returns an error
	// when ctx ends first. It fails at once, without retrying, when the
	// peers belong to another cluster (*ClusterMismatchError) or when
	// another live member already uses this member's name
	// (*NameConflictError).
	Join(ctx context.Context, addrs []string) error
	// UpdateTags changes what peers see of the local member: ID, Rack,
	// KafkaAddr, RaftAddr, and ClusterID while it is still empty. Name and
	// GossipAddr cannot change; a non-empty ClusterID cannot change.
	UpdateTags(m Member) error
	// Leave announces a graceful departure (peers see Leave, not Fail),
	// then stops as Close does.
	Leave() error
	// Close stops without announcing anything: to peers it looks like a
	// crash, and they report Fail once their failure detector notices.
	Close() error
	// Err reports why membership stopped on its own (for example it lost
	// a name conflict to another live member). It is nil while running
	// and after Close or Leave.
	Err() error
}

// Member is one broker as membership sees it.
type Member struct {
	ID         int32  // broker ID; 0 while a joining broker has none yet
	Name       string // unique member name: MemberName(ID), or a generated name before an ID is known
	ClusterID  string // empty until the broker knows its cluster
	KafkaAddr  string // advertised Kafka address
	RaftAddr   string // advertised Raft address
	GossipAddr string // where peers reach its membership (Serf) endpoint
	Rack       string
	Status     MemberStatus
}

// MemberName is the member name of the broker with the given ID.
func MemberName(id int32) string { return "jocko-" + strconv.FormatInt(int64(id), 10) }

// MemberStatus is what membership believes about a member.
type MemberStatus uint8

const (
	// StatusAlive: the member answers the failure detector.
	StatusAlive MemberStatus = iota
	// StatusFailed: the failure detector suspects the member crashed or
	// is cut off. It may come back (with a Join event).
	StatusFailed
	// StatusLeft: the member announced it is leaving, or has left.
	StatusLeft
)

func (s MemberStatus) String() string {
	switch s {
	case StatusAlive:
		return "alive"
	case StatusFailed:
		return "failed"
	case StatusLeft:
		return "left"
	}
	return "MemberStatus(" + strconv.Itoa(int(s)) + ")"
}

// EventKind says what happened to a member.
type EventKind uint8

const (
	// EventJoin: a member appeared, or came back after Fail or Leave.
	EventJoin EventKind = iota
	// EventUpdate: a member changed its tags (UpdateTags).
	EventUpdate
	// EventFail: the failure detector declared the member failed.
	EventFail
	// EventLeave: the member left gracefully.
	EventLeave
	// EventReap: membership forgot a member that failed or left long ago;
	// it no longer appears in Members.
	EventReap
)

func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventFail:
		return "fail"
	case EventLeave:
		return "leave"
	case EventReap:
		return "reap"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one membership change. Member is the member as it was at the
// event (its Status matches the kind: Alive for Join and Update, Failed
// for Fail, Left for Leave).
type Event struct {
	Kind   EventKind
	Member Member
}

func (e Event) String() string { return e.Kind.String() + " " + e.Member.Name }

// Tags carrying Member fields. Name, GossipAddr and Status are not tags:
// membership itself knows them.
const (
	tagID        = "id"
	tagClusterID = "cluster_id"
	tagKafkaAddr = "kafka_addr"
	tagRaftAddr  = "raft_addr"
	tagRack      = "rack"
)

// MemberTags encodes m's ID, ClusterID, addresses and Rack as tags; empty
// strings are left out.
func MemberTags(m Member) map[string]string {
	tags := map[string]string{tagID: strconv.FormatInt(int64(m.ID), 10)}
	put := func(k, v string) {
		if v != "" {
			tags[k] = v
		}
	}
	put(tagClusterID, m.ClusterID)
	put(tagKafkaAddr, m.KafkaAddr)
	put(tagRaftAddr, m.RaftAddr)
	put(tagRack, m.Rack)
	return tags
}

// MemberFromTags decodes what MemberTags encoded, for the member called
// name. Unknown tags are ignored; a missing or malformed ID is an error.
// GossipAddr and Status are left for the caller to fill in.
func MemberFromTags(name string, tags map[string]string) (Member, error) {
	m := Member{
		Name:      name,
		ClusterID: tags[tagClusterID],
		KafkaAddr: tags[tagKafkaAddr],
		RaftAddr:  tags[tagRaftAddr],
		Rack:      tags[tagRack],
	}
	s, ok := tags[tagID]
	if !ok {
		return m, fmt.Errorf("cluster: member %q has no %s tag", name, tagID)
	}
	id, err := strconv.ParseInt(s, 10, 32)
	if err != nil || id < 0 {
		return m, fmt.Errorf("cluster: member %q has a bad %s tag %q", name, tagID, s)
	}
	m.ID = int32(id)
	return m, nil
}

// ClusterMismatchError is why a member refuses to merge with members of
// another cluster.
type ClusterMismatchError struct {
	Local  string // this member's cluster ID
	Remote string // the other cluster's ID
	Member string // the name of a member that carries Remote
	Addr   string // that member's gossip address
}

func (e *ClusterMismatchError) Error() string {
	return fmt.Sprintf("cluster: member %s at %s belongs to cluster %q, not %q; refusing to merge",
		e.Member, e.Addr, e.Remote, e.Local)
}

// NameConflictError says another live member already uses this member's
// name (and so its broker ID).
type NameConflictError struct {
	ID   int32  // the broker ID, 0 when the name is not a broker's
	Name string // the contested member name
	Addr string // where the other member lives
}

func (e *NameConflictError) Error() string {
	if e.ID > 0 {
		return fmt.Sprintf("cluster: broker ID %d is already in use by a live broker at %s", e.ID, e.Addr)
	}
	return fmt.Sprintf("cluster: member name %q is already in use by a live member at %s", e.Name, e.Addr)
}

// clusterConflict returns the first member of others that belongs to a
// cluster other than local, or -1. An empty cluster ID matches any: a
// broker that has not learned its cluster yet may join one, but one merge
// may not bring in members of two different clusters.
func clusterConflict(local string, others []Member) (string, int) {
	want := local
	for i, m := range others {
		switch {
		case m.ClusterID == "":
		case want == "":
			want = m.ClusterID
		case m.ClusterID != want:
			return want, i
		}
	}
	return want, -1
}

// Join's backoff between attempts: joinBackoffMin, doubling up to
// joinBackoffMax.
const (
	joinBackoffMin = 200 * time.Millisecond
	joinBackoffMax = 5 * time.Second
)

// retryJoin calls attempt until it succeeds or fails permanently, waiting
// joinBackoffMin, then twice as long each time up to joinBackoffMax,
// between attempts. A permanent error is returned as it is; when ctx ends
// first, the error names addrs, wraps ctx's error and quotes the last
// attempt's error.
func retryJoin(ctx context.Context, clk clock.Clock, addrs []string, attempt func() (err error, permanent bool)) error {
	wait := joinBackoffMin
	for {
		err, permanent := attempt()
		if err == nil || permanent {
			return err
		}
		t := clk.Timer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("cluster: join %s: no address answered before %w (last attempt: %s)",
				strings.Join(addrs, ", "), ctx.Err(), strings.Join(strings.Fields(err.Error()), " "))
		case <-t.C:
		}
		wait = min(2*wait, joinBackoffMax)
	}
}
