package main

// End-to-end tests of the group consumers of other client libraries against
// the real broker binary: librdkafka (kcat -G), sarama, kafka-go and
// kafka-python. Each runs three members over real sockets, checks that the
// partitions are spread and each consumed by one member at a time, stops one
// member and checks the others take its partitions over, and that committed
// offsets survive a member's restart.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientGroupBrokerFlags keep group tests fast: no initial rebalance delay
// and session timeouts down to one second.
var clientGroupBrokerFlags = []string{"--group.initial.rebalance.delay.ms=0", "--group.min.session.timeout.ms=1000"}

// cgCtx is a test context with a deadline well inside the test time budget.
func cgCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// cgCreateTopic creates topic with n partitions.
func cgCreateTopic(t *testing.T, b *proc, topic string, n int32) {
	t.Helper()
	resp, err := b.admin(t).CreateTopic(cgCtx(t, 30*time.Second), n, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// cgProduce writes the values from..to-1 (as decimal strings) to topic,
// value i to partition i%parts, so every partition gets records.
// Uncompressed: kafka-python from Debian has no snappy.
func cgProduce(t *testing.T, b *proc, topic string, parts, from, to int) {
	t.Helper()
	cl := b.client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		rs = append(rs, &kgo.Record{Value: []byte(strconv.Itoa(i)), Partition: int32(i % parts)})
	}
	if err := cl.ProduceSync(cgCtx(t, 30*time.Second), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

// cgGroupAssignment describes the group as the broker sees it: its state
// and, per member client ID + member ID, the partitions of topic assigned.
func cgGroupAssignment(t *testing.T, b *proc, group, topic string) (string, map[string][]int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	adm := b.admin(t)
	defer adm.Close()
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", nil
	}
	g, ok := described[group]
	if !ok || g.Err != nil {
		return "", nil
	}
	out := map[string][]int32{}
	for _, m := range g.Members {
		var parts []int32
		if ca, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range ca.Topics {
				if tp.Topic == topic {
					parts = append(parts, tp.Partitions...)
				}
			}
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		out[m.ClientID+"/"+m.MemberID] = parts
	}
	return g.State, out
}

// cgSpread reports whether the group is Stable with n members that between
// them own each of parts partitions exactly once, each member some.
func cgSpread(state string, assigned map[string][]int32, n, parts int) bool {
	if state != "Stable" || len(assigned) != n {
		return false
	}
	seen := map[int32]int{}
	for _, ps := range assigned {
		if len(ps) == 0 {
			return false
		}
		for _, p := range ps {
			seen[p]++
		}
	}
	if len(seen) != parts {
		return false
	}
	for _, c := range seen {
		if c != 1 {
			return false
		}
	}
	return true
}

// cgRecord is one consumed record as a client reported it.
type cgRecord struct {
	partition int32
	offset    int64
	value     int
}

// cgLog collects what one group member consumed.
type cgLog struct {
	mu   sync.Mutex
	recs []cgRecord
}

func (l *cgLog) add(r cgRecord) {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
}

func (l *cgLog) snapshot() []cgRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]cgRecord(nil), l.recs...)
}

// cgCovered reports whether the logs together hold every value in [from, to).
func cgCovered(logs []*cgLog, from, to int) bool {
	seen := map[int]bool{}
	for _, l := range logs {
		for _, r := range l.snapshot() {
			if r.value >= from && r.value < to {
				seen[r.value] = true
			}
		}
	}
	return len(seen) == to-from
}

// cgMissing lists (a few of) the values in [from, to) no log holds.
func cgMissing(logs []*cgLog, from, to int) string {
	seen := map[int]bool{}
	for _, l := range logs {
		for _, r := range l.snapshot() {
			seen[r.value] = true
		}
	}
	var miss []string
	for v := from; v < to; v++ {
		if !seen[v] {
			miss = append(miss, strconv.Itoa(v))
		}
	}
	if len(miss) > 20 {
		miss = append(miss[:20], "...")
	}
	return fmt.Sprintf("%d missing: %s", to-from-len(seen), strings.Join(miss, ","))
}

// cgCheckValues checks every record a log holds is where it was produced:
// value v on partition v%parts.
func cgCheckValues(t *testing.T, name string, l *cgLog, parts int) {
	t.Helper()
	for _, r := range l.snapshot() {
		if int(r.partition) != r.value%parts {
			t.Fatalf("%s consumed value %d from partition %d, it was produced to %d", name, r.value, r.partition, r.value%parts)
		}
	}
}

