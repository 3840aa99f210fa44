package core

// DescribeCluster: v0-2
//
// Behavior: the cluster ID, the controller (the metadata Raft leader) and
// the registered brokers; v1+ echoes the endpoint type (brokers only). As in
// Kafka 4 (KIP-1073), fenced brokers are left out unless a v2+ request sets
// IncludeFencedBrokers, and v2 marks them IsFenced. Each broker also
// carries its broker epoch (KIP-903: the Raft index of its registration) in
// a Jocko tagged field, brokerEpochTag: Kafka's admin APIs have no field
// for it, and a client that does not know the tag skips it, as the
// protocol requires of unknown tags.

import (
	"context"
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerEpochTag is the tagged field of DescribeCluster's broker entries
// that holds the broker epoch (an int64, big-endian, as Kafka encodes
// int64). Kafka numbers a struct's tags from 0 and has used a handful, so
// 10000 stays clear of any it may add.
const brokerEpochTag = 10000

func init() { register(kmsg.DescribeCluster, 0, 2, (*Broker).handleDescribeCluster) }

func (b *Broker) handleDescribeCluster(_ context.Context, r *request) reply {
	req := r.msg.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	st := b.node.State()
	resp.ClusterID = st.ClusterID
	resp.EndpointType = req.EndpointType
	resp.ControllerID = -1
	if id, ok := b.node.LeaderID(); ok {
		resp.ControllerID = id
	}
	withFenced := req.Version >= 2 && req.IncludeFencedBrokers
	for _, id := range sortedBrokerIDs(st) {
		br := st.Brokers[id]
		if br.Fenced && !withFenced {
			continue
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = br.ID, br.Host, br.Port, rackPtr(br.Rack)
		rb.IsFenced = br.Fenced
		rb.UnknownTags.Set(brokerEpochTag, binary.BigEndian.AppendUint64(nil, uint64(br.Epoch)))
		resp.Brokers = append(resp.Brokers, rb)
	}
	return reply{resp: resp}
}
