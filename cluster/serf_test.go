//go:build !wasip1

package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run real serf instances on loopback with FastTimings. The
// bounds below are hang guards sized well above what FastTimings gives
// (failure detected in ~2-4 s); they are not the assertions.
const (
	serfConvergeMax = 10 * time.Second // members see each other, tags spread
	serfFailMax     = 15 * time.Second // a crashed member is reported failed
)

// serfNode is one SerfMembership under test with a record of its events.
type serfNode struct {
	*SerfMembership
	cfg SerfConfig
	rec *serfEventRecorder
}

// serfTestMember is the Member a test broker with this ID announces.
func serfTestMember(name string, id int32, clusterID string) Member {
	return Member{
		ID: id, Name: name, ClusterID: clusterID,
		KafkaAddr: fmt.Sprintf("127.0.0.1:%d", 19090+id),
		RaftAddr:  fmt.Sprintf("127.0.0.1:%d", 29090+id),
		Rack:      fmt.Sprintf("rack-%d", id%2),
	}
}

// startSerf starts a member on a free loopback port; the test's cleanup
// closes it.
func startSerf(t *testing.T, local Member, edit ...func(*SerfConfig)) *serfNode {
	t.Helper()
	cfg := SerfConfig{
		BindAddr:    "127.0.0.1:0",
		Local:       local,
		Log:         serfTestLog(t, local.Name),
		FastTimings: true,
	}
	for _, e := range edit {
		e(&cfg)
	}
	m, err := NewSerfMembership(cfg)
	if err != nil {
		t.Fatalf("NewSerfMembership(%s): %v", local.Name, err)
	}
	n := &serfNode{SerfMembership: m, cfg: cfg, rec: recordSerfEvents(m)}
	t.Cleanup(func() { m.Close() })
	return n
}

// startSerfCluster starts members jocko-1..jocko-n of one cluster, the others
// joining through the first, and waits until every member sees all alive.
func startSerfCluster(t *testing.T, n int) []*serfNode {
	t.Helper()
	var nodes []*serfNode
	for id := int32(1); id <= int32(n); id++ {
		nodes = append(nodes, startSerf(t, serfTestMember(MemberName(id), id, "c1")))
	}
	serfJoin(t, nodes[1:], nodes[0])
	waitSerfAlive(t, nodes...)
	return nodes
}

func serfJoin(t *testing.T, joiners []*serfNode, via *serfNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), serfConvergeMax)
	defer cancel()
	for _, j := range joiners {
		if err := j.Join(ctx, []string{via.Local().GossipAddr}); err != nil {
			t.Fatalf("%s joins via %s: %v", j.name, via.name, err)
		}
	}
}

// waitSerfAlive waits until every node sees exactly nodes, all alive.
func waitSerfAlive(t *testing.T, nodes ...*serfNode) {
	t.Helper()
	var want []string
	for _, n := range nodes {
		want = append(want, n.name)
	}
	slices.Sort(want)
	for _, n := range nodes {
		serfPoll(t, serfConvergeMax, n.name+" sees "+strings.Join(want, ","), func() bool {
			var got []string
			for _, m := range n.Members() {
				if m.Status == StatusAlive {
					got = append(got, m.Name)
				}
			}
			return slices.Equal(got, want) // Members is sorted by name
		})
	}
}

func TestSerfMembersJoinThroughOneAddress(t *testing.T) {
	t.Parallel()
	nodes := startSerfCluster(t, 3)
	var want []Member
	for _, n := range nodes {
		m := n.cfg.Local
		m.GossipAddr = n.Local().GossipAddr
		m.Status = StatusAlive
		want = append(want, m)
	}
	for _, n := range nodes {
		if got := n.Members(); !slices.Equal(got, want) {
			t.Errorf("%s: Members() = %+v, want %+v", n.name, got, want)
		}
		if got := n.Local(); got != want[n.cfg.Local.ID-1] {
			t.Errorf("%s: Local() = %+v, want %+v", n.name, got, want[n.cfg.Local.ID-1])
		}
		// Every member, itself included, arrived through a Join event
		// carrying its tags.
		for _, w := range want {
			n.rec.wait(t, serfConvergeMax, Event{Kind: EventJoin, Member: w})
		}
	}
}

func TestSerfClosedMemberIsReportedFailed(t *testing.T) {
	t.Parallel()
	nodes := startSerfCluster(t, 3)
	crashed := nodes[2]
	start := time.Now()
	if err := crashed.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, n := range nodes[:2] {
		ev := n.rec.waitFor(t, serfFailMax, "fail of "+crashed.name, func(e Event) bool {
			return e.Member.Name == crashed.name && e.Kind != EventJoin
		})
		if ev.Kind != EventFail || ev.Member.Status != StatusFailed {
			t.Errorf("%s: first event about %s after its crash is %v (status %v), want fail", n.name, crashed.name, ev, ev.Member.Status)
		}
		if st := serfStatusOf(n.Members(), crashed.name); st != StatusFailed {
			t.Errorf("%s: Members() has %s %v, want failed", n.name, crashed.name, st)
		}
	}
	t.Logf("failure detected by both peers %v after Close", time.Since(start).Round(10*time.Millisecond))
	if _, open := <-crashed.Events(); open {
		t.Errorf("Events of a closed member still open")
	}
	if err := crashed.Err(); err != nil {
		t.Errorf("Err() after Close = %v, want nil", err)
	}
}

