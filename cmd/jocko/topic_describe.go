package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func topicDescribe(ctx context.Context, adm *kadm.Client, out io.Writer, name string) error {
	topics, err := adm.ListTopics(ctx, name)
	if err != nil {
		return err
	}
	t, ok := topics[name]
	if !ok || t.Err != nil {
		return fmt.Errorf("describe topic %s: %v", name, t.Err)
	}
	starts, err := adm.ListStartOffsets(ctx, name)
	if err != nil {
		return err
	}
	ends, err := adm.ListEndOffsets(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Topic: %s  ID: %s  Partitions: %d\n", name, kafkaUUID(t.ID), len(t.Partitions))
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tSTART\tEND")
	for _, p := range t.Partitions.Sorted() {
		s, _ := starts.Lookup(name, p.Partition)
		e, _ := ends.Lookup(name, p.Partition)
		fmt.Fprintf(w, "%d\t%d\t%d\t%v\t%v\t%d\t%d\n", p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR, s.Offset, e.Offset)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	configs, err := adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return err
	}
	rc, err := configs.On(name, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Configs:")
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, c := range rc.Configs {
		v := ""
		if c.Value != nil {
			v = *c.Value
		}
		fmt.Fprintf(w, "  %s\t%s\t(%s)\n", c.Key, v, sourceName(c.Source))
	}
	return w.Flush()
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
