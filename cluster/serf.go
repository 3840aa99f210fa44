//go:build !wasip1

package cluster

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

var _ Membership = (*SerfMembership)(nil)

// SerfConfig configures a SerfMembership.
type SerfConfig struct {
	// BindAddr is where gossip listens, TCP and UDP on one port, e.g.
	// "0.0.0.0:9094" or "127.0.0.1:0" (port 0 picks a free port).
	BindAddr string
	// AdvertiseAddr is the host:port peers reach this member at. The
	// default is BindAddr with the port actually bound; when BindAddr's
	// host is 0.0.0.0 memberlist picks a private IP of this machine. A
	// host name is resolved once, here.
	AdvertiseAddr string
	// Local is this member: Name is required and must be unique in the
	// cluster; ID, ClusterID, addresses and Rack travel as tags.
	// GossipAddr and Status are ignored.
	Local Member
	// Log receives serf's and memberlist's own logging at Debug, and this
	// package's warnings. Default slog.Default().
	Log *slog.Logger
	// Clock times Join's backoff. Default the wall clock. (Serf itself
	// always runs on the wall clock and the OS network.)
	Clock clock.Clock
	// SnapshotPath, if set, is a file where serf records the members it
	// knows; a member restarted on the same path rejoins them by itself,
	// with no Join call. The directory must exist.
	SnapshotPath string
	// RejoinAfterLeave makes a restart rejoin from the snapshot even after
	// a graceful Leave. By default a member that left stays out until Join
	// is called.
	RejoinAfterLeave bool
	// FastTimings tunes failure detection for one machine (tests): a
	// crashed member is reported failed in about 2-4 s instead of 5-25 s,
	// and Leave takes about 0.3 s instead of 1 s.
	FastTimings bool
}

// Limits of the event pipeline.
const (
	serfEventBuffer  = 1024 // serf's channel into run; serf blocks (or, with a snapshot, drops) beyond it
	eventsBuffer     = 256  // the channel Events returns
	eventsPendingMax = 4096 // events run holds for a slow consumer before it drops some
)

// Serf timings with FastTimings.
const (
	fastLeavePropagateDelay = 200 * time.Millisecond
	fastProbeInterval       = 500 * time.Millisecond
)

// SerfMembership is Membership over hashicorp/serf (gossip and SWIM failure
// detection from memberlist). NewSerfMembership starts serf, which runs its
// own goroutines, and one goroutine of this type (run) that translates
// serf's member events into Events; Close or Leave stops both.
type SerfMembership struct {
	serf       *serf.Serf
	log        *slog.Logger
	clock      clock.Clock
	name       string
	serfEvents chan serf.Event // written by serf, read by run
	events     chan Event      // written by run, closed when it returns
	stop       chan struct{}   // closed by Close/Leave to stop run
	done       chan struct{}   // closed when run has returned
	stopOnce   sync.Once

	updateMu sync.Mutex // serializes UpdateTags; not held by any serf callback

	// mu guards the fields below. It is held only briefly and never
	// across a call into serf, because serf's callbacks (merge delegate,
	// logger) take it from inside serf's locks.
	mu          sync.Mutex
	id          int32  // the local broker ID, for conflict messages
	clusterID   string // the local cluster ID the merge delegate checks against
	closing     bool   // Close or Leave has begun: serf's shutdown is ours
	err         error  // why membership stopped on its own
	rejected    error  // the last merge this member refused
	rejectSeq   uint64 // counts refused merges
	conflict    *NameConflictError
	conflictSeq uint64 // counts name conflicts about the local member
}

