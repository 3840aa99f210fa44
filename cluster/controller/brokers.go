package controller

import (
	"errors"
	"math"
	"slices"

	"github.com/jocko/jocko/cluster"
)

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

// ExpiredSessions returns, by ID, the unfenced brokers the controller has
// not heard from for longer than sessionTimeoutMs (Kafka's
// broker.session.timeout.ms) at nowMs: the brokers to fence.
func ExpiredSessions(brokers []BrokerInfo, nowMs, sessionTimeoutMs int64) []int32 {
	var out []int32
	for _, b := range brokers {
		if !b.Fenced && nowMs-b.LastHeartbeatMs > sessionTimeoutMs {
			out = append(out, b.ID)
		}
	}
	slices.Sort(out)
	return out
}
