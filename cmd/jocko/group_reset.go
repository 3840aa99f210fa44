package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// resetOpts are the flags of `jocko group reset-offsets`.
type resetOpts struct {
	topic     string
	partition int
	earliest  bool
	latest    bool
	offset    int64
	datetime  string
	at        time.Time
	shift     int64
	mode      string // the one --to-* or --shift-by flag given
	execute   bool
}

// resetModes are the flags that say where to move the offsets.
var resetModes = []string{"to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by"}

func bindReset(fs *flag.FlagSet) *resetOpts {
	r := &resetOpts{}
	fs.StringVar(&r.topic, "topic", "", "the topic whose offsets to reset (required)")
	fs.IntVar(&r.partition, "partition", -1, "only this partition (-1: every partition of the topic)")
	fs.BoolVar(&r.earliest, "to-earliest", false, "move to the earliest offset still in the log")
	fs.BoolVar(&r.latest, "to-latest", false, "move to the end of the log (skip everything)")
	fs.Int64Var(&r.offset, "to-offset", 0, "move to this offset")
	fs.StringVar(&r.datetime, "to-datetime", "", "move to the first record at or after this RFC3339 time")
	fs.Int64Var(&r.shift, "shift-by", 0, "move the committed offset by N (negative: back)")
	fs.BoolVar(&r.execute, "execute", false, "commit the new offsets (without it, only print the plan)")
	return r
}

// check validates the flags once parsed: a topic, and exactly one mode.
func (r *resetOpts) check(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = !isBoolFlag(f) || f.Value.String() == "true" })
	var modes []string
	for _, m := range resetModes {
		if given[m] {
			modes = append(modes, "--"+m)
		}
	}
	all := "--" + strings.Join(resetModes, ", --")
	switch {
	case r.topic == "":
		return usageErrorf("reset-offsets needs --topic TOPIC")
	case len(modes) == 0:
		return usageErrorf("reset-offsets needs one of %s to say where to move the offsets", all)
	case len(modes) > 1:
		return usageErrorf("reset-offsets takes exactly one of %s, got %s", all, strings.Join(modes, " and "))
	case given["partition"] && r.partition < 0:
		return usageErrorf("--partition %d: must be 0 or more", r.partition)
	case given["to-offset"] && r.offset < 0:
		return usageErrorf("--to-offset %d: must be 0 or more", r.offset)
	}
	r.mode = modes[0][2:]
	if r.mode == "to-datetime" {
		at, err := time.Parse(time.RFC3339, r.datetime)
		if err != nil {
			return usageErrorf("--to-datetime %q: want an RFC3339 time such as 2024-05-01T12:00:00Z", r.datetime)
		}
		r.at = at
	}
	return nil
}

// resetRow is one partition of the plan.
type resetRow struct {
	partition int32
	current   int64 // -1: nothing committed
	next      int64
}

func groupReset(ctx context.Context, adm *kadm.Client, out, errOut io.Writer, name string, r *resetOpts) error {
	active, err := activeMembers(ctx, adm, name)
	if err != nil {
		return err
	}
	if active != "" && r.execute {
		return fmt.Errorf("reset offsets of group %s: %s; offsets can only be reset while the group is inactive: "+
			"stop its consumers first", name, active)
	}
	plan, err := resetPlan(ctx, adm, errOut, name, r)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tCURRENT\tNEW")
	for _, p := range plan {
		fmt.Fprintf(w, "%s\t%d\t%s\t%d\n", r.topic, p.partition, offsetText(p.current), p.next)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if !r.execute {
		fmt.Fprintln(out, "Dry run: nothing committed. Add --execute to commit these offsets.")
		if active != "" {
			fmt.Fprintf(out, "Note: %s; --execute needs it inactive (stop its consumers first).\n", active)
		}
		return nil
	}
	offsets := kadm.Offsets{}
	for _, p := range plan {
		offsets.Add(kadm.Offset{Topic: r.topic, Partition: p.partition, At: p.next, LeaderEpoch: -1})
	}
	if err := adm.CommitAllOffsets(ctx, name, offsets); err != nil {
		return groupErr("reset offsets of", name, "", err)
	}
	fmt.Fprintf(out, "Committed the new offsets of group %s for %d partitions of %s.\n", name, len(plan), r.topic)
	return nil
}

// activeMembers says why the group counts as active ("" if it is not): it
// has members or is in a state other than Empty or Dead.
func activeMembers(ctx context.Context, adm *kadm.Client, name string) (string, error) {
	described, err := adm.DescribeGroups(ctx, name)
	if err != nil {
		return "", groupErr("reset offsets of", name, "", err)
	}
	d, ok := described[name]
	if ok && d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
		return "", groupErr("reset offsets of", name, d.ErrMessage, d.Err)
	}
	if !ok || d.Err != nil || d.State == "Empty" || d.State == "Dead" {
		return "", nil // unknown groups come into being with the commit, as in Kafka
	}
	noun := "members"
	if len(d.Members) == 1 {
		noun = "member"
	}
	return fmt.Sprintf("the group has %d active %s (state %s)", len(d.Members), noun, d.State), nil
}

