package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// gcliRun runs a jocko command line, checks its exit code and that stdout (on
// success) or stderr (on failure) holds want, and returns stdout.
func gcliRun(t *testing.T, code int, want string, args ...string) string {
	t.Helper()
	got, out, errOut := runCLI(args...)
	text := out
	if code != 0 {
		text = errOut
	}
	if got != code || !strings.Contains(text, want) {
		t.Fatalf("jocko %s: exit %d, stdout %q, stderr %q; want exit %d and %q",
			strings.Join(args, " "), got, out, errOut, code, want)
	}
	return out
}

// gcliHasRow reports whether some line of out has exactly these fields.
func gcliHasRow(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		if reflect.DeepEqual(strings.Fields(line), fields) {
			return true
		}
	}
	return false
}

func gcliWantRows(t *testing.T, out string, rows ...[]string) {
	t.Helper()
	for _, r := range rows {
		if !gcliHasRow(out, r...) {
			t.Fatalf("output has no row %q:\n%s", strings.Join(r, " "), out)
		}
	}
}

// gcliProduce writes n records to one partition; record i is stamped base+i s.
func gcliProduce(t *testing.T, b *proc, topic string, p int32, n int, base time.Time) {
	t.Helper()
	cl := b.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var rs []*kgo.Record
	for i := 0; i < n; i++ {
		ts := base.Add(time.Duration(i) * time.Second)
		rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprint(i)), Timestamp: ts})
	}
	if err := cl.ProduceSync(testCtx(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// gcliSetup makes topic (2 partitions: 10 records in 0, 6 in 1) and a group
// whose one member owns both partitions and has committed 4 and 3.
func gcliSetup(t *testing.T, b *proc, group, topic string, base time.Time) *groupMember {
	t.Helper()
	ctx := testCtx(t)
	if _, err := b.admin(t).CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	gcliProduce(t, b, topic, 0, 10, base)
	gcliProduce(t, b, topic, 1, 6, base)
	m := startMember(t, b, group, topic, "a", kgo.DisableAutoCommit())
	waitUntil(t, ctx, func() bool { return len(m.owned()) == 2 })
	offsets := map[string]map[int32]kgo.EpochOffset{topic: {0: {Epoch: -1, Offset: 4}, 1: {Epoch: -1, Offset: 3}}}
	waitUntil(t, ctx, func() bool {
		var cerr error
		m.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			cerr = err
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if cerr == nil {
						cerr = kerr.ErrorForCode(rp.ErrorCode)
					}
				}
			}
		})
		if cerr != nil {
			t.Logf("commit: %v (retrying)", cerr)
		}
		return cerr == nil
	})
	return m
}

// gcliCommitted returns the group's committed offsets of topic.
func gcliCommitted(t *testing.T, b *proc, group, topic string) map[int32]int64 {
	t.Helper()
	fetched, err := b.admin(t).FetchOffsets(testCtx(t), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, o := range fetched[topic] {
		if o.Err != nil {
			t.Fatalf("fetch offset %s/%d: %v", topic, p, o.Err)
		}
		out[p] = o.At
	}
	return out
}

// gcliWaitEmpty stops m and waits until its group is Empty.
func gcliWaitEmpty(t *testing.T, b *proc, m *groupMember, group string) {
	t.Helper()
	m.close()
	ctx := testCtx(t)
	adm := b.admin(t)
	waitUntil(t, ctx, func() bool {
		d, err := adm.DescribeGroups(ctx, group)
		return err == nil && d[group].State == "Empty"
	})
}

// gcliSimpleCommitRefused checks what the broker answers a commit from
// outside an active group (what reset-offsets --execute would send if a
// consumer joined after its check) and that the CLI explains it.
func gcliSimpleCommitRefused(t *testing.T, b *proc, group, topic string) {
	t.Helper()
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1})
	err := b.admin(t).CommitAllOffsets(testCtx(t), group, offsets)
	if !errors.Is(err, kerr.UnknownMemberID) {
		t.Fatalf("simple commit to an active group: %v, want UNKNOWN_MEMBER_ID", err)
	}
	msg := groupErr("reset offsets of", group, "", err).Error()
	if !strings.Contains(msg, "UNKNOWN_MEMBER_ID: the group has active members, and only they may commit; stop its consumers first") {
		t.Fatalf("groupErr says %q", msg)
	}
}