// NewSerfMembership starts serf on cfg.BindAddr. Call Join to merge with
// an existing cluster (unless a snapshot does it), and Close or Leave to
// stop.
func NewSerfMembership(cfg SerfConfig) (*SerfMembership, error) {
	if cfg.Local.Name == "" {
		return nil, errors.New("cluster: serf: the local member has no name")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	s := &SerfMembership{
		log:        cfg.Log.With("component", "membership"),
		clock:      cfg.Clock,
		name:       cfg.Local.Name,
		serfEvents: make(chan serf.Event, serfEventBuffer),
		events:     make(chan Event, eventsBuffer),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		id:         cfg.Local.ID,
		clusterID:  cfg.Local.ClusterID,
	}
	conf, err := s.serfConfig(cfg)
	if err != nil {
		return nil, err
	}
	if s.serf, err = serf.Create(conf); err != nil {
		return nil, fmt.Errorf("cluster: start serf on %s: %w", cfg.BindAddr, err)
	}
	go s.run()
	return s, nil
}

func (s *SerfMembership) serfConfig(cfg SerfConfig) (*serf.Config, error) {
	ml := memberlist.DefaultLANConfig()
	if cfg.FastTimings {
		ml = memberlist.DefaultLocalConfig()
		ml.ProbeInterval = fastProbeInterval
	}
	host, port, err := splitHostPort(cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: serf bind address: %w", err)
	}
	ml.BindAddr, ml.BindPort = host, port
	if cfg.AdvertiseAddr != "" {
		host, port, err := splitHostPort(cfg.AdvertiseAddr)
		if err != nil {
			return nil, fmt.Errorf("cluster: serf advertise address: %w", err)
		}
		ip, err := resolveIP(host)
		if err != nil {
			return nil, fmt.Errorf("cluster: serf advertise address: %w", err)
		}
		ml.AdvertiseAddr, ml.AdvertisePort = ip, port
	}
	logger := log.New(serfLogWriter{s}, "", 0)
	ml.Logger = logger

	conf := serf.DefaultConfig()
	conf.NodeName = cfg.Local.Name
	conf.Tags = MemberTags(cfg.Local)
	conf.EventCh = s.serfEvents
	conf.MemberlistConfig = ml
	conf.LogOutput = nil
	conf.Logger = logger
	conf.Merge = serfMerge{s}
	conf.SnapshotPath = cfg.SnapshotPath
	conf.RejoinAfterLeave = cfg.RejoinAfterLeave
	conf.EnableNameConflictResolution = true // the loser of a name conflict shuts down
	conf.DisableCoordinates = true
	if cfg.FastTimings {
		conf.LeavePropagateDelay = fastLeavePropagateDelay
	}
	return conf, nil
}

// Local implements Membership.
func (s *SerfMembership) Local() Member { return s.member(s.serf.LocalMember()) }

// Members implements Membership.
func (s *SerfMembership) Members() []Member {
	sm := s.serf.Members()
	ms := make([]Member, 0, len(sm))
	for _, m := range sm {
		ms = append(ms, s.member(m))
	}
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return ms
}

// Events implements Membership.
func (s *SerfMembership) Events() <-chan Event { return s.events }

// Err implements Membership.
func (s *SerfMembership) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Join implements Membership. One attempt contacts every address in turn;
// an address that does not answer costs up to memberlist's TCP timeout
// (10 s, 1 s with FastTimings), which ctx cannot cut short.
func (s *SerfMembership) Join(ctx context.Context, addrs []string) error {
	if len(addrs) == 0 {
		return errors.New("cluster: join: no addresses")
	}
	return retryJoin(ctx, s.clock, addrs, func() (error, bool) {
		if st := s.serf.State(); st != serf.SerfAlive {
			return fmt.Errorf("cluster: join: membership is %s", st), true
		}
		rejectSeq, conflictSeq := s.seqs()
		n, err := s.serf.Join(addrs, true)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.conflictSeq != conflictSeq {
			return s.conflict, true
		}
		if n > 0 {
			return nil, false
		}
		if s.rejectSeq != rejectSeq {
			return s.rejected, true
		}
		if err == nil {
			err = errors.New("no address answered")
		}
		return err, false
	})
}

func (s *SerfMembership) seqs() (reject, conflict uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejectSeq, s.conflictSeq
}

// UpdateTags implements Membership. It returns once the change is queued
// for gossip (serf waits up to its broadcast timeout for that).
func (s *SerfMembership) UpdateTags(m Member) error {
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	cur := s.Local()
	switch {
	case m.Name != "" && m.Name != cur.Name:
		return fmt.Errorf("cluster: cannot rename member %s to %s", cur.Name, m.Name)
	case m.GossipAddr != "" && m.GossipAddr != cur.GossipAddr:
		return fmt.Errorf("cluster: cannot move member %s from %s to %s", cur.Name, cur.GossipAddr, m.GossipAddr)
	case cur.ClusterID != "" && m.ClusterID != cur.ClusterID:
		return fmt.Errorf("cluster: cannot move member %s from cluster %q to %q", cur.Name, cur.ClusterID, m.ClusterID)
	}
	s.mu.Lock()
	s.clusterID, s.id = m.ClusterID, m.ID // before serf checks its own new tags
	s.mu.Unlock()
	if err := s.serf.SetTags(MemberTags(m)); err != nil {
		s.mu.Lock()
		s.clusterID, s.id = cur.ClusterID, cur.ID
		s.mu.Unlock()
		return fmt.Errorf("cluster: update tags of %s: %w", cur.Name, err)
	}
	return nil
}

// Leave implements Membership: serf broadcasts the leave and lingers for
// its propagation delay (1 s; 0.2 s with FastTimings) so that peers learn
// of it before probing, then shuts down.
func (s *SerfMembership) Leave() error {
	s.markClosing()
	err := s.serf.Leave()
	return errors.Join(err, s.Close())
}

// Close implements Membership. It is safe to call more than once.
func (s *SerfMembership) Close() error {
	s.markClosing()
	// Shut serf down while run still drains serf's channel, so that no
	// serf goroutine is left blocked sending an event.
	err := s.serf.Shutdown()
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return err
}

func (s *SerfMembership) markClosing() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
}

