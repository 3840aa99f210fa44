package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/jocko/jocko/core"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicDescription is what `topic describe` shows (--format json prints
// it as is).
type topicDescription struct {
	Topic      string                 `json:"topic"`
	ID         string                 `json:"id"`
	Partitions []partitionDescription `json:"partitions"`
	Configs    []configEntry          `json:"configs"`
}

type partitionDescription struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
	StartOffset int64   `json:"start_offset"`
	EndOffset   int64   `json:"end_offset"`
	// Size is the bytes of the leader's replica on disk (DescribeLogDirs;
	// -1 when the leader did not answer), ReplicaSizes every replica's
	// that answered, by broker ID.
	Size         int64           `json:"size"`
	ReplicaSizes map[int32]int64 `json:"replica_sizes"`
}

type configEntry struct {
	Name   string  `json:"name"`
	Value  *string `json:"value"`
	Source string  `json:"source"`
}

// topicDescribe prints a topic. Its configs are the ones Jocko acts on and
// any other that is not at its default; allConfigs adds the rest of Kafka's
// catalog (about a dozen configs Jocko describes read-only at Kafka's
// defaults: preallocate, remote.storage.enable, ...).
func topicDescribe(ctx context.Context, adm *kadm.Client, out io.Writer, name, format string, allConfigs bool) error {
	d, err := describeTopic(ctx, adm, name)
	if err != nil {
		return err
	}
	hidden := 0
	if !allConfigs {
		d.Configs, hidden = actedOnConfigs(d.Configs)
	}
	if format == formatJSON {
		return writeJSON(out, d)
	}
	fmt.Fprintf(out, "Topic: %s  ID: %s  Partitions: %d\n", name, d.ID, len(d.Partitions))
	w := newTable(out)
	fmt.Fprintln(w, "PARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tSTART\tEND\tSIZE")
	for _, p := range d.Partitions {
		size := "-"
		if p.Size >= 0 {
			size = strconv.FormatInt(p.Size, 10)
		}
		fmt.Fprintf(w, "%d\t%d\t%d\t%v\t%v\t%d\t%d\t%s\n", p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR, p.StartOffset, p.EndOffset, size)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "Configs:")
	w = newTable(out)
	for _, c := range d.Configs {
		v := ""
		if c.Value != nil {
			v = *c.Value
		}
		fmt.Fprintf(w, "  %s\t%s\t(%s)\n", c.Name, v, c.Source)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if hidden > 0 {
		fmt.Fprintf(out, "  (and %d Kafka configs Jocko does not act on, at Kafka's defaults: --all-configs lists them)\n", hidden)
	}
	return nil
}

// actedOnConfigs keeps the configs Jocko acts on and those not at their
// default, and counts the others.
func actedOnConfigs(all []configEntry) ([]configEntry, int) {
	out := []configEntry{}
	for _, c := range all {
		if c.Source == "default" && !core.IsTopicConfigActedOn(c.Name) {
			continue
		}
		out = append(out, c)
	}
	return out, len(all) - len(out)
}

// describeTopic reads a topic's partitions, their offsets and its configs.
func describeTopic(ctx context.Context, adm *kadm.Client, name string) (topicDescription, error) {
	topics, err := adm.ListTopics(ctx, name)
	if err != nil {
		return topicDescription{}, err
	}
	t, ok := topics[name]
	if !ok || t.Err != nil {
		return topicDescription{}, fmt.Errorf("describe topic %s: %v", name, t.Err)
	}
	starts, err := adm.ListStartOffsets(ctx, name)
	if err != nil {
		return topicDescription{}, err
	}
	ends, err := adm.ListEndOffsets(ctx, name)
	if err != nil {
		return topicDescription{}, err
	}
	// Every broker's log directory: a broker that is down leaves its
	// replicas' sizes out, it does not fail the description.
	set := kadm.TopicsSet{}
	for _, p := range t.Partitions {
		set.Add(name, p.Partition)
	}
	dirs, _ := adm.DescribeAllLogDirs(ctx, set)
	d := topicDescription{Topic: name, ID: kafkaUUID(t.ID), Partitions: []partitionDescription{}, Configs: []configEntry{}}
	for _, p := range t.Partitions.Sorted() {
		s, _ := starts.Lookup(name, p.Partition)
		e, _ := ends.Lookup(name, p.Partition)
		pd := partitionDescription{p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR, s.Offset, e.Offset, -1, map[int32]int64{}}
		for broker, bd := range dirs {
			if lp, ok := bd.LookupPartition(name, p.Partition); ok {
				pd.ReplicaSizes[broker] = lp.Size
				if broker == p.Leader {
					pd.Size = lp.Size
				}
			}
		}
		d.Partitions = append(d.Partitions, pd)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return topicDescription{}, err
	}
	rc, err := configs.On(name, nil)
	if err != nil {
		return topicDescription{}, err
	}
	for _, c := range rc.Configs {
		d.Configs = append(d.Configs, configEntry{c.Key, c.Value, sourceName(c.Source)})
	}
	return d, nil
}

func sourceName(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "topic"
	case kmsg.ConfigSourceDynamicBrokerConfig, kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "cluster"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "broker flag"
	default:
		return "default"
	}
}

func topicAlter(ctx context.Context, adm *kadm.Client, out io.Writer, name string, partitions int, set kvList, deletes stringList) error {
	if partitions == 0 && len(set) == 0 && len(deletes) == 0 {
		return usageErrorf("topic alter %s: nothing to change; give --partitions, --config or --delete-config", name)
	}
	if partitions != 0 {
		resps, err := adm.UpdatePartitions(ctx, partitions, name)
		if err != nil {
			return err
		}
		if r, ok := resps[name]; ok && r.Err != nil {
			return topicErr("alter", name, r.ErrMessage, r.Err)
		}
		fmt.Fprintf(out, "topic %s now has %d partitions\n", name, partitions)
	}
	var alters []kadm.AlterConfig
	for _, k := range sortedNames(set) {
		v := set[k]
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	for _, k := range deletes {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if len(alters) == 0 {
		return nil
	}
	resps, err := adm.AlterTopicConfigs(ctx, alters, name)
	if err != nil {
		return err
	}
	for _, r := range resps {
		if r.Err != nil {
			return topicErr("alter", name, r.ErrMessage, r.Err)
		}
	}
	fmt.Fprintf(out, "topic %s configs updated\n", name)
	return nil
}

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}
