package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jocko/jocko/cluster/controller"
)

// `jocko cluster rebalance` spreads replicas and preferred leaders evenly
// over the unfenced brokers (controller.Rebalance plans it, moving as few
// replicas as it can), shows the plan, and with --execute carries it out:
// AlterPartitionReassignments for the moves, then, once they are complete,
// ElectLeaders PREFERRED for every partition so leadership follows the new
// preferred replicas. Brokers come from DescribeCluster (with fenced ones,
// which get nothing), partitions from Metadata.

func init() {
	registerClusterCommand("rebalance", clusterCommand{
		setup: func(c *adminCommand, stdout, _ io.Writer) {
			c.needName = false
			execute := c.fs.Bool("execute", false, "carry out the plan (without it, only show it)")
			c.runKgo = func(ctx context.Context, cl *kgo.Client, adm *kadm.Client, _ string) error {
				return clusterRebalance(ctx, cl, adm, stdout, *execute)
			}
		},
	})
}

func clusterRebalance(ctx context.Context, cl *kgo.Client, adm *kadm.Client, out io.Writer, execute bool) error {
	dc, err := describeClusterBrokers(ctx, cl)
	if err != nil {
		return err
	}
	var brokers []controller.BrokerInfo
	for _, b := range dc.Brokers {
		rack := ""
		if b.Rack != nil {
			rack = *b.Rack
		}
		brokers = append(brokers, controller.BrokerInfo{ID: b.NodeID, Rack: rack, Fenced: b.IsFenced})
	}
	md, err := adm.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("read metadata: %v", err)
	}
	busy, err := listAllReassignments(ctx, cl)
	if err != nil {
		return err
	}
	if len(busy) > 0 {
		n := 0
		for _, ps := range busy {
			n += len(ps)
		}
		return fmt.Errorf("%d partition(s) are being reassigned already; wait for them (jocko topic reassign NAME) before rebalancing", n)
	}
	var parts []controller.Assignment
	for _, t := range md.Topics.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			parts = append(parts, controller.Assignment{Topic: t.Topic, Partition: p.Partition, Replicas: p.Replicas})
		}
	}
	plan := controller.Rebalance(brokers, parts)
	if err := printPlan(out, parts, plan); err != nil {
		return err
	}
	if !execute {
		if len(plan) > 0 {
			fmt.Fprintln(out, "run again with --execute to carry it out")
		}
		return nil
	}
	if len(plan) > 0 {
		if err := startPlan(ctx, adm, plan); err != nil {
			return err
		}
		moving := kadm.TopicsSet{}
		for _, a := range plan {
			moving.Add(a.Topic, a.Partition)
		}
		if err := waitReassignments(ctx, cl, adm, out, moving); err != nil {
			return err
		}
	}
	return electPreferred(ctx, adm, out)
}

// printPlan prints each partition the plan changes, or that nothing moves.
func printPlan(out io.Writer, parts, plan []controller.Assignment) error {
	if len(plan) == 0 {
		fmt.Fprintf(out, "replicas and preferred leaders of %d partition(s) are balanced: nothing to move\n", len(parts))
		return nil
	}
	before := map[string][]int32{}
	for _, p := range parts {
		before[fmt.Sprintf("%s-%d", p.Topic, p.Partition)] = p.Replicas
	}
	fmt.Fprintf(out, "%d of %d partition(s) change:\n", len(plan), len(parts))
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tREPLICAS\tNEW REPLICAS")
	for _, a := range plan {
		fmt.Fprintf(w, "%s\t%d\t%v\t%v\n", a.Topic, a.Partition, before[fmt.Sprintf("%s-%d", a.Topic, a.Partition)], a.Replicas)
	}
	return w.Flush()
}

// startPlan sends the plan's reassignments in one request.
func startPlan(ctx context.Context, adm *kadm.Client, plan []controller.Assignment) error {
	req := kadm.AlterPartitionAssignmentsReq{}
	for _, a := range plan {
		req.Assign(a.Topic, a.Partition, a.Replicas)
	}
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return fmt.Errorf("reassign: %v", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil {
			return topicErr("reassign", fmt.Sprintf("%s partition %d", r.Topic, r.Partition), r.ErrMessage, r.Err)
		}
	}
	return nil
}

// electPreferred moves leadership to the preferred replica of every
// partition that is not led by it.
func electPreferred(ctx context.Context, adm *kadm.Client, out io.Writer) error {
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil)
	if err != nil {
		return fmt.Errorf("elect preferred leaders: %v", err)
	}
	moved, failed := 0, 0
	for _, t := range res {
		for _, r := range t {
			if r.Err != nil {
				failed++
				fmt.Fprintf(out, "%s-%d: preferred leader not elected: %v (%s)\n", r.Topic, r.Partition, r.Err, r.ErrMessage)
				continue
			}
			moved++
		}
	}
	switch {
	case moved == 0 && failed == 0:
		fmt.Fprintln(out, "preferred leaders: every partition is led by its preferred replica")
	case failed == 0:
		fmt.Fprintf(out, "preferred leaders elected for %d partition(s)\n", moved)
	default:
		fmt.Fprintf(out, "preferred leaders elected for %d partition(s); %d could not be (see above)\n", moved, failed)
	}
	return nil
}
