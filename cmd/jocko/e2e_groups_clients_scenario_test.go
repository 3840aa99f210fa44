package main

// The scenario every client library's group consumer goes through.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

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
