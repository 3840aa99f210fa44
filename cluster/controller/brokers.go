package controller

import (
	"cmp"
	"errors"
	"math"
	"slices"

	"github.com/jocko/jocko/cluster"
)

// BrokersOf returns a BrokerInfo for every broker registered in st, by ID,
// with its rack, broker epoch and fenced flag. ShuttingDown and
// LastHeartbeatMs are the controller's own knowledge, for the caller to
// fill in.
func BrokersOf(st *cluster.State) []BrokerInfo {
	out := make([]BrokerInfo, 0, len(st.Brokers))
	for _, id := range st.SortedBrokerIDs() {
		b := st.Brokers[id]
		out = append(out, BrokerInfo{ID: id, Rack: b.Rack, Fenced: b.Fenced, Epoch: b.Epoch})
	}
	return out
}

// NextBrokerID returns the ID for a joining broker that has none: one more
// than the highest registered ID, and 1 in an empty cluster (broker IDs
// start at 1). The shell must register the broker under this ID through
// the metadata log before it answers, so two brokers joining at once never
// get the same ID.
func NextBrokerID(st *cluster.State) (int32, error) {
	next := int32(1)
	for id := range st.Brokers { // a maximum: the order does not matter
		if id == math.MaxInt32 {
			return 0, errors.New("controller: broker ID 2147483647 is registered; no higher ID is free")
		}
		next = max(next, id+1)
	}
	return next, nil
}

// ExpiredSessions returns, by broker ID, the commands that fence the
// unfenced brokers the controller has not heard from for longer than
// sessionTimeoutMs (Kafka's broker.session.timeout.ms) at nowMs. Each names
// the registration's epoch, so it cannot fence a newer incarnation.
func ExpiredSessions(brokers []BrokerInfo, nowMs, sessionTimeoutMs int64) []cluster.FenceBroker {
	var out []cluster.FenceBroker
	for _, b := range brokers {
		if !b.Fenced && nowMs-b.LastHeartbeatMs > sessionTimeoutMs {
			out = append(out, cluster.FenceBroker{ID: b.ID, Epoch: b.Epoch, Fenced: true})
		}
	}
	slices.SortFunc(out, func(a, b cluster.FenceBroker) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
