package controller

import (
	"fmt"
	"math"
	"testing"

	"github.com/jocko/jocko/cluster"
)

func TestNextBrokerID(t *testing.T) {
	for _, tc := range []struct {
		ids  []int32
		want int32
	}{{nil, 1}, {[]int32{1}, 2}, {[]int32{0}, 1}, {[]int32{1, 2, 7, 3}, 8}} {
		st := cluster.NewState()
		for _, id := range tc.ids {
			st = mustApply(t, st, cluster.RegisterBroker{Broker: cluster.Broker{ID: id}})
		}
		if got, err := NextBrokerID(st); err != nil || got != tc.want {
			t.Fatalf("brokers %v: got %d, %v; want %d", tc.ids, got, err, tc.want)
		}
	}
	st := mustApply(t, cluster.NewState(), cluster.RegisterBroker{Broker: cluster.Broker{ID: math.MaxInt32}})
	if _, err := NextBrokerID(st); err == nil {
		t.Fatal("no error after the highest ID")
	}
}

// broker.session.timeout.ms: a session expires strictly after the timeout;
// fenced brokers are not fenced again; the command names the epoch.
func TestExpiredSessions(t *testing.T) {
	brokers := []BrokerInfo{
		{ID: 3, LastHeartbeatMs: 1000, Epoch: 30},
		{ID: 1, LastHeartbeatMs: 1000, Epoch: 10},
		{ID: 2, LastHeartbeatMs: 1001},
		{ID: 4, LastHeartbeatMs: 0, Fenced: true},
		{ID: 5, LastHeartbeatMs: 0, ShuttingDown: true, Epoch: 50},
	}
	if got := fmt.Sprint(ExpiredSessions(brokers, 10_001, 9000)); got != "[{1 10 true} {3 30 true} {5 50 true}]" {
		t.Fatalf("got %s", got)
	}
	if got := fmt.Sprint(ExpiredSessions(brokers, 10_000, 9000)); got != "[{5 50 true}]" {
		t.Fatalf("at the timeout: %s, want broker 5 only", got)
	}
}

// BrokersOf carries what the state knows; FenceBroker commands built from
// it apply.
func TestBrokersOf(t *testing.T) {
	st := cluster.NewState()
	st = mustApply(t, st, cluster.RegisterBroker{Broker: cluster.Broker{ID: 2, Rack: "b"}})
	st = mustApply(t, st, cluster.RegisterBroker{Broker: cluster.Broker{ID: 1, Rack: "a"}})
	st = mustApply(t, st, cluster.FenceBroker{ID: 1, Epoch: st.Brokers[1].Epoch, Fenced: false})
	got := BrokersOf(st)
	if fmt.Sprint(got) != "[{1 a false false 2 0} {2 b true false 1 0}]" {
		t.Fatalf("got %v", got)
	}
	for _, c := range ExpiredSessions(got, 20_000, 9000) {
		st = mustApply(t, st, c)
	}
	if !st.Brokers[1].Fenced {
		t.Fatal("broker 1 not fenced")
	}
}
