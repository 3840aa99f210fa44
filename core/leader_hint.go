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

// hintVisit hands leaderHints one partition of a response: its topic
// (name, or ID from v13), index and error, and where its CurrentLeader
// goes.
type hintVisit func(topic string, topicID [16]byte, part int32, code int16, leaderID, leaderEpoch *int32)

// leaderHints fills CurrentLeader for every partition each visits that
// lost or never had leadership here, and returns the leaders to list as
// endpoints, each once.
func leaderHints(st *cluster.State, byID bool, each func(hintVisit)) []*cluster.Broker {
	var eps endpointSet
	each(func(topic string, topicID [16]byte, part int32, code int16, leaderID, leaderEpoch *int32) {
		top, known := lookupTopic(st, topic, topicID, byID)
		if !known || !wantsLeaderHint(code) {
			return
		}
		if h, ok := currentLeader(st, top.Name, part); ok {
			*leaderID, *leaderEpoch = h.id, h.epoch
			eps.add(h.endpoint)
		}
	})
	return eps.brokers
}

// addProduceLeaderHints fills CurrentLeader for every partition of resp
// that lost or never had leadership here, and lists the leaders' endpoints.
// It runs once the answer is final (after an acks=all wait, which can end
// with NOT_LEADER_OR_FOLLOWER).
func addProduceLeaderHints(st *cluster.State, resp *kmsg.ProduceResponse) {
	if resp.Version < produceLeaderHintVersionMin {
		return
	}
	eps := leaderHints(st, resp.Version >= 13, func(visit hintVisit) {
		for i := range resp.Topics {
			rt := &resp.Topics[i]
			for j := range rt.Partitions {
				rp := &rt.Partitions[j]
				visit(rt.Topic, rt.TopicID, rp.Partition, rp.ErrorCode, &rp.CurrentLeader.LeaderID, &rp.CurrentLeader.LeaderEpoch)
			}
		}
	})
	for _, br := range eps {
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
	eps := leaderHints(st, resp.Version >= 13, func(visit hintVisit) {
		for i := range resp.Topics {
			rt := &resp.Topics[i]
			for j := range rt.Partitions {
				rp := &rt.Partitions[j]
				visit(rt.Topic, rt.TopicID, rp.Partition, rp.ErrorCode, &rp.CurrentLeader.LeaderID, &rp.CurrentLeader.LeaderEpoch)
			}
		}
	})
	for _, br := range eps {
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
