package main

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestE2ETopicBudget: retention.topic.bytes is shared equally by a topic's
// partitions, DescribeConfigs shows each partition's share as the effective
// retention.bytes (with the budget as its synonym), the share is
// recomputed when CreatePartitions adds partitions, retention keeps each
// partition within it, and budgets that cannot be kept are refused with
// INVALID_CONFIG and a message that says what is allowed.
func TestE2ETopicBudget(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "", "--log.retention.check.interval.ms=200")
	ctx := testCtx(t)
	adm := b.admin(t)
	s := kadm.StringPtr
	const seg, budget = 64 << 10, 512 << 10
	cfg := map[string]*string{"segment.bytes": s(fmt.Sprint(seg)), "retention.topic.bytes": s(fmt.Sprint(budget))}

	// Refused: a negative budget, and one below a segment per partition.
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.topic.bytes": s("-2")}, "neg"); !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("create with retention.topic.bytes=-2: %v, want INVALID_CONFIG", err)
	}
	r, err := adm.CreateTopic(ctx, 9, 1, cfg, "small")
	if !errors.Is(err, kerr.InvalidConfig) || !strings.Contains(r.ErrMessage, fmt.Sprintf("at least %d", 9*seg)) {
		t.Errorf("create 9 partitions with a %d-byte budget and %d-byte segments: %v %q, want INVALID_CONFIG asking for at least %d", budget, seg, err, r.ErrMessage, 9*seg)
	}

	if _, err := adm.CreateTopic(ctx, 2, 1, cfg, "budget"); err != nil {
		t.Fatal(err)
	}
	wantConfig(t, "2 partitions", describeConfigs(t, ctx, adm, "budget"), "retention.bytes", fmt.Sprint(budget/2), srcTopic,
		fmt.Sprintf("retention.topic.bytes=%d/DYNAMIC_TOPIC_CONFIG", budget), "log.retention.bytes=-1/DEFAULT_CONFIG")
	wantConfig(t, "2 partitions", describeConfigs(t, ctx, adm, "budget"), "retention.topic.bytes", fmt.Sprint(budget), srcTopic)

	fill := func(parts int) {
		t.Helper()
		// Uncompressed batches of at most 16 KiB: segments roll near
		// their 64 KiB, and a record takes at least its 1 KiB value. A
		// new client each time: it sees the partitions just added.
		cl := b.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(16<<10), kgo.ProducerBatchCompression(kgo.NoCompression()))
		value := incompressible(1024)
		var failed atomic.Pointer[error]
		for p := range parts {
			for range 1024 { // 1 MiB a partition, four times its share
				cl.Produce(ctx, &kgo.Record{Topic: "budget", Partition: int32(p), Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						failed.CompareAndSwap(nil, &err)
					}
				})
			}
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := failed.Load(); err != nil {
			t.Fatalf("produce: %v", *err)
		}
	}
	// kept waits until every partition keeps at most share bytes plus the
	// active segment (retention never deletes that one), counting a
	// record as its 1 KiB value (a lower bound of what it takes).
	kept := func(label string, parts, share int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			starts, err1 := adm.ListStartOffsets(ctx, "budget")
			ends, err2 := adm.ListEndOffsets(ctx, "budget")
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			var over []string
			for p := range int32(parts) {
				st, _ := starts.Lookup("budget", p)
				en, _ := ends.Lookup("budget", p)
				if n := (en.Offset - st.Offset) * 1024; n > int64(share+seg) {
					over = append(over, fmt.Sprintf("partition %d keeps %d records (offsets %d-%d)", p, en.Offset-st.Offset, st.Offset, en.Offset))
				}
			}
			if len(over) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after 30 s, over the %d-byte share plus a segment: %s", label, share, strings.Join(over, "; "))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	fill(2)
	kept("2 partitions", 2, budget/2)

	// Too many partitions for the budget: refused, nothing added.
	cr, err := adm.UpdatePartitions(ctx, 9, "budget")
	if err != nil || !errors.Is(cr["budget"].Err, kerr.InvalidConfig) || !strings.Contains(cr["budget"].ErrMessage, "retention.topic.bytes") {
		t.Errorf("partitions to 9 (under a segment each): %v %+v, want INVALID_CONFIG naming retention.topic.bytes", err, cr["budget"])
	}
	// Four: each share halves, and retention follows.
	if cr, err := adm.UpdatePartitions(ctx, 4, "budget"); err != nil || cr["budget"].Err != nil {
		t.Fatalf("partitions to 4: %v %+v", err, cr["budget"])
	}
	wantConfig(t, "4 partitions", describeConfigs(t, ctx, adm, "budget"), "retention.bytes", fmt.Sprint(budget/4), srcTopic)
	fill(4)
	kept("4 partitions", 4, budget/4)

	// Altering the budget below a segment per partition is refused too.
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.topic.bytes", Value: s(fmt.Sprint(4*seg - 1))}}, "budget")
	wantAlterErr(t, "budget under a segment per partition", rs, err, kerr.InvalidConfig)
	// A smaller retention.bytes wins over the share.
	rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.bytes", Value: s("100000")}}, "budget")
	wantAlterErr(t, "retention.bytes below the share", rs, err, nil)
	wantConfig(t, "retention.bytes below the share", describeConfigs(t, ctx, adm, "budget"), "retention.bytes", "100000", srcTopic)
}