// cgConsumersOf returns, for the values in [from, to), which logs (by index)
// consumed records of each partition.
func cgConsumersOf(logs []*cgLog, from, to int) map[int32]map[int]bool {
	out := map[int32]map[int]bool{}
	for i, l := range logs {
		for _, r := range l.snapshot() {
			if r.value < from || r.value >= to {
				continue
			}
			if out[r.partition] == nil {
				out[r.partition] = map[int]bool{}
			}
			out[r.partition][i] = true
		}
	}
	return out
}

// cgExactlyOnce checks each value in [from, to) was consumed exactly once
// across the logs (the group was stable and nobody left while they were
// consumed, so there is no excuse for a duplicate).
func cgExactlyOnce(t *testing.T, logs []*cgLog, names []string, from, to int) {
	t.Helper()
	count := map[int][]string{}
	for i, l := range logs {
		for _, r := range l.snapshot() {
			if r.value >= from && r.value < to {
				count[r.value] = append(count[r.value], names[i])
			}
		}
	}
	for v := from; v < to; v++ {
		if len(count[v]) != 1 {
			t.Fatalf("value %d consumed %d times (by %v), want once", v, len(count[v]), count[v])
		}
	}
}

// cgLine is a running client process whose stdout lines are parsed into a
// cgLog and whose stderr is kept for failure messages.
type cgLine struct {
	name string
	// ownerLines: the client prints "# assigned <p> ..." after each
	// rebalance (owns is the last such line)
	ownerLines bool
	owns       []int32
	cmd        *exec.Cmd
	log        cgLog
	mu         sync.Mutex
	stderr     strings.Builder
	exited     chan struct{}
}

// Owned is what the process last said it owns, if it says.
func (p *cgLine) Owned() ([]int32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int32(nil), p.owns...), p.ownerLines
}

// cgStart runs a client process. Its stdout must carry lines
// "<partition> <offset> <value>"; others are ignored.
func cgStart(t *testing.T, name string, path string, args ...string) *cgLine {
	t.Helper()
	p := &cgLine{name: name, cmd: exec.Command(path, args...), exited: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "# assigned"); ok {
				var owns []int32
				for _, f := range strings.Fields(rest) {
					n, _ := strconv.Atoi(f)
					owns = append(owns, int32(n))
				}
				p.mu.Lock()
				p.owns = owns
				p.mu.Unlock()
				continue
			}
			var r cgRecord
			if n, _ := fmt.Sscanf(sc.Text(), "%d %d %d", &r.partition, &r.offset, &r.value); n == 3 {
				p.log.add(r)
			}
		}
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() {
		readers.Wait()
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	})
	return p
}

func (p *cgLine) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stderr.String()
	if len(s) > 8000 {
		s = "...\n" + s[len(s)-8000:]
	}
	return s
}

func (p *cgLine) stderrAll() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *cgLine) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// term stops the process with SIGTERM (a client's clean shutdown: it leaves
// the group) and waits for it to exit.
func (p *cgLine) term(t *testing.T, ctx context.Context) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-ctx.Done():
		t.Fatalf("%s did not exit after SIGTERM:\n%s", p.name, p.stderrText())
	}
}

// cgWait polls cond until it holds, failing with what(), the broker's log
// tail and the clients' stderr when ctx ends first.
func cgWait(t *testing.T, ctx context.Context, b *proc, ps []*cgLine, what func() string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			var sb strings.Builder
			for _, p := range ps {
				if p != nil {
					fmt.Fprintf(&sb, "--- %s stderr:\n%s\n", p.name, p.stderrText())
				}
			}
			logs := b.logText()
			if len(logs) > 8000 {
				logs = "...\n" + logs[len(logs)-8000:]
			}
			t.Fatalf("timed out waiting: %s\n%s--- broker log:\n%s", what(), sb.String(), logs)
		}
		waitABit(ctx)
	}
}

var _ io.Reader
var _ = kadm.NewClient

// cgOwnerCheck checks that, among values in [from, to), each partition was
// consumed by exactly one log and that it is the log whose member the
// broker assigned that partition (owner maps partition → log index).
func cgOwnerCheck(t *testing.T, logs []*cgLog, names []string, owner map[int32]int, from, to int) {
	t.Helper()
	for p, who := range cgConsumersOf(logs, from, to) {
		if len(who) != 1 {
			var ns []string
			for i := range who {
				ns = append(ns, names[i])
			}
			t.Fatalf("partition %d consumed by %v at once, want one member", p, ns)
		}
		for i := range who {
			if o, ok := owner[p]; !ok || o != i {
				t.Fatalf("partition %d consumed by %s, but the broker assigned it to member %d", p, names[i], o)
			}
		}
	}
}

