package core

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jocko/jocko/cluster"
)

// TestLogDirFailureMovesLeadership (KIP-112): a leader whose disk fails
// (a partition taken offline by a storage error) asks to be fenced, and
// its leaderships move to other ISR members instead of staying offline
// until a restart.
func TestLogDirFailureMovesLeadership(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b1 := tc.brokers[0]
	err := b1.commit(ctx, cluster.CreateTopic{Name: "dirfail", ID: [16]byte{7},
		Assignments: [][]int32{{1, 2, 3}, {2, 3, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	var p *partition
	waitFor(t, 20*time.Second, "broker 1 leads dirfail-0", func() bool {
		p = b1.partition("dirfail", 0)
		return p != nil && p.leader.Load() == 1
	})
	p.fail(errors.New("injected: input/output error"))
	waitFor(t, 30*time.Second, "dirfail-0 led elsewhere, broker 1 fenced and out of the ISR", func() bool {
		st := tc.brokers[1].node.State()
		top, ok := st.Topic("dirfail")
		if !ok {
			return false
		}
		ps := top.Partitions[0]
		return st.Brokers[1].Fenced && ps.Leader > 1 && !slices.Contains(ps.ISR, 1)
	})
}
