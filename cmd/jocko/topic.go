package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// adminFlags are the flags every admin command shares.
type adminFlags struct {
	brokers string
	timeout time.Duration
}

func (a *adminFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&a.brokers, "brokers", "127.0.0.1:9092", "comma-separated HOST:PORT list of any Kafka-compatible brokers")
	fs.DurationVar(&a.timeout, "timeout", 30*time.Second, "how long to wait for the cluster")
}

// client connects an admin client; it fails fast with a clear message when no
// broker answers.
func (a *adminFlags) client(ctx context.Context) (*kadm.Client, func(), error) {
	seeds := strings.Split(a.brokers, ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequestRetries(2))
	if err != nil {
		return nil, nil, usageError{fmt.Sprintf("--brokers %q: %v", a.brokers, err)}
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, nil, fmt.Errorf("cannot reach a broker at %s (%v); is one running? Set --brokers or JOCKO_BROKERS", a.brokers, err)
	}
	return kadm.NewClient(cl), cl.Close, nil
}

func runTopic(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"topic needs a subcommand: create, list, describe, alter or delete"}
	}
	sub, args := args[0], args[1:]
	var a adminFlags
	fs := flag.NewFlagSet("jocko topic "+sub, flag.ContinueOnError)
	a.bind(fs)
	var cmd func(ctx context.Context, adm *kadm.Client, name string) error
	needName := true
	switch sub {
	case "create":
		partitions := fs.Int("partitions", 1, "number of partitions")
		rf := fs.Int("replication-factor", 1, "replicas per partition")
		configs := kvList{}
		fs.Var(configs, "config", "topic config NAME=VALUE (repeatable)")
		cmd = func(ctx context.Context, adm *kadm.Client, name string) error {
			return topicCreate(ctx, adm, stdout, name, *partitions, *rf, configs)
		}
	case "list":
		needName = false
		cmd = func(ctx context.Context, adm *kadm.Client, _ string) error { return topicList(ctx, adm, stdout) }
	case "describe":
		cmd = func(ctx context.Context, adm *kadm.Client, name string) error {
			return topicDescribe(ctx, adm, stdout, name)
		}
	case "alter":
		partitions := fs.Int("partitions", 0, "grow the topic to this many partitions")
		configs := kvList{}
		fs.Var(configs, "config", "set topic config NAME=VALUE (repeatable)")
		var deletes stringList
		fs.Var(&deletes, "delete-config", "remove a topic config override NAME (repeatable)")
		cmd = func(ctx context.Context, adm *kadm.Client, name string) error {
			return topicAlter(ctx, adm, stdout, name, *partitions, configs, deletes)
		}
	case "delete":
		cmd = func(ctx context.Context, adm *kadm.Client, name string) error {
			return topicDelete(ctx, adm, stdout, name)
		}
	default:
		return usageError{fmt.Sprintf("unknown topic subcommand %q: want create, list, describe, alter or delete", sub)}
	}
	if err := parseFlags(fs, interleave(fs, args), stderr); err != nil {
		return err
	}
	name := ""
	switch {
	case needName && fs.NArg() != 1:
		return usageError{fmt.Sprintf("jocko topic %s needs exactly one topic name", sub)}
	case !needName && fs.NArg() != 0:
		return usageError{fmt.Sprintf("jocko topic %s takes no arguments", sub)}
	case needName:
		name = fs.Arg(0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	adm, closeFn, err := a.client(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	return cmd(ctx, adm, name)
}

func topicCreate(ctx context.Context, adm *kadm.Client, out io.Writer, name string, partitions, rf int, configs kvList) error {
	if partitions < 1 {
		return usageError{fmt.Sprintf("--partitions %d: must be at least 1", partitions)}
	}
	if rf < 1 {
		return usageError{fmt.Sprintf("--replication-factor %d: must be at least 1", rf)}
	}
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	resp, err := adm.CreateTopic(ctx, int32(partitions), int16(rf), cfg, name)
	if err != nil {
		return topicErr("create", name, resp.ErrMessage, err)
	}
	fmt.Fprintf(out, "created topic %s with %d partitions (replication factor %d)\n", name, partitions, rf)
	return nil
}

func topicList(ctx context.Context, adm *kadm.Client, out io.Writer) error {
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITIONS\tREPLICATION\tID")
	for _, name := range topics.Names() {
		t := topics[name]
		rf := 0
		if len(t.Partitions) > 0 {
			rf = len(t.Partitions[0].Replicas)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", name, len(t.Partitions), rf, kafkaUUID(t.ID))
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