// cgOwners maps each partition to the index of the client (by client ID, in
// clientIDs) that the broker's assignment gives it to.
func cgOwners(assigned map[string][]int32, clientIDs []string) map[int32]int {
	out := map[int32]int{}
	for key, ps := range assigned {
		cid := key[:strings.IndexByte(key, '/')]
		for i, c := range clientIDs {
			if c == cid {
				for _, p := range ps {
					out[p] = i
				}
			}
		}
	}
	return out
}

// cgMember is one running group member of some client library.
type cgMember interface {
	Name() string
	Log() *cgLog
	// Stop shuts the member down cleanly: it commits what it consumed and
	// leaves the group.
	Stop(t *testing.T, ctx context.Context)
	// Diag is what the member has to say when the test fails (its stderr,
	// its errors).
	Diag() string
	// Err is non-nil when the member died or reported a fatal error.
	Err() error
}

// cgOwnerView is implemented by members that report which partitions they
// were given (a rebalance callback); the scenario then waits for the
// members to agree with the broker.
type cgOwnerView interface {
	Owned() ([]int32, bool)
}

// cgScenario is what every client's test runs, with start starting one
// member of group on topic (six partitions) with the given client ID:
//
//  1. three members join; the broker spreads the partitions among them,
//     each some; 600 records are consumed, each once, each partition by
//     the member the broker assigned it to;
//  2. one member stops (commits, leaves); the two others get all the
//     partitions; 600 more records are consumed, each once, and none of
//     the first 600 again (the leaver committed them);
//  3. it comes back: three members again, 600 more records consumed each
//     once, and the returning member reads nothing it committed before.
//
// With crash > 0 (the members' session timeout), the member in step 2 is
// killed with SIGKILL instead, once the group has committed everything:
// no LeaveGroup; the broker must expel it when its session times out, not
// before; the two others resume from its commits (nothing read twice).
//
// The broker is reached through px, which checks the members really sent
// the group requests (LeaveGroup when they stop) and logs their versions.
func cgScenario(t *testing.T, b *proc, px *cgProxy, group, topic string, crash time.Duration, start func(clientID string) cgMember) {
	ctx := cgCtx(t, 50*time.Second)
	const parts = 6
	cgCreateTopic(t, b, topic, parts)
	names := []string{group + "-a", group + "-b", group + "-c"}
	ms := make([]cgMember, 3)
	logs := make([]*cgLog, 3)
	for i, n := range names {
		ms[i] = start(n)
		logs[i] = ms[i].Log()
	}
	var state string
	var assigned map[string][]int32
	active := 3 // ms[:active] are running
	fail := func(what string) {
		var sb strings.Builder
		for _, m := range ms {
			fmt.Fprintf(&sb, "--- %s:\n%s\n", m.Name(), m.Diag())
		}
		logs := b.logText()
		if len(logs) > 8000 {
			logs = "...\n" + logs[len(logs)-8000:]
		}
		t.Fatalf("%s\n%s--- broker log:\n%s", what, sb.String(), logs)
	}
	wait := func(what func() string, cond func() bool) {
		t.Helper()
		for !cond() {
			for _, m := range ms[:active] {
				if err := m.Err(); err != nil {
					fail(fmt.Sprintf("%s failed: %v (waiting for %s)", m.Name(), err, what()))
				}
			}
			if ctx.Err() != nil {
				fail("timed out waiting for " + what())
			}
			waitABit(ctx)
		}
	}
	// spread waits until the broker has the first n members Stable with all
	// partitions spread, and the members that say what they own agree.
	spread := func(n int) map[int32]int {
		t.Helper()
		var owner map[int32]int
		wait(func() string { return fmt.Sprintf("%d members to share the partitions: %s %v", n, state, assigned) }, func() bool {
			state, assigned = cgGroupAssignment(t, b, group, topic)
			if !cgSpread(state, assigned, n, parts) {
				return false
			}
			owner = cgOwners(assigned, names[:n])
			if len(owner) != parts {
				return false
			}
			for i, m := range ms[:n] {
				if v, ok := m.(cgOwnerView); ok {
					owned, ok := v.Owned()
					if !ok {
						continue
					}
					mine := map[int32]bool{}
					for _, p := range owned {
						mine[p] = true
					}
					for p := int32(0); p < parts; p++ {
						if mine[p] != (owner[p] == i) {
							return false
						}
					}
				}
			}
			return true
		})
		t.Logf("%d members: %v", n, assigned)
		return owner
	}
	consume := func(n, from, to int) {
		t.Helper()
		wait(func() string { return cgMissing(logs[:n], from, to) }, func() bool { return cgCovered(logs[:n], from, to) })
	}

	owner := spread(3)
	cgProduce(t, b, topic, parts, 0, 600)
	consume(3, 0, 600)
	for i, l := range logs {
		cgCheckValues(t, names[i], l, parts)
	}
	cgExactlyOnce(t, logs, names, 0, 600)
	cgOwnerCheck(t, logs, names, owner, 0, 600)

	if crash == 0 {
		ms[2].Stop(t, ctx)
		active = 2
		owner = spread(2)
		if len(px.versions(names[2])[13]) == 0 {
			fail(names[2] + " stopped without sending LeaveGroup")
		}
	} else {
		wait(func() string { return "the group to commit all it consumed" }, func() bool { return cgAllCommitted(t, b, group, topic) })
		killed := time.Now()
		ms[2].(cgKiller).Kill9(t, ctx)
		active = 2
		owner = spread(2)
		if el := time.Since(killed); el < crash*3/4 {
			fail(fmt.Sprintf("%s was expelled %v after it died, before its session timeout of %v", names[2], el, crash))
		} else {
			t.Logf("%s expelled %v after SIGKILL (session timeout %v)", names[2], el.Round(time.Millisecond), crash)
		}
		if len(px.versions(names[2])[13]) != 0 {
			fail(names[2] + " sent LeaveGroup before it was killed")
		}
	}
	cgProduce(t, b, topic, parts, 600, 1200)
	consume(2, 600, 1200)
	cgOwnerCheck(t, logs[:2], names[:2], owner, 600, 1200)
	cgExactlyOnce(t, logs, names, 0, 1200)

	gone := logs[2]
	ms[2] = start(names[2])
	logs[2] = ms[2].Log()
	active = 3
	owner = spread(3)
	cgProduce(t, b, topic, parts, 1200, 1800)
	consume(3, 1200, 1800)
	for i, l := range logs {
		cgCheckValues(t, names[i], l, parts)
	}
	cgOwnerCheck(t, logs, names, owner, 1200, 1800)
	cgExactlyOnce(t, append(logs, gone), append(names, names[2]+" (before it left)"), 0, 1800)
	back := logs[2].snapshot()
	if len(back) == 0 {
		fail("the returning member consumed nothing")
	}
	for _, r := range back {
		if r.value < 1200 {
			fail(fmt.Sprintf("the returning member re-read value %d at %d/%d, below the offsets it committed", r.value, r.partition, r.offset))
		}
	}
	for _, m := range ms {
		if err := m.Err(); err != nil {
			fail(fmt.Sprintf("%s failed: %v", m.Name(), err))
		}
	}
	used := px.versions(group)
	for _, k := range []int16{8, 9, 10, 11, 12, 13, 14} {
		if len(used[k]) == 0 && (k != 13 || crash == 0) {
			fail(fmt.Sprintf("the members never sent %s: %s", kmsg.NameForKey(k), px.describe(group)))
		}
	}
	t.Logf("requests sent: %s", px.describe(group))
}

