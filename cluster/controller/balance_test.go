package controller

import (
	"fmt"
	"testing"
)

// Broker 1 prefers ten partitions. Leading 9 of them is 10% off, not above
// leader.imbalance.per.broker.percentage=10: nothing moves. Leading 8 is
// 20%: both go back, except where broker 1 is out of the ISR.
func TestAutoRebalanceThreshold(t *testing.T) {
	build := func(notLed int, outOfISR bool) map[string][]part {
		var parts []part
		for i := range 10 {
			p := part{[]int32{1, 2}, nil, 0}
			if i < notLed {
				p = part{[]int32{1, 2}, []int32{1, 2}, 2}
				if outOfISR && i == 0 {
					p.isr = []int32{2}
				}
			}
			parts = append(parts, p)
		}
		return map[string][]part{"t": parts}
	}
	st := newState(t, 2, build(1, false))
	if got := LeaderImbalance(st); fmt.Sprint(got) != "[{1 10 1}]" {
		t.Fatalf("imbalance %v", got)
	}
	if cmds := AutoRebalance(st, live(1, 2), ImbalancePercentDefault); len(cmds) != 0 {
		t.Fatalf("10%% imbalance moved %+v", cmds)
	}
	st = newState(t, 2, build(2, false))
	cmds := AutoRebalance(st, live(1, 2), ImbalancePercentDefault)
	if len(cmds) != 2 || cmds[0].Partition != 0 || cmds[1].Partition != 1 {
		t.Fatalf("20%% imbalance: %+v, want partitions 0 and 1", cmds)
	}
	after := applyAll(t, st, cmds)
	if b := LeaderImbalance(after); fmt.Sprint(b) != "[{1 10 0}]" {
		t.Fatalf("after: %v", b)
	}
	st = newState(t, 2, build(2, true))
	if cmds := AutoRebalance(st, live(1, 2), ImbalancePercentDefault); len(cmds) != 1 || cmds[0].Partition != 1 {
		t.Fatalf("preferred replica out of the ISR: %+v, want partition 1 only", cmds)
	}
	if cmds := AutoRebalance(st, []BrokerInfo{{ID: 1, Fenced: true}, {ID: 2}}, 0); len(cmds) != 0 {
		t.Fatalf("fenced preferred replica: %+v", cmds)
	}
}
