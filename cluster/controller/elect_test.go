package controller

import (
	"fmt"
	"slices"
	"testing"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
)

// want is the expected outcome for one partition: its leader, ISR and
// leader epoch after the commands.
type want struct {
	leader int32
	isr    []int32
	epoch  int32
}

func TestFailover(t *testing.T) {
	tests := []struct {
		name    string
		p       part
		brokers []BrokerInfo
		policy  Policy
		configs map[string]string // the topic's
		cluster map[string]string // cluster-wide broker configs
		want    *want             // nil: no command
	}{
		{"leader dead: next ISR member leads, dead one leaves the ISR",
			part{[]int32{1, 2, 3}, nil, 0}, live(2, 3), Policy{}, nil, nil, &want{2, []int32{2, 3}, 1}},
		{"replica order, not ISR order, picks the leader (KRaft)",
			part{[]int32{3, 1, 2}, []int32{2, 1, 3}, 3}, live(1, 2), Policy{}, nil, nil, &want{1, []int32{2, 1}, 1}},
		{"fenced leader counts as dead",
			part{[]int32{1, 2}, nil, 0}, []BrokerInfo{{ID: 1, Fenced: true}, {ID: 2}}, Policy{}, nil, nil, &want{2, []int32{2}, 1}},
		{"follower dead: ISR shrinks, leader and epoch stay",
			part{[]int32{1, 2, 3}, nil, 0}, live(1, 2), Policy{}, nil, nil, &want{1, []int32{1, 2}, 0}},
		{"only ISR member dead: offline, it stays in the ISR",
			part{[]int32{1, 2}, []int32{1}, 1}, live(2), Policy{}, nil, nil, &want{-1, []int32{1}, 1}},
		{"every ISR member dead: the ISR is kept whole",
			part{[]int32{1, 2, 3}, nil, 0}, live(), Policy{}, nil, nil, &want{-1, []int32{1, 2, 3}, 1}},
		{"unclean allowed by the topic: live non-ISR replica leads alone",
			part{[]int32{1, 2, 3}, []int32{1}, 1}, live(3), Policy{}, map[string]string{uncleanConfig: "true"}, nil, &want{3, []int32{3}, 1}},
		{"unclean allowed by the broker default",
			part{[]int32{1, 2, 3}, []int32{1}, 1}, live(2, 3), Policy{UncleanLeaderElection: true}, nil, nil, &want{2, []int32{2}, 1}},
		{"unclean allowed cluster-wide, in any case",
			part{[]int32{1, 2}, []int32{1}, 1}, live(2), Policy{}, nil, map[string]string{uncleanConfig: "TRUE"}, &want{2, []int32{2}, 1}},
		{"the topic's false beats the broker default",
			part{[]int32{1, 2}, []int32{1}, 1}, live(2), Policy{UncleanLeaderElection: true}, map[string]string{uncleanConfig: "false"}, nil, &want{-1, []int32{1}, 1}},
		{"unclean allowed but an ISR member is live: clean election",
			part{[]int32{1, 2, 3}, []int32{1, 3}, 1}, live(2, 3), Policy{UncleanLeaderElection: true}, nil, nil, &want{3, []int32{3}, 1}},
		{"leaderless partition gets its ISR member back",
			part{[]int32{1, 2}, []int32{1}, -1}, live(1, 2), Policy{}, nil, nil, &want{1, []int32{1}, 2}},
		{"unregistered broker is dead",
			part{[]int32{1, 2}, nil, 0}, live(2, 7), Policy{}, nil, nil, &want{2, []int32{2}, 1}},
		{"shutting-down leader hands over",
			part{[]int32{1, 2}, nil, 0}, []BrokerInfo{{ID: 1, ShuttingDown: true}, {ID: 2}}, Policy{}, nil, nil, &want{2, []int32{2}, 1}},
		{"healthy partition: nothing to do",
			part{[]int32{1, 2, 3}, []int32{2, 3}, 2}, live(1, 2, 3), Policy{}, nil, nil, nil},
		{"leaderless, nobody eligible: nothing to do",
			part{[]int32{1, 2}, []int32{1}, -1}, live(2), Policy{}, nil, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newState(t, 3, map[string][]part{"t": {tc.p}})
			if tc.configs != nil {
				st = mustApply(t, st, cluster.AlterTopicConfigs{Topic: "t", Set: tc.configs})
			}
			if tc.cluster != nil {
				st = mustApply(t, st, cluster.AlterBrokerConfigs{Set: tc.cluster})
			}
			before := partitionOf(st, "t", 0)
			cmds := Failover(st, tc.brokers, tc.policy)
			if tc.want == nil {
				if len(cmds) != 0 {
					t.Fatalf("got %+v, want no command", cmds)
				}
				return
			}
			if len(cmds) != 1 || cmds[0].ExpectedPartitionEpoch != before.PartitionEpoch {
				t.Fatalf("got %+v, want one command expecting partition epoch %d", cmds, before.PartitionEpoch)
			}
			after := partitionOf(applyAll(t, st, cmds), "t", 0)
			got := want{after.Leader, after.ISR, after.LeaderEpoch}
			if fmt.Sprint(got) != fmt.Sprint(*tc.want) {
				t.Fatalf("from %+v: got leader %d ISR %v epoch %d, want %+v", before, got.leader, got.isr, got.epoch, *tc.want)
			}
			if again := Failover(applyAll(t, st, cmds), tc.brokers, tc.policy); len(again) != 0 {
				t.Fatalf("not a fixed point: %+v", again)
			}
		})
	}
}

