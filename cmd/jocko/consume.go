package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// `jocko consume TOPIC` prints records, as kcat -C does: from the start of
// each partition by default, through a --template (the value alone, one a
// line, by default) or as JSON lines. Without --follow it stops at the end
// offsets it saw when it started; -n stops after that many records. In a
// --group it starts at the group's committed offsets (--offset then only
// applies to partitions without one) and commits what it printed.

// pollWait bounds one poll, so the loop notices when every partition is done
// (a poll with nothing left to fetch would wait for new records).
const pollWait = 250 * time.Millisecond

// consumeOptions are the flags of `jocko consume`.
type consumeOptions struct {
	admin      adminFlags
	offset     string
	group      string
	template   string
	count      int
	follow     bool
	partitions string
	format     *string

	spec  offsetSpec     // parsed offset
	tmpl  recordTemplate // parsed template
	parts []int32        // parsed --partition; nil for all
}

func (o *consumeOptions) bind(fs *flag.FlagSet) {
	o.admin.bind(fs)
	fs.StringVar(&o.offset, "offset", "start", "where to start in each partition: "+offsetHelp)
	fs.StringVar(&o.group, "group", "", "consume in this consumer group: resume from its committed offsets and commit what is printed")
	fs.StringVar(&o.template, "template", defaultTemplate, "how to print each record: "+templateHelp)
	fs.StringVar(&o.template, "f", defaultTemplate, "short for --template (as kcat -f)")
	fs.IntVar(&o.count, "n", 0, "stop after this many records (0: no limit)")
	fs.BoolVar(&o.follow, "follow", false, "keep waiting for new records (until interrupted) instead of stopping at the end")
	fs.StringVar(&o.partitions, "partition", "", "only these comma-separated partitions (not with --group)")
	o.format = bindFormat(fs)
}

func (o *consumeOptions) check(fs *flag.FlagSet) error {
	if err := checkFormat(*o.format); err != nil {
		return err
	}
	var err error
	if o.spec, err = parseOffset(o.offset); err != nil {
		return err
	}
	if o.tmpl, err = parseTemplate(o.template); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if *o.format == formatJSON && (given["template"] || given["f"]) {
		return usageErrorf("--template and --format json do not go together: JSON prints every field")
	}
	if o.count < 0 {
		return usageErrorf("-n %d: want a number of records (0 for no limit)", o.count)
	}
	if o.partitions != "" && o.group != "" {
		return usageErrorf("--partition and --group do not go together: the group assigns the partitions")
	}
	for _, s := range strings.Split(o.partitions, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil || p < 0 {
			return usageErrorf("--partition %q: want comma-separated partition numbers, such as 0,2", o.partitions)
		}
		o.parts = append(o.parts, int32(p))
	}
	return nil
}

func runConsume(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jocko consume", flag.ContinueOnError)
	var o consumeOptions
	o.bind(fs)
	if err := parseFlags(fs, interleave(fs, args), stderr); err != nil {
		return err
	}
	topic, err := topicArg(fs, "consume")
	if err != nil {
		return err
	}
	if err := o.check(fs); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	setup, cancel := context.WithTimeout(ctx, o.admin.timeout)
	defer cancel()
	cl, err := o.admin.client(setup)
	if err != nil {
		return err
	}
	parts, plan, err := o.plan(setup, kadm.NewClient(cl), topic)
	cl.Close()
	if err != nil {
		return err
	}
	c := &consumer{opts: &o, topic: topic, out: bufio.NewWriter(stdout), stderr: stderr, parts: parts, plan: plan,
		next: map[int32]int64{}, assigned: map[int32]bool{}}
	for p, at := range plan.starts {
		c.next[p] = at
	}
	if c.finished() {
		return nil // nothing to read: every partition is already at its end
	}
	if cl, err = o.admin.client(setup, c.kgoOpts()...); err != nil {
		return err
	}
	defer cl.Close()
	return c.run(ctx, cl)
}

// plan checks the topic and partitions and resolves where to start.
func (o *consumeOptions) plan(ctx context.Context, adm *kadm.Client, topic string) ([]int32, consumePlan, error) {
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, consumePlan{}, fmt.Errorf("read metadata of topic %s: %v", topic, err)
	}
	t, ok := topics[topic]
	if !ok || t.Err != nil {
		return nil, consumePlan{}, fmt.Errorf("topic %s does not exist ('jocko topic list' shows the topics)", topic)
	}
	var all []int32
	for _, p := range t.Partitions.Sorted() {
		all = append(all, p.Partition)
	}
	parts := all
	if o.parts != nil {
		for _, p := range o.parts {
			if !slices.Contains(all, p) {
				return nil, consumePlan{}, usageErrorf("--partition %d: topic %s has %d partitions (0 to %d)", p, topic, len(all), len(all)-1)
			}
		}
		parts = o.parts
	}
	plan, err := planConsume(ctx, adm, topic, parts, o.spec, o.group)
	return parts, plan, err
}
