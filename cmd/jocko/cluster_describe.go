package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// `jocko cluster describe` asks what any Kafka client could ask:
// DescribeCluster v2 with fenced brokers (KIP-1073) for the brokers and the
// controller, DescribeQuorum for the metadata Raft group, and Metadata for
// the partitions. Kafka's APIs have no field for a broker's epoch; Jocko
// sends it in a tagged field of DescribeCluster (brokerEpochTag, which
// core/describe_cluster.go defines), and other brokers show "-".

// brokerEpochTag must match core's tag for the broker epoch.
const brokerEpochTag = 10000

func init() {
	registerClusterCommand("describe", clusterCommand{
		setup: func(c *adminCommand, stdout, _ io.Writer) {
			format := c.withFormat()
			c.runKgo = func(ctx context.Context, cl *kgo.Client, adm *kadm.Client, _ string) error {
				if *format == formatJSON {
					return clusterDescribeJSON(ctx, cl, adm, stdout)
				}
				return clusterDescribe(ctx, cl, adm, stdout)
			}
		},
	})
}

func clusterDescribe(ctx context.Context, cl *kgo.Client, adm *kadm.Client, out io.Writer) error {
	dc, err := describeClusterBrokers(ctx, cl)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Cluster: %s\n", dc.ClusterID)
	fmt.Fprintf(out, "Controller: %s\n", controllerText(dc))
	if err := printBrokers(out, dc.Brokers); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if err := printQuorum(ctx, cl, out); err != nil {
		return err
	}
	md, err := adm.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("read partition metadata: %v", err)
	}
	fmt.Fprintln(out)
	return printUnhealthy(out, md.Topics)
}

// describeClusterBrokers sends DescribeCluster asking for fenced brokers
// too (v2; older brokers leave them out).
func describeClusterBrokers(ctx context.Context, cl *kgo.Client) (*kmsg.DescribeClusterResponse, error) {
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeFencedBrokers = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("describe cluster: %v", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if resp.ErrorMessage != nil {
			return nil, fmt.Errorf("describe cluster: %v: %s", err, *resp.ErrorMessage)
		}
		return nil, fmt.Errorf("describe cluster: %v", err)
	}
	slices.SortFunc(resp.Brokers, func(a, b kmsg.DescribeClusterResponseBroker) int { return cmp.Compare(a.NodeID, b.NodeID) })
	return resp, nil
}

