package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// offsetKind is where `jocko consume --offset` starts in each partition.
type offsetKind int

const (
	offsetStart   offsetKind = iota // the log start
	offsetEnd                       // the log end: only records produced from now on
	offsetExact                     // offset n (bounded to the log)
	offsetFromEnd                   // n records before the log end
	offsetTime                      // the first record at or after timestamp n (ms)
)

// offsetSpec is a parsed --offset.
type offsetSpec struct {
	kind offsetKind
	n    int64
}

const offsetHelp = "start, end, an offset N, -N (the last N records of each partition) or @TIMESTAMP_MS"

// parseOffset reads --offset: start (or beginning, oldest), end (or newest,
// latest), N, -N or @MS.
func parseOffset(s string) (offsetSpec, error) {
	switch strings.ToLower(s) {
	case "start", "beginning", "oldest", "earliest":
		return offsetSpec{kind: offsetStart}, nil
	case "end", "newest", "latest":
		return offsetSpec{kind: offsetEnd}, nil
	}
	bad := usageErrorf("--offset %q: want %s", s, offsetHelp)
	switch {
	case strings.HasPrefix(s, "@"):
		ms, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil || ms < 0 {
			return offsetSpec{}, bad
		}
		return offsetSpec{kind: offsetTime, n: ms}, nil
	case strings.HasPrefix(s, "-"):
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil || n <= 0 {
			return offsetSpec{}, bad
		}
		return offsetSpec{kind: offsetFromEnd, n: n}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return offsetSpec{}, bad
	}
	return offsetSpec{kind: offsetExact, n: n}, nil
}

// kgo is the offset as the client takes it, for a group's partitions that
// have no committed offset.
func (o offsetSpec) kgo() kgo.Offset {
	switch o.kind {
	case offsetEnd:
		return kgo.NewOffset().AtEnd()
	case offsetExact:
		return kgo.NewOffset().At(o.n)
	case offsetFromEnd:
		return kgo.NewOffset().AtEnd().Relative(-o.n)
	case offsetTime:
		return kgo.NewOffset().AfterMilli(o.n)
	}
	return kgo.NewOffset().AtStart()
}

// consumePlan is where each partition starts and the end offset it had
// when the command started (without --follow, consume stops there).
type consumePlan struct {
	starts, ends map[int32]int64
}

// planConsume resolves spec to an offset in each partition, and, in a group,
// takes the group's committed offsets instead where it has them (as the
// client will).
func planConsume(ctx context.Context, adm *kadm.Client, topic string, parts []int32, spec offsetSpec, group string) (consumePlan, error) {
	plan := consumePlan{starts: map[int32]int64{}, ends: map[int32]int64{}}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return plan, fmt.Errorf("list the start offsets of %s: %v", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return plan, fmt.Errorf("list the end offsets of %s: %v", topic, err)
	}
	var after kadm.ListedOffsets
	if spec.kind == offsetTime {
		if after, err = adm.ListOffsetsAfterMilli(ctx, spec.n, topic); err == nil {
			err = after.Error()
		}
		if err != nil {
			return plan, fmt.Errorf("list the offsets of %s after %d ms: %v", topic, spec.n, err)
		}
	}
	var committed kadm.OffsetResponses
	if group != "" {
		if committed, err = adm.FetchOffsets(ctx, group); err == nil {
			err = committed.Error()
		}
		if err != nil {
			return plan, groupErr("read the committed offsets of", group, "", err)
		}
	}
	for _, p := range parts {
		s, _ := starts.Lookup(topic, p)
		e, _ := ends.Lookup(topic, p)
		plan.ends[p] = e.Offset
		var at int64
		switch spec.kind {
		case offsetStart:
			at = s.Offset
		case offsetEnd:
			at = e.Offset
		case offsetExact:
			at = min(max(spec.n, s.Offset), e.Offset)
		case offsetFromEnd:
			at = max(e.Offset-spec.n, s.Offset)
		case offsetTime:
			a, ok := after.Lookup(topic, p)
			at = e.Offset
			if ok && a.Offset >= 0 {
				at = a.Offset
			}
		}
		if c, ok := committed.Lookup(topic, p); ok && c.At >= 0 {
			at = c.At
		}
		plan.starts[p] = at
	}
	return plan, nil
}