// cgKiller is a member that can die without a word (SIGKILL).
type cgKiller interface {
	Kill9(t *testing.T, ctx context.Context)
}

// cgAllCommitted reports whether group's committed offsets of topic are at
// the end of each of its partitions.
func cgAllCommitted(t *testing.T, b *proc, group, topic string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	adm := b.admin(t)
	defer adm.Close()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return false
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	ok := true
	ends.Each(func(o kadm.ListedOffset) {
		c, found := committed.Lookup(topic, o.Partition)
		if !found || c.Err != nil || c.At != o.Offset {
			ok = false
		}
	})
	return ok
}

// Kill9 kills the process with SIGKILL: it neither commits nor leaves.
func (p *cgLine) Kill9(t *testing.T, ctx context.Context) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-ctx.Done():
		t.Fatalf("%s did not exit after SIGKILL", p.name)
	}
}

// cgLine implements cgMember for a client process.
func (p *cgLine) Name() string                           { return p.name }
func (p *cgLine) Log() *cgLog                            { return &p.log }
func (p *cgLine) Diag() string                           { return p.stderrText() }
func (p *cgLine) Stop(t *testing.T, ctx context.Context) { p.term(t, ctx) }
func (p *cgLine) Err() error {
	if !p.running() {
		return fmt.Errorf("exited: %v", p.cmd.ProcessState)
	}
	return nil
}