func TestSerfLeaveIsReportedAsLeaveNotFail(t *testing.T) {
	t.Parallel()
	nodes := startSerfCluster(t, 3)
	leaver := nodes[2]
	if err := leaver.Leave(); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	for _, n := range nodes[:2] {
		ev := n.rec.waitFor(t, serfConvergeMax, "leave of "+leaver.name, func(e Event) bool {
			return e.Member.Name == leaver.name && e.Kind != EventJoin
		})
		if ev.Kind != EventLeave || ev.Member.Status != StatusLeft {
			t.Errorf("%s: first event about %s after it left is %v (status %v), want leave", n.name, leaver.name, ev, ev.Member.Status)
		}
		if st := serfStatusOf(n.Members(), leaver.name); st != StatusLeft {
			t.Errorf("%s: Members() has %s %v, want left", n.name, leaver.name, st)
		}
	}
	if err := leaver.Close(); err != nil {
		t.Errorf("Close after Leave: %v", err)
	}
}

func TestSerfUpdateTagsPropagates(t *testing.T) {
	t.Parallel()
	nodes := startSerfCluster(t, 2)
	// A new broker joins before it has an ID or knows the cluster ID.
	joiner := startSerf(t, Member{Name: "jocko-new-x1", KafkaAddr: "127.0.0.1:19999"})
	serfJoin(t, []*serfNode{joiner}, nodes[1])
	waitSerfAlive(t, append(nodes, joiner)...)
	if got := serfStatusOf(nodes[0].Members(), joiner.name); got != StatusAlive {
		t.Fatalf("joiner %v at %s", got, nodes[0].name)
	}
	m := joiner.Local()
	m.ID, m.ClusterID, m.Rack, m.RaftAddr = 7, nodes[0].Local().ClusterID, "rack-x", "127.0.0.1:29999"
	if err := joiner.UpdateTags(m); err != nil {
		t.Fatalf("UpdateTags: %v", err)
	}
	if got := joiner.Local(); got != m {
		t.Errorf("Local() after UpdateTags = %+v, want %+v", got, m)
	}
	for _, n := range nodes {
		n.rec.wait(t, serfConvergeMax, Event{Kind: EventUpdate, Member: m})
		if got := serfMemberNamed(n.Members(), m.Name); got != m {
			t.Errorf("%s: Members() has %+v, want %+v", n.name, got, m)
		}
	}
	// What cannot change is refused.
	for _, bad := range []func(*Member){
		func(b *Member) { b.Name = "jocko-7" },
		func(b *Member) { b.ClusterID = "other" },
		func(b *Member) { b.GossipAddr = "127.0.0.1:1" },
	} {
		b := m
		bad(&b)
		if err := joiner.UpdateTags(b); err == nil {
			t.Errorf("UpdateTags(%+v) succeeded, want an error", b)
		}
	}
}

func TestSerfRefusesMembersOfAnotherCluster(t *testing.T) {
	t.Parallel()
	nodes := startSerfCluster(t, 2)
	other := startSerf(t, serfTestMember(MemberName(9), 9, "c2"))
	ctx, cancel := context.WithTimeout(context.Background(), serfConvergeMax)
	defer cancel()
	err := other.Join(ctx, []string{nodes[0].Local().GossipAddr})
	var mismatch *ClusterMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("Join into another cluster: err = %v, want a ClusterMismatchError", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Join retried until its deadline; a mismatch should fail at once")
	}
	if mismatch.Local != "c2" || mismatch.Remote != "c1" || !strings.Contains(err.Error(), `cluster "c1", not "c2"`) {
		t.Errorf("error = %q (%+v), want it to name both clusters", err, mismatch)
	}
	t.Logf("Join error: %v", err)
	if got := len(other.Members()); got != 1 {
		t.Errorf("refused member knows %d members, want only itself", got)
	}
	for _, n := range nodes {
		if st := serfStatusOf(n.Members(), other.name); st != serfStatusAbsent {
			t.Errorf("%s admitted %s of another cluster (%v)", n.name, other.name, st)
		}
	}
}

