package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consumer runs one `jocko consume`.
type consumer struct {
	opts   *consumeOptions
	topic  string
	out    *bufio.Writer
	stderr io.Writer
	parts  []int32 // the partitions read (without a group)
	plan   consumePlan

	next    map[int32]int64 // the next offset to print, by partition
	printed int

	mu       sync.Mutex // guards assigned and everAssigned: the group's callbacks write them
	assigned map[int32]bool
	// everAssigned: the group gave this member partitions at least once
	// (before that, "every assigned partition is done" means nothing).
	everAssigned bool
}

// kgoOpts are the consumer's settings: its partitions at the planned
// offsets, or the group.
func (c *consumer) kgoOpts() []kgo.Opt {
	if c.opts.group == "" {
		offsets := map[int32]kgo.Offset{}
		for _, p := range c.parts {
			offsets[p] = kgo.NewOffset().At(c.plan.starts[p])
		}
		return []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: offsets})}
	}
	return []kgo.Opt{
		kgo.ConsumerGroup(c.opts.group),
		kgo.ConsumeTopics(c.topic),
		kgo.ConsumeStartOffset(c.opts.spec.kgo()),
		// Only printed records are marked, so only they are committed.
		kgo.AutoCommitMarks(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, p := range m[c.topic] {
				c.assigned[p] = true
			}
			c.everAssigned = true
		}),
		// Overriding the revoke callback replaces the client's commit on
		// revoke, so this one commits too.
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			if err := cl.CommitMarkedOffsets(ctx); err != nil {
				fmt.Fprintf(c.stderr, "commit offsets of group %s on a rebalance: %v\n", c.opts.group, err)
			}
			c.unassign(m)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { c.unassign(m) }),
	}
}

func (c *consumer) unassign(m map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range m[c.topic] {
		delete(c.assigned, p)
	}
}

// finished says whether to stop: -n records printed, or, without
// --follow, every partition read (every partition assigned, in a group) up
// to the end it had at the start.
func (c *consumer) finished() bool {
	if c.opts.count > 0 && c.printed >= c.opts.count {
		return true
	}
	if c.opts.follow {
		return false
	}
	parts := c.parts
	if c.opts.group != "" {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.everAssigned {
			return false
		}
		parts = nil
		for p := range c.assigned {
			parts = append(parts, p)
		}
	}
	for _, p := range parts {
		if c.next[p] < c.plan.ends[p] {
			return false
		}
	}
	return true
}

// run polls and prints until finished or interrupted, then commits what it
// printed when in a group.
func (c *consumer) run(ctx context.Context, cl *kgo.Client) error {
	err := c.poll(ctx, cl)
	if c.opts.group != "" {
		commitCtx, cancel := context.WithTimeout(context.Background(), c.opts.admin.timeout)
		defer cancel()
		if cerr := cl.CommitMarkedOffsets(commitCtx); cerr != nil {
			err = errors.Join(err, groupErr("commit offsets of", c.opts.group, "", cerr))
		}
	}
	return err
}

func (c *consumer) poll(ctx context.Context, cl *kgo.Client) error {
	for !c.finished() {
		limit := -1
		if c.opts.count > 0 {
			limit = c.opts.count - c.printed
		}
		pctx, cancel := context.WithTimeout(ctx, pollWait)
		fs := cl.PollRecords(pctx, limit)
		cancel()
		if ctx.Err() != nil {
			return nil // interrupted: what was printed is committed
		}
		for _, e := range fs.Errors() {
			var loss *kgo.ErrDataLoss
			switch {
			case errors.Is(e.Err, context.DeadlineExceeded), errors.Is(e.Err, context.Canceled):
			case errors.As(e.Err, &loss):
				fmt.Fprintf(c.stderr, "warning: %v\n", e.Err)
			default:
				return fmt.Errorf("consume %s partition %d: %v", e.Topic, e.Partition, e.Err)
			}
		}
		if err := c.print(cl, fs.Records()); err != nil {
			return err
		}
	}
	return nil
}

// print writes the records, leaving out those past the start's end offsets
// unless following.
func (c *consumer) print(cl *kgo.Client, records []*kgo.Record) error {
	for _, r := range records {
		if !c.opts.follow && r.Offset >= c.plan.ends[r.Partition] {
			continue
		}
		if *c.opts.format == formatJSON {
			if err := writeJSONRecord(c.out, r); err != nil {
				return err
			}
		} else {
			c.opts.tmpl.write(c.out, r)
		}
		c.next[r.Partition] = r.Offset + 1
		c.printed++
		if c.opts.group != "" {
			cl.MarkCommitRecords(r)
		}
	}
	return c.out.Flush()
}
