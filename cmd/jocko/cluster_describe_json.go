package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clusterDescription is `cluster describe --format json`: the same facts as
// the text, with null where the text prints "-".
type clusterDescription struct {
	ClusterID       string             `json:"cluster_id"`
	Controller      int32              `json:"controller"` // -1: none
	Brokers         []describedBroker  `json:"brokers"`
	Quorum          quorumDescription  `json:"quorum"`
	UnderReplicated []partitionReplica `json:"under_replicated"`
	Offline         []partitionReplica `json:"offline"`
}

type describedBroker struct {
	ID     int32   `json:"id"`
	Host   string  `json:"host"`
	Port   int32   `json:"port"`
	Rack   *string `json:"rack"`
	Epoch  *int64  `json:"epoch"` // Jocko's broker-epoch tag; null from other brokers
	Fenced bool    `json:"fenced"`
}

type quorumDescription struct {
	Leader         int32         `json:"leader"`
	Epoch          int32         `json:"epoch"`
	CommittedIndex int64         `json:"committed_index"`
	Voters         []quorumVoter `json:"voters"`
	Observers      []int32       `json:"observers"`
}

type quorumVoter struct {
	ID          int32   `json:"id"`
	RaftAddress *string `json:"raft_address"`
	LogEnd      *int64  `json:"log_end"` // null: not known to the leader
	Leader      bool    `json:"leader"`
}

type partitionReplica struct {
	Topic       string  `json:"topic"`
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
}

func clusterDescribeJSON(ctx context.Context, cl *kgo.Client, adm *kadm.Client, out io.Writer) error {
	dc, err := describeClusterBrokers(ctx, cl)
	if err != nil {
		return err
	}
	d := clusterDescription{ClusterID: dc.ClusterID, Controller: dc.ControllerID, Brokers: []describedBroker{}}
	for _, b := range dc.Brokers {
		db := describedBroker{ID: b.NodeID, Host: b.Host, Port: b.Port, Fenced: b.IsFenced}
		if b.Rack != nil && *b.Rack != "" {
			db.Rack = b.Rack
		}
		if epoch, ok := brokerEpoch(b); ok {
			db.Epoch = &epoch
		}
		d.Brokers = append(d.Brokers, db)
	}
	q, err := describeQuorum(ctx, cl)
	if err != nil {
		return err
	}
	p := q.Topics[0].Partitions[0]
	d.Quorum = quorumDescription{Leader: p.LeaderID, Epoch: p.LeaderEpoch, CommittedIndex: p.HighWatermark, Voters: []quorumVoter{}, Observers: []int32{}}
	addrs := map[int32]string{}
	for _, n := range q.Nodes {
		for _, l := range n.Listeners {
			addrs[n.NodeID] = net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
		}
	}
	for _, v := range p.CurrentVoters {
		qv := quorumVoter{ID: v.ReplicaID, Leader: v.ReplicaID == p.LeaderID}
		if a, ok := addrs[v.ReplicaID]; ok {
			qv.RaftAddress = &a
		}
		if v.LogEndOffset >= 0 {
			qv.LogEnd = &v.LogEndOffset
		}
		d.Quorum.Voters = append(d.Quorum.Voters, qv)
	}
	for _, o := range p.Observers {
		d.Quorum.Observers = append(d.Quorum.Observers, o.ReplicaID)
	}
	md, err := adm.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("read partition metadata: %v", err)
	}
	under, offline := unhealthyPartitions(md.Topics)
	d.UnderReplicated, d.Offline = partitionReplicas(under), partitionReplicas(offline)
	return writeJSON(out, d)
}

func partitionReplicas(ps []kadm.PartitionDetail) []partitionReplica {
	out := []partitionReplica{}
	for _, p := range ps {
		out = append(out, partitionReplica{p.Topic, p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR})
	}
	return out
}
