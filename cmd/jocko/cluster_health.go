package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// `jocko cluster health` prints one line per problem, or "healthy": no
// controller, fenced brokers (DescribeCluster v2), offline and
// under-replicated partitions (Metadata), and, from brokers that serve
// DescribeLogDirs, log directories that are offline or nearly full. The
// exit code is 0 only when healthy, so scripts and probes can use it.

// diskFreeMinPercent: a log directory with less free space than this share
// of its capacity is reported as nearly full.
const diskFreeMinPercent = 5

func init() {
	registerClusterCommand("health", clusterCommand{
		setup: func(c *adminCommand, stdout, _ io.Writer) {
			format := c.withFormat()
			c.runKgo = func(ctx context.Context, cl *kgo.Client, adm *kadm.Client, _ string) error {
				return clusterHealth(ctx, cl, adm, stdout, *format)
			}
		},
	})
}

// healthReport is what `cluster health` found (--format json prints it).
type healthReport struct {
	Healthy    bool      `json:"healthy"`
	Controller int32     `json:"controller"` // -1: none
	Brokers    int       `json:"brokers"`
	Partitions int       `json:"partitions"`
	Problems   []problem `json:"problems"`
}

// problem is one thing wrong. Kind is one of no-controller, fenced-broker,
// offline-partition, under-replicated-partition, topic-error,
// log-dir-offline and log-dir-full; the fields that do not apply are left
// out.
type problem struct {
	Kind      string  `json:"kind"`
	Broker    *int32  `json:"broker,omitempty"`
	Topic     string  `json:"topic,omitempty"`
	Partition *int32  `json:"partition,omitempty"`
	Replicas  []int32 `json:"replicas,omitempty"`
	ISR       []int32 `json:"isr,omitempty"`
	Dir       string  `json:"dir,omitempty"`
	Message   string  `json:"message"`
}

func clusterHealth(ctx context.Context, cl *kgo.Client, adm *kadm.Client, out io.Writer, format string) error {
	dc, err := describeClusterBrokers(ctx, cl)
	if err != nil {
		return err
	}
	md, err := adm.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("read partition metadata: %v", err)
	}
	r := healthReport{Controller: dc.ControllerID, Brokers: len(dc.Brokers), Problems: []problem{}}
	r.Problems = append(r.Problems, brokerProblems(dc)...)
	parts, partProblems := partitionProblems(md.Topics)
	r.Partitions = parts
	r.Problems = append(r.Problems, partProblems...)
	dirs, err := logDirProblems(ctx, adm)
	if err != nil {
		return err
	}
	r.Problems = append(r.Problems, dirs...)
	r.Healthy = len(r.Problems) == 0
	if format == formatJSON {
		err = writeJSON(out, r)
	} else {
		err = printHealth(out, r)
	}
	if err == nil && !r.Healthy {
		err = fmt.Errorf("the cluster is unhealthy: %d problems", len(r.Problems))
	}
	return err
}

func printHealth(out io.Writer, r healthReport) error {
	if r.Healthy {
		_, err := fmt.Fprintf(out, "healthy: %d brokers, controller %d, %d partitions all led and fully replicated\n", r.Brokers, r.Controller, r.Partitions)
		return err
	}
	for _, p := range r.Problems {
		if _, err := fmt.Fprintln(out, p.Message); err != nil {
			return err
		}
	}
	return nil
}

// brokerProblems: no controller, and each fenced broker.
func brokerProblems(dc *kmsg.DescribeClusterResponse) []problem {
	var ps []problem
	if dc.ControllerID < 0 {
		ps = append(ps, problem{Kind: "no-controller",
			Message: "no controller: no metadata leader is elected; check that a majority of the voters run (jocko cluster describe)"})
	}
	for _, b := range dc.Brokers {
		if !b.IsFenced {
			continue
		}
		id := b.NodeID
		addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
		ps = append(ps, problem{Kind: "fenced-broker", Broker: &id,
			Message: fmt.Sprintf("broker %d (%s) fenced: the controller has no recent heartbeat from it; is it running?", id, addr)})
	}
	return ps
}

// partitionProblems returns how many partitions there are and the offline
// (no leader) and under-replicated (ISR smaller than the replicas) ones.
func partitionProblems(topics kadm.TopicDetails) (int, []problem) {
	n := 0
	var ps []problem
	for _, name := range topics.Names() {
		t := topics[name]
		if t.Err != nil {
			ps = append(ps, problem{Kind: "topic-error", Topic: name, Message: fmt.Sprintf("topic %s: %v", name, t.Err)})
			continue
		}
		for _, p := range t.Partitions.Sorted() {
			n++
			id := p.Partition
			pr := problem{Topic: name, Partition: &id, Replicas: p.Replicas, ISR: p.ISR}
			switch {
			case p.Leader < 0 || p.Err != nil:
				pr.Kind = "offline-partition"
				pr.Message = fmt.Sprintf("partition %s-%d offline: no leader (replicas %v, ISR %v); bring a replica's broker back", name, id, p.Replicas, p.ISR)
			case len(p.ISR) < len(p.Replicas):
				pr.Kind = "under-replicated-partition"
				pr.Message = fmt.Sprintf("partition %s-%d under-replicated: ISR %v of replicas %v", name, id, p.ISR, p.Replicas)
			default:
				continue
			}
			ps = append(ps, pr)
		}
	}
	return n, ps
}

// logDirProblems asks every broker that serves DescribeLogDirs v3+ (the
// versions with capacity, KIP-827) about its log directories; brokers
// without it, or that do not answer, are skipped.
func logDirProblems(ctx context.Context, adm *kadm.Client) ([]problem, error) {
	versions, err := adm.ApiVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the brokers' API versions: %v", err)
	}
	var ps []problem
	for _, v := range versions.Sorted() {
		if max, ok := v.KeyMaxVersion(int16(kmsg.DescribeLogDirs)); v.Err != nil || !ok || max < 3 {
			continue
		}
		dirs, err := adm.DescribeBrokerLogDirs(ctx, v.NodeID, kadm.TopicsSet{})
		if err != nil {
			return nil, fmt.Errorf("describe the log directories of broker %d: %v", v.NodeID, err)
		}
		for _, d := range dirs.Sorted() {
			ps = append(ps, dirProblems(v.NodeID, d.Dir, d.Err, d.TotalBytes, d.UsableBytes)...)
		}
	}
	return ps, nil
}

// dirProblems judges one log directory: offline when the broker reports an
// error for it, full when less than diskFreeMinPercent of it is free.
func dirProblems(broker int32, dir string, dirErr error, total, usable int64) []problem {
	pr := problem{Broker: &broker, Dir: dir}
	switch {
	case dirErr != nil:
		pr.Kind = "log-dir-offline"
		pr.Message = fmt.Sprintf("broker %d log dir %s offline: %v; its partitions are offline there until the disk is fixed and the broker restarted", broker, dir, dirErr)
	case total > 0 && usable*100 < total*diskFreeMinPercent:
		pr.Kind = "log-dir-full"
		pr.Message = fmt.Sprintf("broker %d log dir %s nearly full: %s free of %s (%.1f%%); lower retention or add disk",
			broker, dir, humanBytes(usable), humanBytes(total), float64(usable)*100/float64(total))
	default:
		return nil
	}
	return []problem{pr}
}
