package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// groupDescribe prints a group's state, its members with what they are
// assigned, and the committed offset, end offset and lag of every partition
// the group consumes or has committed to.
func groupDescribe(ctx context.Context, adm *kadm.Client, out io.Writer, name, format string) error {
	lags, err := adm.Lag(ctx, name)
	if err != nil {
		return groupErr("describe", name, "", err)
	}
	l, ok := lags[name]
	if !ok {
		return groupErr("describe", name, "", kerr.GroupIDNotFound)
	}
	if err := l.Error(); err != nil {
		return groupErr("describe", name, "", err)
	}
	// Brokers before DescribeGroups v6 describe an unknown group as Dead.
	if l.State == "Dead" && len(l.Members) == 0 && len(l.Lag) == 0 {
		return groupErr("describe", name, "", kerr.GroupIDNotFound)
	}
	if format == formatJSON {
		return writeJSON(out, describeGroupJSON(name, l))
	}
	fmt.Fprintf(out, "Group: %s\n", name)
	fmt.Fprintf(out, "State: %s\n", l.State)
	fmt.Fprintf(out, "Protocol: %s / %s\n", orDash(l.ProtocolType), orDash(l.Protocol))
	c := l.Coordinator
	fmt.Fprintf(out, "Coordinator: %d (%s)\n", c.NodeID, c.Host+":"+strconv.Itoa(int(c.Port)))
	fmt.Fprintf(out, "Members: %d\n", len(l.Members))
	if len(l.Members) > 0 {
		if err := printMembers(out, l.Members); err != nil {
			return err
		}
	}
	fmt.Fprintln(out)
	return printLag(out, l.Lag)
}

func printMembers(out io.Writer, members []kadm.DescribedGroupMember) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MEMBER ID\tCLIENT ID\tHOST\tASSIGNED")
	for _, m := range members {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m.MemberID, orDash(m.ClientID), orDash(m.ClientHost), assignedText(m))
	}
	return w.Flush()
}

// assignedText spells a member's assignment as topic:p,p topic:p.
func assignedText(m kadm.DescribedGroupMember) string {
	c, ok := m.Assigned.AsConsumer()
	if !ok || len(c.Topics) == 0 {
		return "-"
	}
	var parts []string
	for _, t := range c.Topics {
		ps := append([]int32(nil), t.Partitions...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		nums := make([]string, len(ps))
		for i, p := range ps {
			nums[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, t.Topic+":"+strings.Join(nums, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// printLag prints TOPIC PARTITION COMMITTED END LAG OWNER, "-" where there
// is no commit, no owner or no number, then the errors behind any "-" lag.
func printLag(out io.Writer, lag kadm.GroupLag) error {
	rows := lag.Sorted()
	if len(rows) == 0 {
		fmt.Fprintln(out, "No committed offsets and no assigned partitions.")
		return nil
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tOWNER")
	var problems []string
	for _, r := range rows {
		end, lagText := "-", "-"
		if r.End.Err == nil {
			end = strconv.FormatInt(r.End.Offset, 10)
		}
		if r.Err == nil {
			lagText = strconv.FormatInt(r.Lag, 10)
		} else {
			problems = append(problems, fmt.Sprintf("%s/%d: %v", r.Topic, r.Partition, r.Err))
		}
		owner := "-"
		if r.Member != nil {
			owner = r.Member.MemberID
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Topic, r.Partition, offsetText(r.Commit.At), end, lagText, owner)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(out, "no lag for %s\n", p)
	}
	return nil
}

// offsetText is an offset, or "-" for none (-1).
func offsetText(o int64) string {
	if o < 0 {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}
