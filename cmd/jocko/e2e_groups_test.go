package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupMember is one franz-go group consumer (cooperative-sticky, franz-go's
// default balancer) recording what it consumed and which partitions it owns.
type groupMember struct {
	name string
	cl   *kgo.Client
	mu   sync.Mutex
	got  map[string]int
	owns map[int32]bool
	stop context.CancelFunc
	done chan struct{}
}

func startMember(t *testing.T, b *proc, groupID, topic, name string, opts ...kgo.Opt) *groupMember {
	t.Helper()
	m := &groupMember{name: name, got: map[string]int{}, owns: map[int32]bool{}, done: make(chan struct{})}
	base := []kgo.Opt{
		kgo.SeedBrokers(b.addr), kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { m.setOwned(a[topic], true) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.setOwned(r[topic], false) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) { m.setOwned(l[topic], false) }),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				m.mu.Lock()
				m.got[string(r.Value)]++
				m.mu.Unlock()
			})
		}
	}()
	t.Cleanup(m.close)
	return m
}

func (m *groupMember) setOwned(parts []int32, own bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range parts {
		if own {
			m.owns[p] = true
		} else {
			delete(m.owns, p)
		}
	}
}

func (m *groupMember) owned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.owns {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// close leaves the group cleanly (LeaveGroup) and stops the client.
func (m *groupMember) close() {
	select {
	case <-m.done:
		return
	default:
	}
	m.stop()
	<-m.done
	m.cl.Close()
}

// TestE2EGroupFranzGo: three franz-go members share six partitions; one
// leaves and the others take its partitions; every record is consumed.
func TestE2EGroupFranzGo(t *testing.T) {
	b := startBroker(t, "", "--group.initial.rebalance.delay.ms=0")
	ctx := testCtx(t)
	adm := b.admin(t)
	if _, err := adm.CreateTopic(ctx, 6, 1, nil, "g1"); err != nil {
		t.Fatal(err)
	}
	members := []*groupMember{
		startMember(t, b, "grp", "g1", "a"),
		startMember(t, b, "grp", "g1", "b"),
		startMember(t, b, "grp", "g1", "c"),
	}
	waitUntil(t, ctx, func() bool { return spreadOK(members, 6) })
	produceN(t, b, "g1", 0, 600)
	members[2].close()
	waitUntil(t, ctx, func() bool { return spreadOK(members[:2], 6) })
	produceN(t, b, "g1", 600, 1200)
	waitUntil(t, ctx, func() bool { return consumedAll(members, 1200) })
	described, err := adm.DescribeGroups(ctx, "grp")
	if err != nil {
		t.Fatal(err)
	}
	if g := described["grp"]; g.State != "Stable" || len(g.Members) != 2 {
		t.Fatalf("group is %s with %d members, want Stable with 2", g.State, len(g.Members))
	}
}

// spreadOK: every partition owned by exactly one member, each member some.
func spreadOK(ms []*groupMember, n int) bool {
	seen := map[int32]int{}
	for _, m := range ms {
		o := m.owned()
		if len(o) == 0 {
			return false
		}
		for _, p := range o {
			seen[p]++
		}
	}
	if len(seen) != n {
		return false
	}
	for _, c := range seen {
		if c != 1 {
			return false
		}
	}
	return true
}

func consumedAll(ms []*groupMember, n int) bool {
	all := map[string]bool{}
	for _, m := range ms {
		m.mu.Lock()
		for v := range m.got {
			all[v] = true
		}
		m.mu.Unlock()
	}
	return len(all) == n
}

func produceN(t *testing.T, b *proc, topic string, from, to int) {
	t.Helper()
	cl := b.client(t, kgo.DefaultProduceTopic(topic))
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprint(i))})
	}
	if err := cl.ProduceSync(testCtx(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

var _ = kadm.NewClient
var _ = time.Second

// TestE2EGroupOffsetsSurviveKill9: a group commits, the broker is killed
// with SIGKILL and restarted; the coordinator reloads __consumer_offsets and
// a new member resumes exactly after the committed offsets.
func TestE2EGroupOffsetsSurviveKill9(t *testing.T) {
	b := startBroker(t, "", "--group.initial.rebalance.delay.ms=0")
	ctx := testCtx(t)
	adm := b.admin(t)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "resume"); err != nil {
		t.Fatal(err)
	}
	produceN(t, b, "resume", 0, 300)
	m := startMember(t, b, "resumers", "resume", "first")
	waitUntil(t, ctx, func() bool { return consumedAll([]*groupMember{m}, 300) })
	if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := adm.FetchOffsets(ctx, "resumers")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	before.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != 300 {
		t.Fatalf("committed offsets sum to %d, want 300", committed)
	}
	m.close()
	b.kill9()
	b.restart()
	adm = b.admin(t)
	var after kadm.OffsetResponses
	waitUntil(t, ctx, func() bool {
		after, err = adm.FetchOffsets(ctx, "resumers")
		return err == nil // COORDINATOR_LOAD_IN_PROGRESS is retried by kadm
	})
	for _, o := range before.Sorted() {
		got, ok := after.Lookup(o.Topic, o.Partition)
		if !ok || got.At != o.At {
			t.Fatalf("after restart %s/%d committed %d, want %d", o.Topic, o.Partition, got.At, o.At)
		}
	}
	produceN(t, b, "resume", 300, 400)
	m2 := startMember(t, b, "resumers", "resume", "second")
	waitUntil(t, ctx, func() bool { return consumedAll([]*groupMember{m2}, 100) })
	m2.mu.Lock()
	defer m2.mu.Unlock()
	for v := range m2.got {
		var n int
		fmt.Sscan(v, &n)
		if n < 300 {
			t.Fatalf("the resumed member re-consumed record %d, committed before the crash", n)
		}
	}
}