func TestSerfNameConflict(t *testing.T) {
	t.Parallel()
	nodes := startSerfCluster(t, 3)
	owner := nodes[0]
	// A second broker configured with broker ID 1 joins through jocko-2.
	impostor := startSerf(t, serfTestMember(MemberName(1), 1, "c1"))
	ctx, cancel := context.WithTimeout(context.Background(), serfConvergeMax)
	defer cancel()
	err := impostor.Join(ctx, []string{nodes[1].Local().GossipAddr})
	var conflict *NameConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("Join with a taken name: err = %v, want a NameConflictError", err)
	}
	want := "cluster: broker ID 1 is already in use by a live broker at " + owner.Local().GossipAddr
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	// Serf's conflict resolution asks the cluster; the impostor loses and
	// stops on its own, the owner stays.
	serfPoll(t, serfConvergeMax, "the impostor to stop", func() bool { return impostor.Err() != nil })
	if !errors.As(impostor.Err(), &conflict) {
		t.Errorf("impostor Err() = %v, want the NameConflictError", impostor.Err())
	}
	for range impostor.Events() {
	} // closed once it stopped
	if err := owner.Err(); err != nil {
		t.Errorf("owner Err() = %v", err)
	}
	for _, n := range nodes {
		if got := serfMemberNamed(n.Members(), owner.name); got.GossipAddr != owner.Local().GossipAddr || got.Status != StatusAlive {
			t.Errorf("%s: %s is %+v, want alive at the owner's address", n.name, owner.name, got)
		}
	}
}

func TestSerfJoinRetriesUntilContextEnds(t *testing.T) {
	t.Parallel()
	n := startSerf(t, serfTestMember(MemberName(1), 1, "c1"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there now
	const limit = 1500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	err = n.Join(ctx, []string{dead})
	took := time.Since(start)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), dead) {
		t.Fatalf("Join(%s) = %v, want a deadline error naming the address", dead, err)
	}
	// It retried until the context ended, not a moment less (a timed
	// lower bound would race the deadline itself), and no long while after.
	if ctx.Err() == nil {
		t.Errorf("Join gave up after %v, before its %v context ended", took, limit)
	}
	if took > limit+10*time.Second {
		t.Errorf("Join returned %v after its %v context ended", took-limit, limit)
	}
	t.Logf("Join error: %v", err)
	if got := len(n.Members()); got != 1 {
		t.Errorf("%d members after a failed join, want 1", got)
	}
}

func TestSerfRestartRejoinsFromSnapshot(t *testing.T) {
	t.Parallel()
	nodes := startSerfCluster(t, 2)
	snap := filepath.Join(t.TempDir(), "serf.snapshot")
	withSnap := func(c *SerfConfig) { c.SnapshotPath = snap }
	c := startSerf(t, serfTestMember(MemberName(3), 3, "c1"), withSnap)
	serfJoin(t, []*serfNode{c}, nodes[0])
	waitSerfAlive(t, append(nodes, c)...)
	addr := c.Local().GossipAddr
	if err := c.Close(); err != nil { // a crash: no leave recorded
		t.Fatal(err)
	}
	// The restarted member, on the same address, calls no Join.
	again := startSerf(t, c.cfg.Local, withSnap, func(cfg *SerfConfig) { cfg.BindAddr = addr })
	waitSerfAlive(t, append(nodes, again)...)
}

// serfStatusAbsent is what serfStatusOf reports for a member not in the list.
const serfStatusAbsent MemberStatus = 255

func serfStatusOf(ms []Member, name string) MemberStatus {
	for _, m := range ms {
		if m.Name == name {
			return m.Status
		}
	}
	return serfStatusAbsent
}

func serfMemberNamed(ms []Member, name string) Member {
	for _, m := range ms {
		if m.Name == name {
			return m
		}
	}
	return Member{}
}

// serfEventRecorder keeps every event of one member. Its goroutine ends when
// the member's Events channel closes (Close, Leave, or a stop on its own).
type serfEventRecorder struct {
	mu     sync.Mutex // guards events
	events []Event
}

func recordSerfEvents(m Membership) *serfEventRecorder {
	r := &serfEventRecorder{}
	go func() {
		for e := range m.Events() {
			r.mu.Lock()
			r.events = append(r.events, e)
			r.mu.Unlock()
		}
	}()
	return r
}

// waitFor returns the first recorded event that match accepts, waiting up
// to limit for it.
func (r *serfEventRecorder) waitFor(t *testing.T, limit time.Duration, what string, match func(Event) bool) Event {
	t.Helper()
	var found Event
	serfPoll(t, limit, what, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		i := slices.IndexFunc(r.events, match)
		if i >= 0 {
			found = r.events[i]
		}
		return i >= 0
	})
	return found
}

func (r *serfEventRecorder) wait(t *testing.T, limit time.Duration, want Event) {
	t.Helper()
	r.waitFor(t, limit, fmt.Sprintf("event %v %+v", want, want.Member), func(e Event) bool { return e == want })
}

// serfPoll polls cond until it holds, failing the test after limit.
func serfPoll(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("gave up after %v waiting for %s", limit, what)
		case <-tick.C:
		}
	}
}

// serfTestLog collects a member's log (serf's at Debug included) and prints it
// if the test fails. Serf may still log after the test ends; that goes
// to the buffer only.
func serfTestLog(t *testing.T, name string) *slog.Logger {
	var buf serfLogBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type serfLogBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *serfLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *serfLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
