package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// `jocko topic reassign NAME` moves a partition's replicas with
// AlterPartitionReassignments and follows the move with
// ListPartitionReassignments and Metadata: the brokers being added catch
// up, join the ISR, and the controller completes the move. Without
// --replicas or --cancel it shows the topic's reassignments in progress.

// reassignPollEvery is how often progress is read while waiting.
const reassignPollEvery = 500 * time.Millisecond

// topicReassignCommand binds the flags of `jocko topic reassign`.
func topicReassignCommand(c *adminCommand, out io.Writer) {
	partition := c.fs.Int("partition", 0, "the partition to move")
	var replicas brokerList
	c.fs.Var(&replicas, "replicas", "the new replicas, preferred leader first: comma-separated broker IDs")
	cancelIt := c.fs.Bool("cancel", false, "cancel the partition's reassignment in progress")
	wait := c.fs.Bool("wait", true, "wait for the move to complete, showing its progress")
	c.check = func() error {
		switch {
		case *partition < 0:
			return usageErrorf("--partition %d: must be 0 or more", *partition)
		case *cancelIt && replicas != nil:
			return usageErrorf("--cancel and --replicas exclude each other")
		}
		return nil
	}
	c.runKgo = func(ctx context.Context, cl *kgo.Client, adm *kadm.Client, name string) error {
		p := int32(*partition)
		switch {
		case *cancelIt:
			return reassignPartition(ctx, cl, adm, out, name, p, nil, false)
		case replicas != nil:
			return reassignPartition(ctx, cl, adm, out, name, p, replicas, *wait)
		}
		return showReassignments(ctx, adm, out, name)
	}
}

// reassignPartition starts (target) or cancels (nil) a reassignment, and
// with wait follows it to the end.
func reassignPartition(ctx context.Context, cl *kgo.Client, adm *kadm.Client, out io.Writer, topic string, p int32, target []int32, wait bool) error {
	req := kadm.AlterPartitionAssignmentsReq{}
	req.Assign(topic, p, target)
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return fmt.Errorf("reassign %s-%d: %v", topic, p, err)
	}
	r, ok := resp[topic][p]
	if !ok {
		return fmt.Errorf("reassign %s-%d: the answer does not mention the partition", topic, p)
	}
	if r.Err != nil {
		return topicErr("reassign", fmt.Sprintf("%s partition %d", topic, p), r.ErrMessage, r.Err)
	}
	if target == nil {
		fmt.Fprintf(out, "cancelled the reassignment of %s-%d\n", topic, p)
		return nil
	}
	fmt.Fprintf(out, "reassigning %s-%d to %v\n", topic, p, target)
	if !wait {
		return nil
	}
	return waitReassignments(ctx, cl, adm, out, kadm.TopicsSet{topic: {p: {}}})
}

// waitReassignments polls until none of parts is being reassigned, printing
// each partition's progress when it changes.
func waitReassignments(ctx context.Context, cl *kgo.Client, adm *kadm.Client, out io.Writer, parts kadm.TopicsSet) error {
	last := map[string]string{}
	for {
		listed, err := adm.ListPartitionReassignments(ctx, parts)
		if err != nil {
			return fmt.Errorf("list reassignments: %v", err)
		}
		md, err := freshMetadata(ctx, cl, parts.Topics())
		if err != nil {
			return err
		}
		pending := 0
		for _, t := range parts.Sorted() {
			for _, p := range t.Partitions {
				key := t.Topic + "-" + strconv.Itoa(int(p))
				line := "complete: " + replicaState(md, t.Topic, p)
				if r, ok := listed[t.Topic][p]; ok {
					pending++
					line = fmt.Sprintf("adding %v, removing %v; %s", r.AddingReplicas, r.RemovingReplicas, replicaState(md, t.Topic, p))
				}
				if last[key] != line {
					fmt.Fprintf(out, "%s: %s\n", key, line)
					last[key] = line
				}
			}
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d reassignment(s) still in progress when --timeout ran out; they go on in the cluster (see 'jocko topic reassign NAME')", pending)
		case <-time.After(reassignPollEvery):
		}
	}
}

// freshMetadata reads the partitions of topics with a Metadata request of
// its own (kadm's Metadata may answer from the client's cache, seconds
// old), by topic and partition.
func freshMetadata(ctx context.Context, cl *kgo.Client, topics []string) (map[string]map[int32]kmsg.MetadataResponseTopicPartition, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("read metadata: %v", err)
	}
	out := map[string]map[int32]kmsg.MetadataResponseTopicPartition{}
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		ps := map[int32]kmsg.MetadataResponseTopicPartition{}
		for _, p := range t.Partitions {
			ps[p.Partition] = p
		}
		out[*t.Topic] = ps
	}
	return out, nil
}

// replicaState describes a partition's replicas, ISR and leader from md.
func replicaState(md map[string]map[int32]kmsg.MetadataResponseTopicPartition, topic string, p int32) string {
	pd, ok := md[topic][p]
	if !ok {
		return "not in the metadata"
	}
	return fmt.Sprintf("replicas %v, in sync %v, leader %d", pd.Replicas, pd.ISR, pd.Leader)
}

// showReassignments prints the topic's reassignments in progress.
func showReassignments(ctx context.Context, adm *kadm.Client, out io.Writer, topic string) error {
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("describe %s: %v", topic, err)
	}
	t, ok := td[topic]
	if !ok || t.Err != nil {
		return fmt.Errorf("topic %s: %v", topic, t.Err)
	}
	set := kadm.TopicsSet{}
	set.Add(topic, t.Partitions.Numbers()...)
	listed, err := adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return fmt.Errorf("list reassignments: %v", err)
	}
	rs := listed.Sorted()
	if len(rs) == 0 {
		fmt.Fprintf(out, "no reassignment of %s is in progress\n", topic)
		return nil
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PARTITION\tREPLICAS\tADDING\tREMOVING\tIN SYNC")
	for _, r := range rs {
		fmt.Fprintf(w, "%d\t%v\t%v\t%v\t%v\n", r.Partition, r.Replicas, r.AddingReplicas, r.RemovingReplicas, t.Partitions[r.Partition].ISR)
	}
	return w.Flush()
}

// brokerList is a flag of comma-separated broker IDs.
type brokerList []int32

var _ flag.Value = (*brokerList)(nil)

func (l *brokerList) String() string {
	parts := make([]string, len(*l))
	for i, id := range *l {
		parts[i] = strconv.Itoa(int(id))
	}
	return strings.Join(parts, ",")
}

func (l *brokerList) Set(s string) error {
	var ids []int32
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || id < 0 {
			return fmt.Errorf("%q is not a broker ID", f)
		}
		if slices.Contains(ids, int32(id)) {
			return fmt.Errorf("broker %d is listed twice", id)
		}
		ids = append(ids, int32(id))
	}
	*l = ids
	return nil
}

// listAllReassignments lists every reassignment in progress (null Topics,
// which kadm cannot send).
func listAllReassignments(ctx context.Context, cl *kgo.Client) (kadm.TopicsSet, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list reassignments: %v", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("list reassignments: %v", err)
	}
	set := kadm.TopicsSet{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			set.Add(t.Topic, p.Partition)
		}
	}
	return set, nil
}
