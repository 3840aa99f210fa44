package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

func runTopic(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"topic needs a subcommand: create, list, describe, alter, delete or reassign"}
	}
	c := newAdminCommand("topic", args[0])
	fs := c.fs
	switch c.sub {
	case "create":
		partitions := fs.Int("partitions", 1, "number of partitions")
		rf := fs.Int("replication-factor", -1, "replicas per partition (default: the cluster's default.replication.factor, min(3, live brokers) unless set)")
		configs := kvList{}
		fs.Var(configs, "config", "topic config NAME=VALUE (repeatable)")
		c.run = func(ctx context.Context, adm *kadm.Client, name string) error {
			return topicCreate(ctx, adm, stdout, name, *partitions, *rf, configs)
		}
	case "list":
		c.needName = false
		format := c.withFormat()
		c.run = func(ctx context.Context, adm *kadm.Client, _ string) error {
			return topicList(ctx, adm, stdout, *format)
		}
	case "describe":
		format := c.withFormat()
		all := fs.Bool("all-configs", false, "also list the Kafka topic configs Jocko does not act on (read-only at Kafka's defaults)")
		c.run = func(ctx context.Context, adm *kadm.Client, name string) error {
			return topicDescribe(ctx, adm, stdout, name, *format, *all)
		}
	case "alter":
		partitions := fs.Int("partitions", 0, "grow the topic to this many partitions")
		configs := kvList{}
		fs.Var(configs, "config", "set topic config NAME=VALUE (repeatable)")
		var deletes stringList
		fs.Var(&deletes, "delete-config", "remove a topic config override NAME (repeatable)")
		c.run = func(ctx context.Context, adm *kadm.Client, name string) error {
			return topicAlter(ctx, adm, stdout, name, *partitions, configs, deletes)
		}
	case "delete":
		c.run = func(ctx context.Context, adm *kadm.Client, name string) error {
			return topicDelete(ctx, adm, stdout, name)
		}
	case "reassign":
		topicReassignCommand(c, stdout)
	default:
		return usageErrorf("unknown topic subcommand %q: want create, list, describe, alter, delete or reassign", c.sub)
	}
	return c.execute(args[1:], stderr)
}

func topicCreate(ctx context.Context, adm *kadm.Client, out io.Writer, name string, partitions, rf int, configs kvList) error {
	if partitions < 1 {
		return usageError{fmt.Sprintf("--partitions %d: must be at least 1", partitions)}
	}
	if rf < 1 && rf != -1 {
		return usageError{fmt.Sprintf("--replication-factor %d: must be at least 1 (or -1 for the cluster's default)", rf)}
	}
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	// -1 lets the broker apply its default (KIP-464, CreateTopics v4+).
	resp, err := adm.CreateTopic(ctx, int32(partitions), int16(rf), cfg, name)
	if err != nil {
		return topicErr("create", name, resp.ErrMessage, err)
	}
	if rf == -1 {
		rf = int(resp.ReplicationFactor) // v5+ answers carry what was applied
	}
	fmt.Fprintf(out, "created topic %s with %d partitions (replication factor %d)\n", name, partitions, rf)
	return nil
}

// listedTopic is one row of `topic list` (--format json prints a list).
type listedTopic struct {
	Topic             string `json:"topic"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	ID                string `json:"id"`
}

func topicList(ctx context.Context, adm *kadm.Client, out io.Writer, format string) error {
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return err
	}
	rows := []listedTopic{}
	for _, name := range topics.Names() {
		t := topics[name]
		rf := 0
		if len(t.Partitions) > 0 {
			rf = len(t.Partitions[0].Replicas)
		}
		rows = append(rows, listedTopic{name, len(t.Partitions), rf, kafkaUUID(t.ID)})
	}
	if format == formatJSON {
		return writeJSON(out, rows)
	}
	w := newTable(out)
	fmt.Fprintln(w, "TOPIC\tPARTITIONS\tREPLICATION\tID")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", r.Topic, r.Partitions, r.ReplicationFactor, r.ID)
	}
	return w.Flush()
}

func topicDelete(ctx context.Context, adm *kadm.Client, out io.Writer, name string) error {
	resp, err := adm.DeleteTopic(ctx, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return topicErr("delete", name, resp.ErrMessage, err)
	}
	fmt.Fprintf(out, "deleted topic %s\n", name)
	return nil
}

func topicErr(verb, name, msg string, err error) error {
	if msg != "" {
		return fmt.Errorf("%s topic %s: %v: %s", verb, name, err, msg)
	}
	return fmt.Errorf("%s topic %s: %v", verb, name, err)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// kafkaUUID renders a topic ID as Kafka's tools do (Uuid.toString: URL-safe
// base64 without padding).
func kafkaUUID(id [16]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}
