package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describedProducer is one row of `txn producers --format json`, with null
// where the table prints "-".
type describedProducer struct {
	Partition        int32  `json:"partition"`
	Leader           int32  `json:"leader"`
	ProducerID       int64  `json:"producer_id"`
	ProducerEpoch    int16  `json:"producer_epoch"`
	LastSequence     *int32 `json:"last_sequence"`     // null: no batch in this epoch
	LastTimestamp    *int64 `json:"last_timestamp"`    // ms
	CoordinatorEpoch *int32 `json:"coordinator_epoch"` // null: no marker yet
	TxnStartOffset   *int64 `json:"txn_start_offset"`  // null: no open transaction
}

// txnProducers prints the producers each partition of topic (or only
// part, unless -1) knows, with their open transactions; a partition that
// could not be described fails the command after the table.
func txnProducers(ctx context.Context, adm *kadm.Client, out io.Writer, topic string, part int32, format string) error {
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("read metadata of topic %s: %v", topic, err)
	}
	t, ok := topics[topic]
	if !ok || t.Err != nil {
		return fmt.Errorf("topic %s does not exist ('jocko topic list' shows the topics)", topic)
	}
	set := kadm.TopicsSet{}
	if part >= 0 {
		if _, ok := t.Partitions[part]; !ok {
			return usageErrorf("--partition %d: topic %s has %d partitions (0 to %d)", part, topic, len(t.Partitions), len(t.Partitions)-1)
		}
		set.Add(topic, part)
	} else {
		set.Add(topic, t.Partitions.Numbers()...)
	}
	described, err := adm.DescribeProducers(ctx, set)
	if err != nil && len(described) == 0 {
		return txnAPIErr(ctx, adm, "describe producers of topic "+topic, kmsg.DescribeProducers, err)
	}
	rows := []describedProducer{}
	var problems []string
	got := described[topic].Partitions
	for _, p := range set.Sorted()[0].Partitions {
		dp, ok := got[p]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("partition %d: not described (%v)", p, err))
			continue
		case errors.Is(dp.Err, kerr.NotLeaderForPartition):
			problems = append(problems, fmt.Sprintf("partition %d: %v; its leader moved, run the command again", p, dp.Err))
			continue
		case dp.Err != nil:
			problems = append(problems, fmt.Sprintf("partition %d: %v", p, dp.Err))
			continue
		}
		for _, d := range dp.ActiveProducers.Sorted() {
			rows = append(rows, producerRow(d))
		}
	}
	if format == formatJSON {
		if err := writeJSON(out, rows); err != nil {
			return err
		}
	} else if err := printProducers(out, rows); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("describe producers of topic %s: %s", topic, strings.Join(problems, "; "))
	}
	return nil
}

func producerRow(d kadm.DescribedProducer) describedProducer {
	r := describedProducer{Partition: d.Partition, Leader: d.Leader, ProducerID: d.ProducerID, ProducerEpoch: d.ProducerEpoch}
	if d.LastSequence >= 0 {
		r.LastSequence = &d.LastSequence
	}
	if d.LastTimestamp >= 0 {
		r.LastTimestamp = &d.LastTimestamp
	}
	if d.CoordinatorEpoch >= 0 {
		r.CoordinatorEpoch = &d.CoordinatorEpoch
	}
	if d.CurrentTxnStartOffset >= 0 {
		r.TxnStartOffset = &d.CurrentTxnStartOffset
	}
	return r
}

// printProducers prints the table of `txn producers`.
func printProducers(out io.Writer, rows []describedProducer) error {
	if len(rows) == 0 {
		fmt.Fprintln(out, "No active producers.")
		return nil
	}
	w := newTable(out)
	fmt.Fprintln(w, "PARTITION\tLEADER\tPRODUCER ID\tEPOCH\tLAST SEQUENCE\tLAST TIMESTAMP\tCOORDINATOR EPOCH\tTXN START OFFSET")
	for _, r := range rows {
		ts := "-"
		if r.LastTimestamp != nil {
			ts = msText(*r.LastTimestamp)
		}
		fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", r.Partition, r.Leader, r.ProducerID, r.ProducerEpoch,
			optText(r.LastSequence), ts, optText(r.CoordinatorEpoch), optText(r.TxnStartOffset))
	}
	return w.Flush()
}

// optText is a number, or "-" for none.
func optText[T int32 | int64](v *T) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(int64(*v), 10)
}
