package core

// KIP-951 leader discovery: a Produce (v10+) or Fetch (v16+) partition
// answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH carries the leader
// and leader epoch this broker's metadata knows (CurrentLeader), and the
// response lists that leader's endpoint (NodeEndpoints), so a client moves
// to the new leader without a Metadata round trip. As in Kafka's
// KafkaApis: the leader ID and epoch come from the metadata even when the
// partition has no leader (-1), and an endpoint is listed only for a
// registered, unfenced leader (a client acts on a hint only with one).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

// The first versions whose responses carry CurrentLeader and NodeEndpoints
// for a moved leader. kmsg encodes the tagged CurrentLeader from the first
// flexible version (Produce v9, Fetch v12), so these gates are ours.
const (
	produceLeaderHintVersionMin = 10
	fetchLeaderHintVersionMin   = 16
)

// leaderHint is what the metadata says of one partition's leader.
type leaderHint struct {
	id, epoch int32
	endpoint  *cluster.Broker // nil: no live endpoint to name
}

// wantsLeaderHint reports whether a partition error is one that KIP-951
// answers with the current leader.
func wantsLeaderHint(code int16) bool {
	return code == kerr.NotLeaderForPartition.Code || code == kerr.FencedLeaderEpoch.Code
}

// currentLeader looks up topic/part's leader in st; ok=false when the
// metadata has no such partition.
func currentLeader(st *cluster.State, topic string, part int32) (leaderHint, bool) {
	t, ok := st.Topic(topic)
	if !ok || part < 0 || int(part) >= len(t.Partitions) {
		return leaderHint{}, false
	}
	p := t.Partitions[part]
	h := leaderHint{id: p.Leader, epoch: p.LeaderEpoch}
	if br, ok := st.Brokers[p.Leader]; ok && p.Leader >= 0 && !br.Fenced && br.Host != "" {
		h.endpoint = &br
	}
	return h, true
}

// endpointSet collects the leaders' endpoints once each, in first-seen
// order.
type endpointSet struct {
	seen    map[int32]bool
	brokers []*cluster.Broker
}

func (s *endpointSet) add(br *cluster.Broker) {
	if br == nil || s.seen[br.ID] {
		return
	}
	if s.seen == nil {
		s.seen = map[int32]bool{}
	}
	s.seen[br.ID] = true
	s.brokers = append(s.brokers, br)
}

// addProduceLeaderHints fills CurrentLeader for every partition of resp
// that lost or never had leadership here, and lists the leaders' endpoints.
// It runs once the answer is final (after an acks=all wait, which can end
// with NOT_LEADER_OR_FOLLOWER).
func addProduceLeaderHints(st *cluster.State, resp *kmsg.ProduceResponse) {
	if resp.Version < produceLeaderHintVersionMin {
		return
	}
	var eps endpointSet
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		top, known := lookupTopic(st, rt.Topic, rt.TopicID, resp.Version >= 13)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			if !known || !wantsLeaderHint(rp.ErrorCode) {
				continue
			}
			if h, ok := currentLeader(st, top.Name, rp.Partition); ok {
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = h.id, h.epoch
				eps.add(h.endpoint)
			}
		}
	}
	for _, br := range eps.brokers {
		nb := kmsg.NewProduceResponseBroker()
		nb.NodeID, nb.Host, nb.Port, nb.Rack = br.ID, br.Host, br.Port, rackPtr(br.Rack)
		resp.Brokers = append(resp.Brokers, nb)
	}
}

// addFetchLeaderHints is addProduceLeaderHints for Fetch.
func addFetchLeaderHints(st *cluster.State, resp *kmsg.FetchResponse) {
	if resp.Version < fetchLeaderHintVersionMin {
		return
	}
	var eps endpointSet
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		top, known := lookupTopic(st, rt.Topic, rt.TopicID, resp.Version >= 13)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			if !known || !wantsLeaderHint(rp.ErrorCode) {
				continue
			}
			if h, ok := currentLeader(st, top.Name, rp.Partition); ok {
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = h.id, h.epoch
				eps.add(h.endpoint)
			}
		}
	}
	for _, br := range eps.brokers {
		nb := kmsg.NewFetchResponseBroker()
		nb.NodeID, nb.Host, nb.Port, nb.Rack = br.ID, br.Host, br.Port, rackPtr(br.Rack)
		resp.Brokers = append(resp.Brokers, nb)
	}
}

// rackPtr is a broker's rack as Kafka sends it: null when unset.
func rackPtr(rack string) *string {
	if rack == "" {
		return nil
	}
	return strPtr(rack)
}