// controllerText is the controller's ID and address, or why there is none.
func controllerText(dc *kmsg.DescribeClusterResponse) string {
	if dc.ControllerID < 0 {
		return "none (no metadata leader elected; check that a majority of the voters run)"
	}
	for _, b := range dc.Brokers {
		if b.NodeID == dc.ControllerID {
			return fmt.Sprintf("%d (%s)", b.NodeID, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
		}
	}
	return strconv.Itoa(int(dc.ControllerID))
}

// printBrokers prints ID ADDRESS RACK EPOCH STATUS, one broker a line.
func printBrokers(out io.Writer, brokers []kmsg.DescribeClusterResponseBroker) error {
	fenced := 0
	for _, b := range brokers {
		if b.IsFenced {
			fenced++
		}
	}
	fmt.Fprintf(out, "Brokers: %d (%d fenced)\n", len(brokers), fenced)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tADDRESS\tRACK\tEPOCH\tSTATUS")
	for _, b := range brokers {
		rack, status := "-", "unfenced"
		if b.Rack != nil && *b.Rack != "" {
			rack = *b.Rack
		}
		if b.IsFenced {
			status = "fenced"
		}
		addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", b.NodeID, addr, rack, brokerEpochText(b), status)
	}
	return w.Flush()
}

// brokerEpochText reads Jocko's broker-epoch tag, "-" when absent.
func brokerEpochText(b kmsg.DescribeClusterResponseBroker) string {
	if epoch, ok := brokerEpoch(b); ok {
		return strconv.FormatInt(epoch, 10)
	}
	return "-"
}

// brokerEpoch reads Jocko's broker-epoch tag; ok is false when absent.
func brokerEpoch(b kmsg.DescribeClusterResponseBroker) (epoch int64, ok bool) {
	b.UnknownTags.Each(func(tag uint32, val []byte) {
		if tag == brokerEpochTag && len(val) == 8 {
			epoch, ok = int64(binary.BigEndian.Uint64(val)), true
		}
	})
	return epoch, ok
}

// printQuorum prints the metadata Raft group: its leader and epoch, the
// committed index, and each voter with its Raft address and log end.
func printQuorum(ctx context.Context, cl *kgo.Client, out io.Writer) error {
	resp, err := describeQuorum(ctx, cl)
	if err != nil {
		return err
	}
	p := resp.Topics[0].Partitions[0]
	fmt.Fprintf(out, "Metadata quorum: leader %d, epoch %d, committed index %d\n", p.LeaderID, p.LeaderEpoch, p.HighWatermark)
	addrs := map[int32]string{}
	for _, n := range resp.Nodes {
		for _, l := range n.Listeners {
			addrs[n.NodeID] = net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
		}
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VOTER\tRAFT ADDRESS\tLOG END\tROLE")
	for _, v := range p.CurrentVoters {
		role := "follower"
		if v.ReplicaID == p.LeaderID {
			role = "leader"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", v.ReplicaID, orDash(addrs[v.ReplicaID]), offsetText(v.LogEndOffset), role)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(p.Observers) > 0 {
		ids := make([]int32, 0, len(p.Observers))
		for _, o := range p.Observers {
			ids = append(ids, o.ReplicaID)
		}
		fmt.Fprintf(out, "Non-voting brokers: %v\n", ids)
	}
	return nil
}

// describeQuorum asks the controller for the metadata quorum.
func describeQuorum(ctx context.Context, cl *kgo.Client) (*kmsg.DescribeQuorumResponse, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("describe the metadata quorum: %v", err)
	}
	code := resp.ErrorCode
	if code == 0 && (len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1) {
		return nil, fmt.Errorf("describe the metadata quorum: the broker answered %d topics; want __cluster_metadata alone", len(resp.Topics))
	}
	if code == 0 {
		code = resp.Topics[0].Partitions[0].ErrorCode
	}
	if err := kerr.ErrorForCode(code); err != nil {
		return nil, fmt.Errorf("describe the metadata quorum: %v (is a controller elected? retry, or check the brokers' logs)", err)
	}
	return resp, nil
}

// printUnhealthy lists the partitions whose ISR is smaller than their
// replica set, and those without a leader (as Kafka's tools count them, an
// offline partition is usually under-replicated too).
func printUnhealthy(out io.Writer, topics kadm.TopicDetails) error {
	under, offline := unhealthyPartitions(topics)
	if err := printPartitions(out, "Under-replicated partitions", under); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return printPartitions(out, "Offline partitions", offline)
}

// unhealthyPartitions returns the partitions whose ISR is smaller than
// their replica set and those without a leader.
func unhealthyPartitions(topics kadm.TopicDetails) (under, offline []kadm.PartitionDetail) {
	for _, name := range topics.Names() {
		for _, p := range topics[name].Partitions.Sorted() {
			if len(p.ISR) < len(p.Replicas) {
				under = append(under, p)
			}
			if p.Leader < 0 {
				offline = append(offline, p)
			}
		}
	}
	return under, offline
}

func printPartitions(out io.Writer, title string, parts []kadm.PartitionDetail) error {
	if len(parts) == 0 {
		fmt.Fprintf(out, "%s: none\n", title)
		return nil
	}
	fmt.Fprintf(out, "%s: %d\n", title, len(parts))
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tLEADER\tEPOCH\tREPLICAS\tISR")
	for _, p := range parts {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%v\t%v\n", p.Topic, p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR)
	}
	return w.Flush()
}