// TestE2EGroupClientsKcat: `kcat -G` balanced consumers (librdkafka 2.0,
// JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v1, FindCoordinator
// v2, OffsetCommit/Fetch v7) under each of librdkafka's assignors; SIGTERM
// makes kcat commit and leave; range-kill9 kills a member with SIGKILL
// instead, which the broker expels after its session timeout (3 s there).
// JOCKO_TEST_KCAT_DEBUG=protocol,cgrp writes
// librdkafka's debug log of each process to $TMPDIR/kcat-debug-*.
func TestE2EGroupClientsKcat(t *testing.T) {
	kcat := needKcat(t)
	b, px := startProxiedBroker(t, clientGroupBrokerFlags...)
	for _, tc := range []struct {
		name, strategy string
		crash          time.Duration
	}{
		{"range", "range", 0},
		{"roundrobin", "roundrobin", 0},
		{"cooperative-sticky", "cooperative-sticky", 0},
		{"range-kill9", "range", 3 * time.Second},
	} {
		strategy := tc.strategy
		session := 6 * time.Second
		if tc.crash > 0 {
			session = tc.crash
		}
		t.Run(tc.name, func(t *testing.T) {
			var started []*cgLine
			group := "kcat-" + tc.name
			cgScenario(t, b, px, group, group, tc.crash, func(n string) cgMember {
				args := []string{"-b", b.addr, "-G", group, group, "-u",
					// not -o beginning: kcat then assigns every partition at
					// BEGINNING itself and ignores the committed offsets.
					"-X", "auto.offset.reset=earliest",
					"-f", "%p %o %s\n",
					"-X", "client.id=" + n,
					"-X", "partition.assignment.strategy=" + strategy,
					"-X", "session.timeout.ms=" + strconv.Itoa(int(session.Milliseconds())),
					"-X", "heartbeat.interval.ms=300",
					"-X", "auto.commit.interval.ms=200",
					"-X", "topic.metadata.refresh.interval.ms=1000",
					"-X", "fetch.wait.max.ms=100"}
				if d := os.Getenv("JOCKO_TEST_KCAT_DEBUG"); d != "" {
					args = append(args, "-d", d)
				}
				p := cgStart(t, n, kcat, args...)
				started = append(started, p)
				return p
			})
			if os.Getenv("JOCKO_TEST_KCAT_DEBUG") != "" {
				for i, p := range started {
					os.WriteFile(filepath.Join(os.TempDir(), fmt.Sprintf("kcat-debug-%s-%d-%s", tc.name, i, p.name)), []byte(p.stderrAll()), 0o644)
				}
			}
		})
	}
}

// goMember is an in-process group member (sarama, kafka-go).
type goMember struct {
	name string
	log  cgLog
	mu   sync.Mutex
	owns []int32
	// reportsOwned: the client tells what it owns (sarama's Setup)
	reportsOwned bool
	errs         []string
	fatal        error
	cancel       context.CancelFunc
	done         chan struct{}
	close        func() error
}

func (m *goMember) Name() string { return m.name }
func (m *goMember) Log() *cgLog  { return &m.log }

func (m *goMember) Owned() ([]int32, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int32(nil), m.owns...), m.reportsOwned
}

func (m *goMember) setOwned(ps []int32) {
	m.mu.Lock()
	m.owns = append([]int32(nil), ps...)
	m.mu.Unlock()
}

func (m *goMember) note(err error) {
	m.mu.Lock()
	if len(m.errs) < 50 {
		m.errs = append(m.errs, time.Now().Format("15:04:05.000 ")+err.Error())
	}
	m.mu.Unlock()
}

func (m *goMember) setFatal(err error) {
	m.mu.Lock()
	m.fatal = err
	m.mu.Unlock()
}

func (m *goMember) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fatal
}

func (m *goMember) Diag() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.errs, "\n")
}

// Stop ends the consume loop and closes the client (commit, LeaveGroup).
func (m *goMember) Stop(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-m.done:
		return
	default:
	}
	m.cancel()
	select {
	case <-m.done:
	case <-ctx.Done():
		t.Fatalf("%s: consume loop did not end", m.name)
	}
	if err := m.close(); err != nil {
		t.Fatalf("%s: close: %v", m.name, err)
	}
}