func mustApply(t *testing.T, st *cluster.State, cmd cluster.Command) *cluster.State {
	t.Helper()
	next, err := cluster.ApplyCommand(st, st.AppliedIndex+1, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// Controlled shutdown of broker 1: it loses every leadership and leaves the
// ISRs that have another member; then it may exit.
func TestControlledShutdown(t *testing.T) {
	st := newState(t, 3, map[string][]part{
		"a": {{[]int32{1, 2, 3}, nil, 0}, {[]int32{2, 1, 3}, nil, 0}},
		"b": {{[]int32{1, 2}, []int32{1}, 1}, {[]int32{3, 2}, nil, 0}},
	})
	brokers := []BrokerInfo{{ID: 1, ShuttingDown: true}, {ID: 2}, {ID: 3}}
	if ShutdownComplete(st, 1) {
		t.Fatal("broker 1 leads partitions but may shut down")
	}
	cmds := Failover(st, brokers, Policy{})
	if len(cmds) != 3 || cmds[0].Topic != "a" || cmds[2].Topic != "b" {
		t.Fatalf("commands %+v, want a-0, a-1, b-0 in that order", cmds)
	}
	st = applyAll(t, st, cmds)
	for _, c := range []struct {
		topic  string
		i      int32
		leader int32
		isr    string
	}{{"a", 0, 2, "[2 3]"}, {"a", 1, 2, "[2 3]"}, {"b", 0, -1, "[1]"}, {"b", 1, 3, "[3 2]"}} {
		p := partitionOf(st, c.topic, c.i)
		if p.Leader != c.leader || fmt.Sprint(p.ISR) != c.isr {
			t.Fatalf("%s-%d: leader %d ISR %v, want %d %s", c.topic, c.i, p.Leader, p.ISR, c.leader, c.isr)
		}
	}
	if !ShutdownComplete(st, 1) {
		t.Fatal("broker 1 leads nothing but may not shut down")
	}
}

// A stale command (the partition moved on) is refused by the FSM's
// compare-and-set.
func TestFailoverCommandIsCompareAndSet(t *testing.T) {
	st := newState(t, 3, map[string][]part{"t": {{[]int32{1, 2, 3}, nil, 0}}})
	cmds := Failover(st, live(2, 3), Policy{})
	st = mustApply(t, st, cluster.UpdatePartition{Topic: "t", Leader: 1, ISR: []int32{1, 2}, ExpectedPartitionEpoch: 0})
	if _, err := cluster.ApplyCommand(st, 99, cmds[0]); err == nil {
		t.Fatal("stale failover command applied")
	}
}

func TestElectLeader(t *testing.T) {
	tests := []struct {
		name    string
		p       part
		brokers []BrokerInfo
		typ     ElectionType
		code    *kerr.Error
		want    *want
	}{
		{"preferred: already leads", part{[]int32{1, 2}, nil, 0}, live(1, 2), Preferred, kerr.ElectionNotNeeded, nil},
		{"preferred: moves back", part{[]int32{1, 2}, []int32{1, 2}, 2}, live(1, 2), Preferred, nil, &want{1, []int32{1, 2}, 2}},
		{"preferred: not in the ISR", part{[]int32{1, 2}, []int32{2}, 2}, live(1, 2), Preferred, kerr.PreferredLeaderNotAvailable, nil},
		{"preferred: fenced", part{[]int32{1, 2}, []int32{1, 2}, 2}, []BrokerInfo{{ID: 1, Fenced: true}, {ID: 2}}, Preferred, kerr.PreferredLeaderNotAvailable, nil},
		{"preferred: shutting down", part{[]int32{1, 2}, []int32{1, 2}, 2}, []BrokerInfo{{ID: 1, ShuttingDown: true}, {ID: 2}}, Preferred, kerr.PreferredLeaderNotAvailable, nil},
		{"unclean: has a leader", part{[]int32{1, 2}, nil, 0}, live(2), Unclean, kerr.ElectionNotNeeded, nil},
		{"unclean: ISR member first", part{[]int32{1, 2, 3}, []int32{3}, -1}, live(2, 3), Unclean, nil, &want{3, []int32{3}, 2}},
		{"unclean: outside the ISR", part{[]int32{1, 2, 3}, []int32{1}, -1}, live(3, 2), Unclean, nil, &want{2, []int32{2}, 2}},
		{"unclean: nobody", part{[]int32{1, 2}, []int32{1}, -1}, live(3), Unclean, kerr.EligibleLeadersNotAvailable, nil},
		{"bad type", part{[]int32{1, 2}, nil, 0}, live(1), ElectionType(7), kerr.InvalidRequest, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newState(t, 3, map[string][]part{"t": {tc.p}})
			cmd, err := ElectLeader(st, tc.brokers, tc.typ, "t", 0)
			if code := codeOf(t, err); code != tc.code {
				t.Fatalf("got %+v, %v; want %v", cmd, err, tc.code)
			}
			if tc.want == nil {
				return
			}
			after := partitionOf(applyAll(t, st, []cluster.UpdatePartition{cmd}), "t", 0)
			got := want{after.Leader, after.ISR, after.LeaderEpoch}
			if fmt.Sprint(got) != fmt.Sprint(*tc.want) {
				t.Fatalf("got %+v, want %+v", got, *tc.want)
			}
		})
	}
	st := newState(t, 1, map[string][]part{"t": {{[]int32{1}, nil, 0}}})
	for _, tp := range []struct {
		topic string
		i     int32
	}{{"u", 0}, {"t", 1}, {"t", -1}} {
		if _, err := ElectLeader(st, live(1), Preferred, tp.topic, tp.i); codeOf(t, err) != kerr.UnknownTopicOrPartition {
			t.Fatalf("%s-%d: %v, want UNKNOWN_TOPIC_OR_PARTITION", tp.topic, tp.i, err)
		}
	}
}

// TestDropFromISRs: a broker that lost its data leaves every ISR but where
// it is the last member or still leads, and the commands apply.
func TestDropFromISRs(t *testing.T) {
	st := newState(t, 3, map[string][]part{
		"t": {
			{replicas: []int32{1, 2, 3}, isr: []int32{1, 2, 3}, leader: 1},
			{replicas: []int32{2, 1}, isr: []int32{1}, leader: 1},
			{replicas: []int32{3, 2}, isr: []int32{2, 3}, leader: 2},
		},
	})
	cmds := DropFromISRs(st, 3)
	if len(cmds) != 2 {
		t.Fatalf("commands %+v, want two (partitions 0 and 2)", cmds)
	}
	st = applyAll(t, st, cmds)
	for i, want := range [][]int32{{1, 2}, {1}, {2}} {
		if got := st.Topics["t"].Partitions[i].ISR; !slices.Equal(got, want) {
			t.Fatalf("partition %d ISR %v, want %v", i, got, want)
		}
	}
	if again := DropFromISRs(st, 3); len(again) != 0 {
		t.Fatalf("second round: %+v", again)
	}
	if kept := DropFromISRs(st, 1); len(kept) != 0 {
		t.Fatalf("broker 1 leads or is the last member everywhere: %+v", kept)
	}
}
