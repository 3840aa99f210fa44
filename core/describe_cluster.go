package core

// DescribeCluster: v0-2
//
// Behavior: the cluster ID, the controller (the metadata Raft leader) and
// every registered broker; v1+ echoes the endpoint type (brokers only).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

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
	for _, id := range sortedBrokerIDs(st) {
		br := st.Brokers[id]
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port = br.ID, br.Host, br.Port
		if br.Rack != "" {
			rb.Rack = strPtr(br.Rack)
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	return reply{resp: resp}
}