// run is the one goroutine SerfMembership owns: it moves serf's member
// events, translated, to Events. It always drains serf's channel promptly
// (serf blocks, or drops events when it keeps a snapshot, if that channel
// is full) and holds up to eventsPendingMax events for a slow consumer.
// It returns when Close or Leave closes s.stop, or when serf shuts down on
// its own (it lost a name conflict), and closes Events.
func (s *SerfMembership) run() {
	defer close(s.done)
	defer close(s.events)
	var pending []Event
	shutdown := s.serf.ShutdownCh()
	for {
		var out chan<- Event
		var next Event
		if len(pending) > 0 {
			out, next = s.events, pending[0]
		}
		select {
		case e := <-s.serfEvents:
			pending = s.enqueue(pending, e)
		case out <- next:
			pending = pending[1:]
		case <-s.stop:
			return
		case <-shutdown:
			s.stoppedOnItsOwn()
			return
		}
	}
}

func (s *SerfMembership) enqueue(pending []Event, e serf.Event) []Event {
	me, ok := e.(serf.MemberEvent)
	if !ok {
		return pending // user events and queries: jocko sends none
	}
	kind, ok := eventKind(me.Type)
	if !ok {
		return pending
	}
	for _, m := range me.Members {
		if len(pending) >= eventsPendingMax {
			s.log.Warn("membership events not consumed; dropping one",
				"event", kind, "member", m.Name, "pending", len(pending))
			continue
		}
		pending = append(pending, Event{Kind: kind, Member: s.member(m)})
	}
	return pending
}

func (s *SerfMembership) stoppedOnItsOwn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	if s.conflict != nil {
		s.err = s.conflict
	} else {
		s.err = errors.New("cluster: serf shut down on its own")
	}
	s.log.Error("membership stopped", "err", s.err)
}

// eventKind maps serf's member event types to EventKind.
func eventKind(t serf.EventType) (EventKind, bool) {
	switch t {
	case serf.EventMemberJoin:
		return EventJoin, true
	case serf.EventMemberUpdate:
		return EventUpdate, true
	case serf.EventMemberFailed:
		return EventFail, true
	case serf.EventMemberLeave:
		return EventLeave, true
	case serf.EventMemberReap:
		return EventReap, true
	}
	return 0, false
}

