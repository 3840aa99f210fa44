package main

// `jocko txn list|describe|producers`: the transactions the coordinators
// know (ListTransactions, DescribeTransactions) and the producers the
// partitions know (DescribeProducers, KIP-664: the place to look for a
// transaction left hanging), as Kafka's kafka-transactions.sh shows them.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var txnSubcommands = []string{"list", "describe", "producers"}

// txnStates are the transaction states a --state filter may name (Kafka's
// TransactionState).
var txnStates = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit",
	"CompleteAbort", "Dead", "PrepareEpochFence"}

func runTxn(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"txn needs a subcommand: list, describe or producers"}
	}
	c := newAdminCommand("txn", args[0])
	fs := c.fs
	switch c.sub {
	case "list":
		c.needName = false
		state := fs.String("state", "", "only transactions in these comma-separated states (e.g. Ongoing,PrepareCommit)")
		pids := fs.String("producer-id", "", "only transactions of these comma-separated producer IDs")
		format := c.withFormat()
		var states []string
		var ids []int64
		c.check = func() (err error) {
			if states, err = parseTxnStates(*state); err != nil {
				return err
			}
			ids, err = parseProducerIDs(*pids)
			return err
		}
		c.run = func(ctx context.Context, adm *kadm.Client, _ string) error {
			return txnList(ctx, adm, stdout, ids, states, *format)
		}
	case "describe":
		c.manyNames, c.noun = true, "transactional ID"
		format := c.withFormat()
		c.run = func(ctx context.Context, adm *kadm.Client, _ string) error {
			return txnDescribe(ctx, adm, stdout, fs.Args(), *format)
		}
	case "producers":
		c.noun = "topic name"
		part := fs.Int("partition", -1, "only this partition (default: all)")
		format := c.withFormat()
		c.check = func() error {
			if *part < -1 || *part > 1<<31-1 {
				return usageErrorf("--partition %d: want a partition number (0 or more)", *part)
			}
			return nil
		}
		c.run = func(ctx context.Context, adm *kadm.Client, topic string) error {
			return txnProducers(ctx, adm, stdout, topic, int32(*part), *format)
		}
	default:
		return usageErrorf("unknown txn subcommand %q: want list, describe or producers", c.sub)
	}
	return c.execute(args[1:], stderr)
}

// parseTxnStates splits a --state list and spells each state as Kafka does.
func parseTxnStates(s string) ([]string, error) {
	var out []string
	for _, st := range strings.Split(s, ",") {
		if st = strings.TrimSpace(st); st == "" {
			continue
		}
		i := slices.IndexFunc(txnStates, func(k string) bool { return strings.EqualFold(k, st) })
		if i < 0 {
			return nil, usageErrorf("--state %q: unknown transaction state; want some of %s", st, strings.Join(txnStates, ","))
		}
		out = append(out, txnStates[i])
	}
	return out, nil
}

// parseProducerIDs splits a --producer-id list.
func parseProducerIDs(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil || id < 0 {
			return nil, usageErrorf("--producer-id %q: want a producer ID (a whole number, 0 or more)", f)
		}
		out = append(out, id)
	}
	return out, nil
}

// txnAPIErr explains a failed transaction request: when a broker does not
// serve the API at all, it says so instead of kgo's "broker is too old".
func txnAPIErr(ctx context.Context, adm *kadm.Client, what string, key kmsg.Key, err error) error {
	if vs, verr := adm.ApiVersions(ctx); verr == nil {
		for _, v := range vs.Sorted() {
			if _, _, ok := v.KeyVersions(int16(key)); v.Err == nil && !ok {
				return fmt.Errorf("%s: broker %d does not serve %s (the cluster runs without a transaction coordinator)", what, v.NodeID, key.Name())
			}
		}
	}
	return fmt.Errorf("%s: %v", what, err)
}

// listedTxn is one row of `txn list` (--format json prints a list).
type listedTxn struct {
	TransactionalID string `json:"transactional_id"`
	Coordinator     int32  `json:"coordinator"`
	State           string `json:"state"`
	ProducerID      int64  `json:"producer_id"`
}

