package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// groupStates are the group states a --state filter may name: the classic
// protocol's, then those of KIP-848 consumer groups and share groups.
var groupStates = []string{"Empty", "Stable", "PreparingRebalance", "CompletingRebalance", "Dead",
	"Assigning", "Reconciling", "NotReady", "Unknown"}

func runGroup(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"group needs a subcommand: list, describe, delete or reset-offsets"}
	}
	c := newAdminCommand("group", args[0])
	fs := c.fs
	switch c.sub {
	case "list":
		c.needName = false
		state := fs.String("state", "", "only groups in these comma-separated states (e.g. Stable,Empty)")
		format := c.withFormat()
		var states []string
		c.check = func() (err error) { states, err = parseStates(*state); return err }
		c.run = func(ctx context.Context, adm *kadm.Client, _ string) error {
			return groupList(ctx, adm, stdout, states, *format)
		}
	case "describe":
		format := c.withFormat()
		c.run = func(ctx context.Context, adm *kadm.Client, name string) error {
			return groupDescribe(ctx, adm, stdout, name, *format)
		}
	case "delete":
		c.run = func(ctx context.Context, adm *kadm.Client, name string) error {
			return groupDelete(ctx, adm, stdout, name)
		}
	case "reset-offsets":
		r := bindReset(fs)
		c.check = func() error { return r.check(fs) }
		c.run = func(ctx context.Context, adm *kadm.Client, name string) error {
			return groupReset(ctx, adm, stdout, stderr, name, r)
		}
	default:
		return usageErrorf("unknown group subcommand %q: want list, describe, delete or reset-offsets", c.sub)
	}
	return c.execute(args[1:], stderr)
}

// parseStates splits a --state list and spells each state as Kafka does.
func parseStates(s string) ([]string, error) {
	var out []string
	for _, st := range strings.Split(s, ",") {
		st = strings.TrimSpace(st)
		if st == "" {
			continue
		}
		known := ""
		for _, k := range groupStates {
			if strings.EqualFold(k, st) {
				known = k
			}
		}
		if known == "" {
			return nil, usageErrorf("--state %q: unknown group state; want some of %s", st, strings.Join(groupStates, ","))
		}
		out = append(out, known)
	}
	return out, nil
}

// listedGroup is one row of `group list` (--format json prints a list).
type listedGroup struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
}

func groupList(ctx context.Context, adm *kadm.Client, out io.Writer, states []string, format string) error {
	listed, err := adm.ListGroups(ctx, states...)
	if err != nil {
		return fmt.Errorf("list groups: %v", err)
	}
	// Brokers before Kafka 2.6 leave the state out of ListGroups.
	var unknown []string
	for _, g := range listed {
		if g.State == "" {
			unknown = append(unknown, g.Group)
		}
	}
	if len(unknown) > 0 {
		described, err := adm.DescribeGroups(ctx, unknown...)
		if err != nil {
			return fmt.Errorf("list groups: describing %s: %v", strings.Join(unknown, ","), err)
		}
		for _, d := range described {
			g := listed[d.Group]
			g.State = d.State
			listed[d.Group] = g
		}
	}
	if format == formatJSON {
		rows := []listedGroup{}
		for _, g := range listed.Sorted() {
			rows = append(rows, listedGroup{g.Group, g.State, g.ProtocolType})
		}
		return writeJSON(out, rows)
	}
	w := newTable(out)
	fmt.Fprintln(w, "GROUP\tSTATE\tPROTOCOL TYPE")
	for _, g := range listed.Sorted() {
		fmt.Fprintf(w, "%s\t%s\t%s\n", g.Group, orDash(g.State), orDash(g.ProtocolType))
	}
	return w.Flush()
}

func groupDelete(ctx context.Context, adm *kadm.Client, out io.Writer, name string) error {
	resp, err := adm.DeleteGroup(ctx, name)
	if err != nil {
		return groupErr("delete", name, resp.ErrMessage, err)
	}
	fmt.Fprintf(out, "deleted group %s and its committed offsets\n", name)
	return nil
}

// groupErr explains a group error and, for the errors an operator can act
// on, says what to do: "delete group g: NON_EMPTY_GROUP: the group has active
// members; stop its consumers first".
func groupErr(verb, name, msg string, err error) error {
	advice := ""
	switch {
	case errors.Is(err, kerr.NonEmptyGroup):
		advice = "the group has active members; stop its consumers first"
	case errors.Is(err, kerr.GroupIDNotFound):
		advice = "no such group; 'jocko group list' shows the groups"
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration),
		errors.Is(err, kerr.RebalanceInProgress):
		advice = "the group has active members, and only they may commit; stop its consumers first (the group must be Empty)"
	case errors.Is(err, kerr.InvalidGroupID):
		advice = "the group name is not valid"
	}
	text := err.Error()
	var ke *kerr.Error
	if advice != "" && errors.As(err, &ke) {
		text = ke.Message // the code's name; the advice replaces its description
	}
	if msg != "" {
		text += " (" + msg + ")"
	}
	if advice != "" {
		return fmt.Errorf("%s group %s: %s: %s", verb, name, text, advice)
	}
	return fmt.Errorf("%s group %s: %s", verb, name, text)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