// resetPlan works out the new offset of every partition the reset covers.
// Like Kafka's tool it keeps new offsets inside the log, warning when it
// has to move one.
func resetPlan(ctx context.Context, adm *kadm.Client, errOut io.Writer, name string, r *resetOpts) ([]resetRow, error) {
	parts, err := resetPartitions(ctx, adm, r)
	if err != nil {
		return nil, err
	}
	committed, err := adm.FetchOffsets(ctx, name)
	if err != nil {
		return nil, groupErr("fetch offsets of", name, "", err)
	}
	starts, err := listedOffsets(ctx, adm.ListStartOffsets, r.topic)
	if err != nil {
		return nil, err
	}
	ends, err := listedOffsets(ctx, adm.ListEndOffsets, r.topic)
	if err != nil {
		return nil, err
	}
	var after kadm.ListedOffsets
	if r.mode == "to-datetime" {
		list := func(ctx context.Context, ts ...string) (kadm.ListedOffsets, error) {
			return adm.ListOffsetsAfterMilli(ctx, r.at.UnixMilli(), ts...)
		}
		if after, err = listedOffsets(ctx, list, r.topic); err != nil {
			return nil, err
		}
	}
	var plan []resetRow
	for _, p := range parts {
		row := resetRow{partition: p, current: -1}
		if c, ok := committed.Lookup(r.topic, p); ok && c.Err == nil {
			row.current = c.At
		}
		start, end := starts[r.topic][p].Offset, ends[r.topic][p].Offset
		next, err := r.target(row.current, start, end, after[r.topic][p])
		if err != nil {
			return nil, fmt.Errorf("reset offsets of group %s: %s/%d %v", name, r.topic, p, err)
		}
		row.next = clampOffset(errOut, r.topic, p, next, start, end)
		plan = append(plan, row)
	}
	return plan, nil
}

// target is the new offset of a partition before clamping; after is the
// partition's offset for --to-datetime.
func (r *resetOpts) target(current, start, end int64, after kadm.ListedOffset) (int64, error) {
	switch r.mode {
	case "to-earliest":
		return start, nil
	case "to-latest":
		return end, nil
	case "to-offset":
		return r.offset, nil
	case "to-datetime":
		if after.Offset < 0 {
			return end, nil // no record at or after the time
		}
		return after.Offset, nil
	case "shift-by":
		if current < 0 {
			return 0, fmt.Errorf("has no committed offset to shift; use --to-earliest, --to-latest, --to-offset or --to-datetime")
		}
		return current + r.shift, nil
	}
	return 0, fmt.Errorf("unknown mode %q", r.mode)
}

// resetPartitions returns the partitions of --topic the reset covers.
func resetPartitions(ctx context.Context, adm *kadm.Client, r *resetOpts) ([]int32, error) {
	topics, err := adm.ListTopics(ctx, r.topic)
	if err != nil {
		return nil, err
	}
	t, ok := topics[r.topic]
	if !ok && t.Err == nil {
		t.Err = kerr.UnknownTopicOrPartition
	}
	if t.Err != nil {
		return nil, fmt.Errorf("topic %s: %v; 'jocko topic list' shows the topics", r.topic, t.Err)
	}
	parts := t.Partitions.Numbers()
	if r.partition < 0 {
		return parts, nil
	}
	if _, ok := t.Partitions[int32(r.partition)]; !ok {
		return nil, fmt.Errorf("topic %s has no partition %d (it has %d partitions, from 0)", r.topic, r.partition, len(parts))
	}
	return []int32{int32(r.partition)}, nil
}

// listedOffsets lists offsets of one topic and fails on any partition's error.
func listedOffsets(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), topic string) (kadm.ListedOffsets, error) {
	listed, err := list(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %v", topic, err)
	}
	return listed, nil
}

// clampOffset keeps o within [start, end], warning when it moves it.
func clampOffset(errOut io.Writer, topic string, p int32, o, start, end int64) int64 {
	switch {
	case o < start:
		fmt.Fprintf(errOut, "jocko: %s/%d: new offset %d is before the log start; using %d\n", topic, p, o, start)
		return start
	case o > end:
		fmt.Fprintf(errOut, "jocko: %s/%d: new offset %d is past the log end; using %d\n", topic, p, o, end)
		return end
	}
	return o
}