// saramaHandler records claims and messages; MarkMessage commits (with
// sarama's auto-commit of marked offsets).
type saramaHandler struct {
	m     *goMember
	topic string
}

func (h saramaHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.m.setOwned(s.Claims()[h.topic])
	return nil
}

func (h saramaHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.m.setOwned(nil)
	return nil
}

func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for msg := range c.Messages() {
		v, err := strconv.Atoi(string(msg.Value))
		if err != nil {
			return err
		}
		h.m.log.add(cgRecord{partition: msg.Partition, offset: msg.Offset, value: v})
		s.MarkMessage(msg, "")
	}
	return nil
}

func startSarama(t *testing.T, b *proc, group, topic, clientID string, version sarama.KafkaVersion, strategy sarama.BalanceStrategy) cgMember {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.ClientID = clientID
	cfg.Version = version
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strategy}
	cfg.Consumer.Group.Session.Timeout = 6 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cg, err := sarama.NewConsumerGroup([]string{b.addr}, group, cfg)
	if err != nil {
		t.Fatalf("%s: %v", clientID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &goMember{name: clientID, cancel: cancel, done: make(chan struct{}), close: cg.Close, reportsOwned: true}
	go func() {
		for err := range cg.Errors() {
			m.note(err)
		}
	}()
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, saramaHandler{m, topic}); err != nil {
				m.note(err)
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					m.setFatal(err)
					return
				}
				waitABit(ctx)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-m.done; cg.Close() })
	return m
}

// TestE2EGroupClientsSarama: sarama's ConsumerGroup, at old and new
// protocol versions, with its range, sticky and round-robin strategies.
// sarama picks request versions from Config.Version: V2_1_0_0 sends
// JoinGroup v3, SyncGroup/Heartbeat/LeaveGroup v2, OffsetCommit v6,
// FindCoordinator v2 ... V3_x and V4_x JoinGroup v6+ and flexible versions.
func TestE2EGroupClientsSarama(t *testing.T) {
	b, px := startProxiedBroker(t, clientGroupBrokerFlags...)
	for _, tc := range []struct {
		name     string
		version  sarama.KafkaVersion
		strategy func() sarama.BalanceStrategy
	}{
		{"v2.1-range", sarama.V2_1_0_0, sarama.NewBalanceStrategyRange},
		{"v2.8-sticky", sarama.V2_8_0_0, sarama.NewBalanceStrategySticky},
		{"v3.6-roundrobin", sarama.V3_6_0_0, sarama.NewBalanceStrategyRoundRobin},
		{"v4.0-sticky", sarama.V4_0_0_0, sarama.NewBalanceStrategySticky},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group := "sarama-" + tc.name
			cgScenario(t, b, px, group, group, 0, func(clientID string) cgMember {
				return startSarama(t, b, group, group, clientID, tc.version, tc.strategy())
			})
		})
	}
}

// cgProxy sits between the clients and the broker (which advertises the
// proxy's address) and records the API versions each client ID sends.
type cgProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	seen   map[string]map[int16]map[int16]bool // client ID → API key → versions
	conns  map[net.Conn]bool
}

// startProxiedBroker starts a broker that clients reach through a cgProxy.
func startProxiedBroker(t *testing.T, extra ...string) (*proc, *cgProxy) {
	t.Helper()
	px := &cgProxy{seen: map[string]map[int16]map[int16]bool{}, conns: map[net.Conn]bool{}}
	var err error
	if px.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px.target = free.Addr().String()
	free.Close()
	go px.serve()
	t.Cleanup(px.close)
	b := startBroker(t, "", append(append([]string{}, extra...), "--listen", px.target, "--raft-listen", "127.0.0.1:0", "--advertise", px.ln.Addr().String())...)
	return b, px
}

func (px *cgProxy) close() {
	px.ln.Close()
	px.mu.Lock()
	defer px.mu.Unlock()
	for c := range px.conns {
		c.Close()
	}
	px.conns = nil
}

func (px *cgProxy) track(c net.Conn, on bool) bool {
	px.mu.Lock()
	defer px.mu.Unlock()
	if on && px.conns == nil {
		return false
	}
	if on {
		px.conns[c] = true
	} else {
		delete(px.conns, c)
	}
	return true
}

func (px *cgProxy) serve() {
	for {
		c, err := px.ln.Accept()
		if err != nil {
			return
		}
		go px.pipe(c)
	}
}

