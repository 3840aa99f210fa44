package core

// DescribeQuorum: v0-2
//
// Behavior: describes the metadata Raft group the way Kafka describes its
// KRaft quorum, as partition 0 of __cluster_metadata: the leader (the
// controller) and its epoch (the Raft term), the high watermark (the Raft
// commit index; offsets here are Raft indexes, so a broker epoch, the index
// of its registration, compares with them), the voters, and as observers
// the registered brokers that do not vote. hashicorp/raft does not expose
// how far each follower has replicated, so only the leader's own log end
// offset is known; every other replica reports -1, which Kafka's schema
// reads as unknown. The controller answers; any other broker forwards the
// request to it once (Kafka 4 brokers forward DescribeQuorum too) and
// answers NOT_CONTROLLER, which clients retry, when it knows no controller
// or the forward fails. A request naming another topic or partition gets
// UNKNOWN_TOPIC_OR_PARTITION for it, as Kafka's raft client answers. v2
// lists each voter's Raft address in Nodes, as listener "RAFT".

import (
	"context"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadataTopicName and metadataPartition name the metadata log as Kafka does.
const (
	metadataTopicName = "__cluster_metadata"
	metadataPartition = 0
)

// raftListener is the listener name DescribeQuorum v2 gives voters' Raft
// addresses (Kafka names its controller listener; Jocko's is Raft's).
const raftListener = "RAFT"

func init() { register(kmsg.DescribeQuorum, 0, 2, (*Broker).handleDescribeQuorum) }

func (b *Broker) handleDescribeQuorum(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.DescribeQuorumRequest)
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	if !asksForMetadataLog(req) {
		return reply{resp: unknownQuorumPartitions(req, resp)}
	}
	if b.node.IsLeader() {
		return reply{resp: b.describeQuorum(resp)}
	}
	leader, ok := b.node.LeaderID()
	if !ok || forwardedByBroker(r) {
		resp.ErrorCode, resp.ErrorMessage = kerr.NotController.Code, strPtr("no controller known; retry")
		return reply{resp: resp}
	}
	return reply{wait: func() kmsg.Response {
		fwd, err := b.peerRequest(ctx, leader, req)
		if err != nil {
			resp.ErrorCode = kerr.NotController.Code
			resp.ErrorMessage = strPtr("forward to controller " + strconv.Itoa(int(leader)) + ": " + err.Error())
			return resp
		}
		return fwd
	}}
}

// forwardedByBroker reports whether r came from another Jocko broker (its
// peer connections carry client IDs "jocko-broker-N"): such a request is
// answered here, never forwarded again, so a leadership change cannot
// bounce it between brokers.
func forwardedByBroker(r *request) bool {
	return r.hdr.ClientID != nil && strings.HasPrefix(*r.hdr.ClientID, "jocko-broker-")
}

// asksForMetadataLog reports whether req names exactly the metadata log.
func asksForMetadataLog(req *kmsg.DescribeQuorumRequest) bool {
	if len(req.Topics) != 1 || req.Topics[0].Topic != metadataTopicName {
		return false
	}
	ps := req.Topics[0].Partitions
	return len(ps) == 1 && ps[0].Partition == metadataPartition
}

// unknownQuorumPartitions answers every requested partition with
// UNKNOWN_TOPIC_OR_PARTITION.
func unknownQuorumPartitions(req *kmsg.DescribeQuorumRequest, resp *kmsg.DescribeQuorumResponse) *kmsg.DescribeQuorumResponse {
	for _, rt := range req.Topics {
		t := kmsg.NewDescribeQuorumResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewDescribeQuorumResponseTopicPartition()
			p.Partition, p.ErrorCode = rp.Partition, kerr.UnknownTopicOrPartition.Code
			p.LeaderID, p.LeaderEpoch, p.HighWatermark = -1, -1, -1
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// describeQuorum fills resp from this (leader) node's Raft state.
func (b *Broker) describeQuorum(resp *kmsg.DescribeQuorumResponse) *kmsg.DescribeQuorumResponse {
	q, err := b.node.QuorumInfo()
	if err != nil || !q.IsLeader {
		resp.ErrorCode, resp.ErrorMessage = kerr.NotController.Code, strPtr("this broker no longer leads the metadata quorum; retry")
		return resp
	}
	p := kmsg.NewDescribeQuorumResponseTopicPartition()
	p.Partition = metadataPartition
	p.LeaderID, p.LeaderEpoch, p.HighWatermark = q.LeaderID, q.Term, int64(q.CommitIndex)
	st := b.node.State()
	for _, id := range slices.Sorted(maps.Keys(q.Voters)) {
		rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		rs.ReplicaID, rs.LogEndOffset = id, -1
		if id == q.LeaderID {
			rs.LogEndOffset = int64(q.LastIndex)
		}
		p.CurrentVoters = append(p.CurrentVoters, rs)
		resp.Nodes = append(resp.Nodes, quorumNode(id, q.Voters[id]))
	}
	for _, id := range st.SortedBrokerIDs() {
		if _, voter := q.Voters[id]; voter {
			continue
		}
		rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		rs.ReplicaID, rs.LogEndOffset = id, -1
		p.Observers = append(p.Observers, rs)
	}
	t := kmsg.NewDescribeQuorumResponseTopic()
	t.Topic = metadataTopicName
	t.Partitions = append(t.Partitions, p)
	resp.Topics = append(resp.Topics, t)
	return resp
}

// quorumNode is a voter's endpoint for DescribeQuorum v2: its Raft address,
// or no listener when the address does not parse.
func quorumNode(id int32, raftAddr string) kmsg.DescribeQuorumResponseNode {
	n := kmsg.NewDescribeQuorumResponseNode()
	n.NodeID = id
	host, portStr, err := net.SplitHostPort(raftAddr)
	port, perr := strconv.ParseUint(portStr, 10, 16)
	if err == nil && perr == nil {
		l := kmsg.NewDescribeQuorumResponseNodeListener()
		l.Name, l.Host, l.Port = raftListener, host, uint16(port)
		n.Listeners = append(n.Listeners, l)
	}
	return n
}