// TestCLIGroupListDescribeDelete: list and describe (members, lag per
// partition) an active group, which delete and reset refuse; then delete it
// once empty.
func TestCLIGroupListDescribeDelete(t *testing.T) {
	b := startBroker(t, "", "--group.initial.rebalance.delay.ms=0")
	br := "--brokers=" + b.addr
	m := gcliSetup(t, b, "cg-orders", "cgt", time.Now().Add(-time.Hour))
	member, _ := m.cl.GroupMetadata()

	gcliWantRows(t, gcliRun(t, 0, "GROUP", "group", "list", br), []string{"cg-orders", "Stable", "consumer"})
	if out := gcliRun(t, 0, "GROUP", "group", "list", "--state", "empty,Dead", br); strings.Contains(out, "cg-orders") {
		t.Fatalf("list --state empty,Dead shows the Stable group:\n%s", out)
	}
	out := gcliRun(t, 0, "State: Stable", "group", "describe", "cg-orders", br)
	gcliWantRows(t, out, []string{member, "kgo", "/127.0.0.1", "cgt:0,1"},
		[]string{"TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "OWNER"},
		[]string{"cgt", "0", "4", "10", "6", member}, []string{"cgt", "1", "3", "6", "3", member})

	gcliRun(t, 1, "delete group cg-orders: NON_EMPTY_GROUP: the group has active members; stop its consumers first", "group", "delete", "cg-orders", br)
	gcliRun(t, 1, "1 active member (state Stable)", "group", "reset-offsets", "cg-orders", "--topic", "cgt", "--to-earliest", "--execute", br)
	out = gcliRun(t, 0, "Note: the group has 1 active member ", "group", "reset-offsets", "cg-orders", "--topic", "cgt", "--to-earliest", br)
	gcliWantRows(t, out, []string{"cgt", "0", "4", "0"}, []string{"cgt", "1", "3", "0"})
	if got, want := gcliCommitted(t, b, "cg-orders", "cgt"), map[int32]int64{0: 4, 1: 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after refused resets, committed %v, want %v", got, want)
	}

	gcliSimpleCommitRefused(t, b, "cg-orders", "cgt")
	gcliWaitEmpty(t, b, m, "cg-orders")
	out = gcliRun(t, 0, "State: Empty", "group", "describe", "cg-orders", br)
	gcliWantRows(t, out, []string{"Members:", "0"}, []string{"cgt", "0", "4", "10", "6", "-"}, []string{"cgt", "1", "3", "6", "3", "-"})
	gcliRun(t, 0, "deleted group cg-orders", "group", "delete", "cg-orders", br)
	if out := gcliRun(t, 0, "GROUP", "group", "list", br); strings.Contains(out, "cg-orders") {
		t.Fatalf("list after delete shows the group:\n%s", out)
	}
	gcliRun(t, 1, "describe group cg-orders: GROUP_ID_NOT_FOUND: no such group", "group", "describe", "cg-orders", br)
	gcliRun(t, 1, "no such group", "group", "delete", "cg-orders", br)
}

// TestCLIGroupResetOffsets: a dry run changes nothing; --execute moves the
// committed offsets of an empty group by each of the --to-* options.
func TestCLIGroupResetOffsets(t *testing.T) {
	b := startBroker(t, "", "--group.initial.rebalance.delay.ms=0")
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	gcliWaitEmpty(t, b, gcliSetup(t, b, "cg-reset", "cgr", base), "cg-reset")
	reset := func(want map[int32]int64, args ...string) string {
		t.Helper()
		args = append([]string{"group", "reset-offsets", "cg-reset", "--topic", "cgr", "--brokers", b.addr}, args...)
		out := gcliRun(t, 0, "TOPIC", args...)
		if got := gcliCommitted(t, b, "cg-reset", "cgr"); !reflect.DeepEqual(got, want) {
			t.Fatalf("after jocko %s: committed %v, want %v\n%s", strings.Join(args, " "), got, want, out)
		}
		return out
	}
	out := reset(map[int32]int64{0: 4, 1: 3}, "--to-earliest")
	gcliWantRows(t, out, []string{"cgr", "0", "4", "0"}, []string{"cgr", "1", "3", "0"})
	if !strings.Contains(out, "Dry run") {
		t.Fatalf("dry run does not say so:\n%s", out)
	}
	reset(map[int32]int64{0: 0, 1: 0}, "--to-earliest", "--execute")
	reset(map[int32]int64{0: 5, 1: 0}, "--to-offset", "5", "--partition", "0", "--execute")
	reset(map[int32]int64{0: 7, 1: 2}, "--shift-by", "2", "--execute")
	reset(map[int32]int64{0: 0, 1: 0}, "--shift-by=-100", "--execute")
	reset(map[int32]int64{0: 10, 1: 6}, "--to-latest", "--execute")
	at := base.Add(3 * time.Second).Format(time.RFC3339)
	out = reset(map[int32]int64{0: 3, 1: 3}, "--to-datetime", at, "--execute")
	gcliWantRows(t, out, []string{"cgr", "0", "10", "3"}, []string{"cgr", "1", "6", "3"})
	at = base.Add(8 * time.Second).Format(time.RFC3339)
	reset(map[int32]int64{0: 8, 1: 6}, "--to-datetime", at, "--execute")
	reset(map[int32]int64{0: 10, 1: 6}, "--to-offset", "100", "--execute")
	gcliRun(t, 1, "has no partition 7", "group", "reset-offsets", "cg-reset", "--topic", "cgr", "--partition", "7", "--to-latest", "--brokers", b.addr)
	gcliRun(t, 1, "topic nope: UNKNOWN_TOPIC_OR_PARTITION", "group", "reset-offsets", "cg-reset", "--topic", "nope", "--to-latest", "--brokers", b.addr)
}

// TestCLIGroupBadInput: mistakes on a group command line exit 2 with a
// message, before any broker is needed.
func TestCLIGroupBadInput(t *testing.T) {
	reset := []string{"group", "reset-offsets", "g", "--topic", "t", "--brokers", "127.0.0.1:1"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"group"}, "group needs a subcommand"},
		{[]string{"group", "explode"}, `unknown group subcommand "explode"`},
		{[]string{"group", "describe"}, "needs exactly one group name"},
		{[]string{"group", "delete", "a", "b"}, "needs exactly one group name (got 2 arguments)"},
		{[]string{"group", "list", "extra"}, "takes no arguments"},
		{[]string{"group", "list", "--state", "Sleepy"}, `--state "Sleepy": unknown group state`},
		{[]string{"group", "reset-offsets", "g", "--to-earliest"}, "needs --topic TOPIC"},
		{reset, "needs one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by"},
		{append(reset, "--to-earliest", "--to-offset", "3"), "exactly one of"},
		{append(reset, "--to-earliest", "--to-offset", "3"), "got --to-earliest and --to-offset"},
		{append(reset, "--to-earliest=false"), "needs one of"},
		{append(reset, "--to-offset", "-3"), "--to-offset -3: must be 0 or more"},
		{append(reset, "--to-datetime", "yesterday"), `--to-datetime "yesterday": want an RFC3339 time`},
		{append(reset, "--shift-by", "x"), `invalid value "x" for flag -shift-by`},
		{append(reset, "--partition", "-2", "--to-latest"), "--partition -2: must be 0 or more"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("jocko %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
	gcliRun(t, 1, "cannot reach a broker at 127.0.0.1:1", append(reset, "--to-latest", "--timeout", "2s")...)
}