func (px *cgProxy) pipe(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", px.target)
	if err != nil {
		return
	}
	defer s.Close()
	if !px.track(c, true) || !px.track(s, true) {
		return
	}
	defer px.track(c, false)
	defer px.track(s, false)
	go func() {
		io.Copy(c, s)
		c.Close()
	}()
	r := bufio.NewReader(c)
	var size [4]byte
	for {
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(size[:]))
		if n < 0 || n > 64<<20 {
			return
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if n >= 10 {
			key := int16(binary.BigEndian.Uint16(body[0:]))
			ver := int16(binary.BigEndian.Uint16(body[2:]))
			id := ""
			if l := int(int16(binary.BigEndian.Uint16(body[8:]))); l > 0 && 10+l <= n {
				id = string(body[10 : 10+l])
			}
			px.record(id, key, ver)
		}
		if _, err := s.Write(append(size[:], body...)); err != nil {
			return
		}
	}
}

func (px *cgProxy) record(id string, key, ver int16) {
	px.mu.Lock()
	defer px.mu.Unlock()
	if px.seen[id] == nil {
		px.seen[id] = map[int16]map[int16]bool{}
	}
	if px.seen[id][key] == nil {
		px.seen[id][key] = map[int16]bool{}
	}
	px.seen[id][key][ver] = true
}

// versions returns, per API key, the versions sent by client IDs with the
// prefix.
func (px *cgProxy) versions(prefix string) map[int16][]int16 {
	px.mu.Lock()
	defer px.mu.Unlock()
	set := map[int16]map[int16]bool{}
	for id, keys := range px.seen {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		for k, vs := range keys {
			if set[k] == nil {
				set[k] = map[int16]bool{}
			}
			for v := range vs {
				set[k][v] = true
			}
		}
	}
	out := map[int16][]int16{}
	for k, vs := range set {
		for v := range vs {
			out[k] = append(out[k], v)
		}
		sort.Slice(out[k], func(i, j int) bool { return out[k][i] < out[k][j] })
	}
	return out
}

// describe formats versions(prefix) as "JoinGroup v5, SyncGroup v3, ...".
func (px *cgProxy) describe(prefix string) string {
	vs := px.versions(prefix)
	var keys []int
	for k := range vs {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		var s []string
		for _, v := range vs[int16(k)] {
			s = append(s, "v"+strconv.Itoa(int(v)))
		}
		parts = append(parts, kmsg.NameForKey(int16(k))+" "+strings.Join(s, "/"))
	}
	return strings.Join(parts, ", ")
}

func startKafkaGo(t *testing.T, b *proc, group, topic, clientID string, balancer kafka.GroupBalancer) cgMember {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &goMember{name: clientID, cancel: cancel, done: make(chan struct{})}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{b.addr},
		GroupID:           group,
		Topic:             topic,
		Dialer:            &kafka.Dialer{ClientID: clientID, Timeout: 10 * time.Second},
		StartOffset:       kafka.FirstOffset,
		GroupBalancers:    []kafka.GroupBalancer{balancer},
		SessionTimeout:    6 * time.Second,
		HeartbeatInterval: 300 * time.Millisecond,
		JoinGroupBackoff:  200 * time.Millisecond,
		MaxWait:           200 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    200 * time.Millisecond,
		CommitInterval:    0, // CommitMessages commits synchronously
		ErrorLogger:       kafka.LoggerFunc(func(f string, a ...any) { m.note(fmt.Errorf(f, a...)) }),
	})
	m.close = r.Close
	go func() {
		defer close(m.done)
		for {
			msg, err := r.FetchMessage(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				m.note(err)
				if errors.Is(err, io.EOF) {
					m.setFatal(err)
					return
				}
				continue
			}
			v, err := strconv.Atoi(string(msg.Value))
			if err != nil {
				m.setFatal(fmt.Errorf("value %q: %v", msg.Value, err))
				return
			}
			m.log.add(cgRecord{partition: int32(msg.Partition), offset: msg.Offset, value: v})
			if err := r.CommitMessages(ctx, msg); err != nil && ctx.Err() == nil {
				m.note(fmt.Errorf("commit %d/%d: %w", msg.Partition, msg.Offset, err))
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-m.done; r.Close() })
	return m
}