// memberStatus maps serf's member status to MemberStatus: a member that
// announced its leave counts as left.
func memberStatus(st serf.MemberStatus) MemberStatus {
	switch st {
	case serf.StatusFailed:
		return StatusFailed
	case serf.StatusLeaving, serf.StatusLeft:
		return StatusLeft
	}
	return StatusAlive
}

// member converts a serf member. Tags that do not decode are logged; the
// merge delegate keeps such members out, so only a bug gets there.
func (s *SerfMembership) member(m serf.Member) Member {
	jm, err := MemberFromTags(m.Name, m.Tags)
	if err != nil {
		s.log.Warn("membership: member with bad tags", "err", err)
	}
	jm.GossipAddr = gossipAddr(m.Addr, m.Port)
	jm.Status = memberStatus(m.Status)
	return jm
}

func gossipAddr(ip net.IP, port uint16) string {
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
}

// serfMerge is serf's merge delegate. Serf asks it before merging with the
// members a join brings (on both sides of the join) and before admitting
// any member that gossip announces: it refuses members of another cluster
// and serf members that are not Jocko brokers.
type serfMerge struct{ s *SerfMembership }

// NotifyMerge implements serf.MergeDelegate.
func (d serfMerge) NotifyMerge(members []*serf.Member) error {
	s := d.s
	s.mu.Lock()
	local := s.clusterID
	s.mu.Unlock()
	ms := make([]Member, len(members))
	for i, m := range members {
		jm, err := MemberFromTags(m.Name, m.Tags)
		if err != nil {
			return s.refuse(fmt.Errorf("cluster: %s at %s is not a jocko broker: %w",
				m.Name, gossipAddr(m.Addr, m.Port), err))
		}
		jm.GossipAddr = gossipAddr(m.Addr, m.Port)
		ms[i] = jm
	}
	if want, i := clusterConflict(local, ms); i >= 0 {
		return s.refuse(&ClusterMismatchError{
			Local: want, Remote: ms[i].ClusterID, Member: ms[i].Name, Addr: ms[i].GossipAddr,
		})
	}
	return nil
}

func (s *SerfMembership) refuse(err error) error {
	s.mu.Lock()
	s.rejected = err
	s.rejectSeq++
	s.mu.Unlock()
	s.log.Warn("membership: refused to merge", "err", err)
	return err
}

// nameConflictLog is how serf reports, on the member whose name is
// claimed, that a live member elsewhere claims it too. Serf offers no other
// hook (memberlist's conflict delegate is serf's own), so serfLogWriter
// watches for this line; TestSerfNameConflict fails if serf rewords it.
const nameConflictLog = "serf: Node name conflicts with another node at "

// serfLogWriter turns serf's and memberlist's log lines ("[LEVEL] text")
// into Debug records, and notes name conflicts about the local member.
type serfLogWriter struct{ s *SerfMembership }

func (w serfLogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := ""
	if strings.HasPrefix(line, "[") {
		if i := strings.IndexByte(line, ']'); i > 0 {
			level, line = line[1:i], strings.TrimSpace(line[i+1:])
		}
	}
	w.s.log.Debug(line, "serf_level", level)
	if _, rest, ok := strings.Cut(line, nameConflictLog); ok {
		addr, _, _ := strings.Cut(rest, ". ")
		w.s.noteConflict(addr)
	}
	return len(p), nil
}

func (s *SerfMembership) noteConflict(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conflict = &NameConflictError{ID: s.id, Name: s.name, Addr: addr}
	s.conflictSeq++
	s.log.Warn("membership: another live member claims this member's name", "name", s.name, "other", addr)
}

// splitHostPort splits "host:port"; an empty host means all interfaces.
func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, int(port), nil
}

// resolveIP returns host if it is an IP address, else its first address.
func resolveIP(host string) (string, error) {
	if net.ParseIP(host) != nil {
		return host, nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("%s has no address", host)
	}
	return ips[0].String(), nil
}
