package core

import (
	"context"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientConn dials b as a Kafka client would (client ID "test", not a
// broker's): requests a broker forwards are answered as a client's.
func clientConn(t *testing.T, b *Broker) *peerConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := b.dialPeer(ctx, b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.fmt = kmsg.NewRequestFormatter(kmsg.FormatterClientID("test"))
	t.Cleanup(c.close)
	return c
}

func describeQuorum(t *testing.T, c *peerConn, v int16, topic string, part int32) *kmsg.DescribeQuorumResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.SetVersion(v)
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rp.Partition = part
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := c.do(ctx, time.Now(), req)
	if err != nil {
		t.Fatalf("DescribeQuorum v%d: %v", v, err)
	}
	return resp.(*kmsg.DescribeQuorumResponse)
}

// TestDescribeQuorum (API 55, KIP-595/KIP-836/KIP-853 fields): every
// broker of a 3-voter cluster describes the metadata Raft group as the
// controller sees it (a follower forwards): leader, epoch (the Raft term),
// high watermark (the commit index, past every registration), the three
// voters with only the leader's log end known, and from v2 each voter's
// Raft address. Another topic is UNKNOWN_TOPIC_OR_PARTITION; a request a
// broker forwarded is never forwarded again.
func TestDescribeQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three brokers")
	}
	tc := startTestCluster(t, 3)
	var ctrl, follower *Broker
	waitFor(t, 10*time.Second, "a controller", func() bool {
		for _, b := range tc.brokers {
			if b.node.IsLeader() {
				ctrl = b
			} else {
				follower = b
			}
		}
		return ctrl != nil && follower != nil
	})
	var epochMax int64
	for _, br := range ctrl.node.State().Brokers {
		epochMax = max(epochMax, br.Epoch)
	}
	for _, b := range []*Broker{ctrl, follower} {
		c := clientConn(t, b)
		for _, v := range []int16{0, 1, 2} {
			resp := describeQuorum(t, c, v, "__cluster_metadata", 0)
			if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("broker %d v%d: error %v, %d topics", b.cfg.NodeID, v, kerr.ErrorForCode(resp.ErrorCode), len(resp.Topics))
			}
			p := resp.Topics[0].Partitions[0]
			if p.ErrorCode != 0 || p.LeaderID != ctrl.cfg.NodeID || p.LeaderEpoch < 1 {
				t.Fatalf("broker %d v%d: partition error %v, leader %d epoch %d; want leader %d, epoch >= 1",
					b.cfg.NodeID, v, kerr.ErrorForCode(p.ErrorCode), p.LeaderID, p.LeaderEpoch, ctrl.cfg.NodeID)
			}
			if p.HighWatermark < epochMax {
				t.Fatalf("broker %d v%d: high watermark %d below the last registration's index %d", b.cfg.NodeID, v, p.HighWatermark, epochMax)
			}
			checkVoters(t, v, p, ctrl.cfg.NodeID)
			checkQuorumNodes(t, v, resp, tc)
		}
	}
	other := describeQuorum(t, clientConn(t, ctrl), 2, "orders", 0)
	if got := other.Topics[0].Partitions[0]; got.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("DescribeQuorum of orders-0: %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(got.ErrorCode))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fc, err := follower.dialPeer(ctx, follower.Addr()) // a broker's client ID
	if err != nil {
		t.Fatal(err)
	}
	defer fc.close()
	if resp := describeQuorum(t, fc, 2, "__cluster_metadata", 0); resp.ErrorCode != kerr.NotController.Code {
		t.Fatalf("a broker's request to a follower: %v, want NOT_CONTROLLER", kerr.ErrorForCode(resp.ErrorCode))
	}
}

func checkVoters(t *testing.T, v int16, p kmsg.DescribeQuorumResponseTopicPartition, leader int32) {
	t.Helper()
	var ids []int32
	for _, r := range p.CurrentVoters {
		ids = append(ids, r.ReplicaID)
		switch {
		case r.ReplicaID == leader && r.LogEndOffset < p.HighWatermark:
			t.Fatalf("v%d: leader's log end %d below the high watermark %d", v, r.LogEndOffset, p.HighWatermark)
		case r.ReplicaID != leader && r.LogEndOffset != -1:
			t.Fatalf("v%d: voter %d log end %d; only the leader's is known", v, r.ReplicaID, r.LogEndOffset)
		}
	}
	if !slices.Equal(ids, []int32{1, 2, 3}) || len(p.Observers) != 0 {
		t.Fatalf("v%d: voters %v, %d observers; want [1 2 3] and none", v, ids, len(p.Observers))
	}
}

func checkQuorumNodes(t *testing.T, v int16, resp *kmsg.DescribeQuorumResponse, tc *testCluster) {
	t.Helper()
	if v < 2 {
		if len(resp.Nodes) != 0 {
			t.Fatalf("v%d: %d nodes, want none before v2", v, len(resp.Nodes))
		}
		return
	}
	if len(resp.Nodes) != 3 {
		t.Fatalf("v2: %d nodes, want 3", len(resp.Nodes))
	}
	for _, n := range resp.Nodes {
		b := tc.byID(n.NodeID)
		if b == nil || len(n.Listeners) != 1 {
			t.Fatalf("v2: node %d with %d listeners", n.NodeID, len(n.Listeners))
		}
		l := n.Listeners[0]
		addr := net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
		if l.Name != "RAFT" || addr != b.node.RaftAddr() {
			t.Fatalf("v2: node %d listener %s %s, want RAFT %s", n.NodeID, l.Name, addr, b.node.RaftAddr())
		}
	}
}