// TestE2EGroupClientsKafkaGo: segmentio/kafka-go's Reader with a GroupID
// (old versions: ApiVersions v0, FindCoordinator v0, JoinGroup v2,
// SyncGroup/LeaveGroup v0 ...), with its range and round-robin balancers,
// committing each message with CommitMessages.
func TestE2EGroupClientsKafkaGo(t *testing.T) {
	b, px := startProxiedBroker(t, clientGroupBrokerFlags...)
	for _, tc := range []struct {
		name     string
		balancer kafka.GroupBalancer
	}{
		{"range", kafka.RangeGroupBalancer{}},
		{"roundrobin", kafka.RoundRobinGroupBalancer{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group := "kafkago-" + tc.name
			cgScenario(t, b, px, group, group, 0, func(clientID string) cgMember {
				return startKafkaGo(t, b, group, group, clientID, tc.balancer)
			})
		})
	}
}

// needKafkaPython returns a python3 that can import kafka-python, or skips
// (Debian package python3-kafka, kafka-python 2.0.2, for /usr/bin/python3).
func needKafkaPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if out, err := exec.Command(py, "-c", "import kafka; print(kafka.__version__)").Output(); err == nil {
			t.Logf("%s: kafka-python %s", py, strings.TrimSpace(string(out)))
			return py
		}
	}
	t.Skip("kafka-python not installed (apt-get install python3-kafka); skipping")
	return ""
}

// TestE2EGroupClientsKafkaPython: kafka-python's KafkaConsumer in a group
// (testdata/clients/kafka_python_group.py), committing after each poll,
// with its range and round-robin assignors; SIGTERM commits and closes;
// roundrobin-kill9 kills a member, which its session timeout expels.
func TestE2EGroupClientsKafkaPython(t *testing.T) {
	py := needKafkaPython(t)
	script, err := filepath.Abs("testdata/clients/kafka_python_group.py")
	if err != nil {
		t.Fatal(err)
	}
	b, px := startProxiedBroker(t, clientGroupBrokerFlags...)
	for _, tc := range []struct {
		name, assignor string
		crash          time.Duration
	}{
		{"range", "range", 0},
		{"roundrobin", "roundrobin", 0},
		{"roundrobin-kill9", "roundrobin", 3 * time.Second},
	} {
		session := 6 * time.Second
		if tc.crash > 0 {
			session = tc.crash
		}
		t.Run(tc.name, func(t *testing.T) {
			group := "kafkapy-" + tc.name
			cgScenario(t, b, px, group, group, tc.crash, func(clientID string) cgMember {
				p := cgStart(t, clientID, py, script, b.addr, group, group, clientID, tc.assignor,
					strconv.Itoa(int(session.Milliseconds())))
				p.mu.Lock()
				p.ownerLines = true
				p.mu.Unlock()
				return p
			})
		})
	}
}

// needKafkaJS returns node and the kafkajs_group.js script when kafkajs can
// be loaded next to it (npm install --prefix cmd/jocko/testdata/clients
// kafkajs@2.2.4) or from NODE_PATH, or skips.
func needKafkaJS(t *testing.T) (string, string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed; skipping the kafkajs test")
	}
	script, err := filepath.Abs("testdata/clients/kafkajs_group.js")
	if err != nil {
		t.Fatal(err)
	}
	check := exec.Command(node, "-e", "console.log(require('kafkajs/package.json').version)")
	check.Dir = filepath.Dir(script)
	out, err := check.Output()
	if err != nil {
		t.Skip("kafkajs not installed (npm install --prefix cmd/jocko/testdata/clients kafkajs@2.2.4); skipping")
	}
	t.Logf("kafkajs %s", strings.TrimSpace(string(out)))
	return node, script
}

// TestE2EGroupClientsKafkaJS: kafkajs's consumer (testdata/clients/
// kafkajs_group.js) with its round-robin assigner, committing after each
// batch; SIGTERM disconnects (commit, LeaveGroup); kill9 kills a member,
// which its session timeout expels.
func TestE2EGroupClientsKafkaJS(t *testing.T) {
	node, script := needKafkaJS(t)
	b, px := startProxiedBroker(t, clientGroupBrokerFlags...)
	for _, tc := range []struct {
		name  string
		crash time.Duration
	}{
		{"roundrobin", 0},
		{"roundrobin-kill9", 3 * time.Second},
	} {
		session := 6 * time.Second
		if tc.crash > 0 {
			session = tc.crash
		}
		t.Run(tc.name, func(t *testing.T) {
			group := "kafkajs-" + tc.name
			cgScenario(t, b, px, group, group, tc.crash, func(clientID string) cgMember {
				p := cgStart(t, clientID, node, script, b.addr, group, group, clientID, strconv.Itoa(int(session.Milliseconds())))
				p.mu.Lock()
				p.ownerLines = true
				p.mu.Unlock()
				return p
			})
		})
	}
}