func txnList(ctx context.Context, adm *kadm.Client, out io.Writer, ids []int64, states []string, format string) error {
	listed, err := adm.ListTransactions(ctx, ids, states)
	if err != nil {
		return txnAPIErr(ctx, adm, "list transactions", kmsg.ListTransactions, err)
	}
	rows := []listedTxn{}
	for _, l := range listed.Sorted() {
		rows = append(rows, listedTxn{l.TxnID, l.Coordinator, l.State, l.ProducerID})
	}
	if format == formatJSON {
		return writeJSON(out, rows)
	}
	w := newTable(out)
	fmt.Fprintln(w, "TRANSACTIONAL ID\tCOORDINATOR\tSTATE\tPRODUCER ID")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%d\t%s\t%d\n", r.TransactionalID, r.Coordinator, r.State, r.ProducerID)
	}
	return w.Flush()
}

// describedTxn is one transaction of `txn describe --format json`, with
// null where the table prints "-".
type describedTxn struct {
	TransactionalID string             `json:"transactional_id"`
	Coordinator     int32              `json:"coordinator"`
	State           string             `json:"state"`
	ProducerID      int64              `json:"producer_id"`
	ProducerEpoch   int16              `json:"producer_epoch"`
	TimeoutMs       int32              `json:"timeout_ms"`
	StartTimestamp  *int64             `json:"start_timestamp"` // ms; null: no transaction under way
	Partitions      map[string][]int32 `json:"partitions"`
}

func txnDescribe(ctx context.Context, adm *kadm.Client, out io.Writer, ids []string, format string) error {
	described, err := adm.DescribeTransactions(ctx, ids...)
	if err != nil && len(described) == 0 {
		return txnAPIErr(ctx, adm, "describe transactions", kmsg.DescribeTransactions, err)
	}
	rows := []describedTxn{}
	var problems []string
	for _, id := range ids {
		d, ok := described[id]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: not described (%v)", id, err))
		case errors.Is(d.Err, kerr.TransactionalIDNotFound):
			problems = append(problems, fmt.Sprintf("%s: no such transactional ID ('jocko txn list' shows them)", id))
		case d.Err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", id, d.Err))
		default:
			r := describedTxn{TransactionalID: id, Coordinator: d.Coordinator, State: d.State, ProducerID: d.ProducerID,
				ProducerEpoch: d.ProducerEpoch, TimeoutMs: d.TimeoutMillis, Partitions: map[string][]int32{}}
			if d.StartTimestamp >= 0 {
				r.StartTimestamp = &d.StartTimestamp
			}
			for topic, ps := range d.Topics {
				r.Partitions[topic] = slices.Sorted(maps.Keys(ps))
			}
			rows = append(rows, r)
		}
	}
	if format == formatJSON {
		if err := writeJSON(out, rows); err != nil {
			return err
		}
	} else if len(rows) > 0 {
		if err := printTxns(out, rows); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("describe transactions: %s", strings.Join(problems, "; "))
	}
	return nil
}

// printTxns prints the table of `txn describe`.
func printTxns(out io.Writer, rows []describedTxn) error {
	w := newTable(out)
	fmt.Fprintln(w, "TRANSACTIONAL ID\tCOORDINATOR\tSTATE\tPRODUCER ID\tEPOCH\tTIMEOUT\tSTARTED\tPARTITIONS")
	for _, r := range rows {
		started := "-"
		if r.StartTimestamp != nil {
			started = msText(*r.StartTimestamp)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%d\t%s\t%s\t%s\n", r.TransactionalID, r.Coordinator, r.State, r.ProducerID,
			r.ProducerEpoch, time.Duration(r.TimeoutMs)*time.Millisecond, started, partitionsText(r.Partitions))
	}
	return w.Flush()
}

// partitionsText spells partitions as topic:p,p topic:p, or "-".
func partitionsText(m map[string][]int32) string {
	var parts []string
	for _, topic := range slices.Sorted(maps.Keys(m)) {
		nums := make([]string, len(m[topic]))
		for i, p := range m[topic] {
			nums[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, topic+":"+strings.Join(nums, ","))
	}
	return orDash(strings.Join(parts, " "))
}

// msText is a timestamp in milliseconds as UTC time, or "-" for none (< 0).
func msText(ms int64) string {
	if ms < 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
