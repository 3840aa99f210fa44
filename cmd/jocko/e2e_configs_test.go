package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// incompressible returns n random bytes (a snappy-compressed batch of them
// stays about n bytes long).
func incompressible(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

// describeConfigs returns one resource's configs by name (DescribeConfigs
// v4 with synonyms, as kadm sends it).
func describeConfigs(t *testing.T, ctx context.Context, adm *kadm.Client, topic string, broker ...int32) map[string]kadm.Config {
	t.Helper()
	var rcs kadm.ResourceConfigs
	var err error
	if topic != "" {
		rcs, err = adm.DescribeTopicConfigs(ctx, topic)
	} else {
		rcs, err = adm.DescribeBrokerConfigs(ctx, broker...)
	}
	if err != nil {
		t.Fatalf("describe configs %q %v: %v", topic, broker, err)
	}
	if len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe configs %q %v: %d resources, %+v", topic, broker, len(rcs), rcs)
	}
	out := map[string]kadm.Config{}
	for _, c := range rcs[0].Configs {
		out[c.Key] = c
	}
	return out
}

// wantConfig checks a described setting's value, source and synonym chain
// ("name=value/SOURCE" each, most specific first).
func wantConfig(t *testing.T, label string, cs map[string]kadm.Config, name, value string, source kmsg.ConfigSource, synonyms ...string) {
	t.Helper()
	c, ok := cs[name]
	if !ok {
		t.Errorf("%s: %s not described", label, name)
		return
	}
	if c.MaybeValue() != value || c.Source != source {
		t.Errorf("%s: %s = %q from %v, want %q from %v", label, name, c.MaybeValue(), c.Source, value, source)
	}
	if synonyms == nil {
		return
	}
	var got []string
	for _, s := range c.Synonyms {
		v := "<nil>"
		if s.Value != nil {
			v = *s.Value
		}
		got = append(got, fmt.Sprintf("%s=%s/%v", s.Key, v, s.Source))
	}
	if strings.Join(got, " ") != strings.Join(synonyms, " ") {
		t.Errorf("%s: %s synonyms\n  %v\nwant\n  %v", label, name, got, synonyms)
	}
}

// wantAlterErr checks a single-resource alter answer's error code and that
// it carries a message.
func wantAlterErr(t *testing.T, label string, rs kadm.AlterConfigsResponses, err error, want *kerr.Error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	if len(rs) != 1 {
		t.Fatalf("%s: %d resources answered, want 1", label, len(rs))
	}
	if want == nil {
		if rs[0].Err != nil {
			t.Errorf("%s: %v (%s)", label, rs[0].Err, rs[0].ErrMessage)
		}
		return
	}
	if !errors.Is(rs[0].Err, want) || rs[0].ErrMessage == "" {
		t.Errorf("%s: error %v message %q, want %v with a message", label, rs[0].Err, rs[0].ErrMessage, want)
	}
}

var (
	srcTopic      = kmsg.ConfigSourceDynamicTopicConfig
	srcDynBroker  = kmsg.ConfigSourceDynamicBrokerConfig
	srcDynDefault = kmsg.ConfigSourceDynamicDefaultBrokerConfig
	srcStatic     = kmsg.ConfigSourceStaticBrokerConfig
	srcDefault    = kmsg.ConfigSourceDefaultConfig
)

// TestE2ETopicAndBrokerConfigs covers CreateTopics with configs and
// ValidateOnly (v1+), DescribeConfigs v4 with synonyms (KIP-226 sources),
// IncrementalAlterConfigs SET/DELETE/APPEND/SUBTRACT (KIP-339), AlterConfigs
// replacing the whole set, INVALID_CONFIG answers, dynamic broker configs
// (cluster default "" and per broker, KIP-226), a read-only broker setting
// (INVALID_REQUEST, as Kafka answers),
// a static flag, and that all of it survives a restart.
func TestE2ETopicAndBrokerConfigs(t *testing.T) {
	b := startBroker(t, "", "--log.retention.ms=1234")
	ctx := testCtx(t)
	adm := b.admin(t)
	s := kadm.StringPtr

	// ValidateOnly checks and creates nothing.
	vr, err := adm.ValidateCreateTopics(ctx, 2, 1, map[string]*string{"retention.ms": s("60000")}, "dry")
	if err != nil || vr["dry"].Err != nil {
		t.Fatalf("validate-only create: %v %+v", err, vr["dry"])
	}
	vr, err = adm.ValidateCreateTopics(ctx, 1, 1, map[string]*string{"retention.ms": s("forever")}, "dry-bad")
	if err != nil || !errors.Is(vr["dry-bad"].Err, kerr.InvalidConfig) || !strings.Contains(vr["dry-bad"].ErrMessage, "retention.ms") {
		t.Fatalf("validate-only create with a bad config: %v %+v, want INVALID_CONFIG naming retention.ms", err, vr["dry-bad"])
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": s("shred")}, "bad"); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("create with cleanup.policy=shred: %v, want INVALID_CONFIG", err)
	}
	td, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if td.Has("dry") || td.Has("dry-bad") || td.Has("bad") {
		t.Fatalf("validate-only or rejected creates left topics behind: %v", td.Names())
	}

	// A created topic reports its configs in the CreateTopics v5+ answer.
	cr, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": s("60000"), "cleanup.policy": s("compact")}, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if c := cr.Configs["retention.ms"]; c.MaybeValue() != "60000" || c.Source != srcTopic {
		t.Errorf("CreateTopics answer: retention.ms = %q from %v, want 60000 from DYNAMIC_TOPIC_CONFIG", c.MaybeValue(), c.Source)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "plain"); err != nil {
		t.Fatal(err)
	}

	cs := describeConfigs(t, ctx, adm, "cfg")
	wantConfig(t, "cfg", cs, "retention.ms", "60000", srcTopic,
		"retention.ms=60000/DYNAMIC_TOPIC_CONFIG", "log.retention.ms=1234/STATIC_BROKER_CONFIG", "log.retention.ms=604800000/DEFAULT_CONFIG")
	wantConfig(t, "cfg", cs, "cleanup.policy", "compact", srcTopic)
	wantConfig(t, "cfg", cs, "segment.bytes", "1073741824", srcDefault, "log.segment.bytes=1073741824/DEFAULT_CONFIG")
	wantConfig(t, "cfg", cs, "flush.messages", "1", srcDefault)
	ps := describeConfigs(t, ctx, adm, "plain")
	wantConfig(t, "plain", ps, "retention.ms", "1234", srcStatic,
		"log.retention.ms=1234/STATIC_BROKER_CONFIG", "log.retention.ms=604800000/DEFAULT_CONFIG")

	// A missing topic is UNKNOWN_TOPIC_OR_PARTITION for describe and alter.
	if rcs, err := adm.DescribeTopicConfigs(ctx, "missing"); err != nil || len(rcs) != 1 || !errors.Is(rcs[0].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("describe configs of a missing topic: %v %+v, want UNKNOWN_TOPIC_OR_PARTITION", err, rcs)
	}
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: s("1")}}, "missing")
	wantAlterErr(t, "alter configs of a missing topic", rs, err, kerr.UnknownTopicOrPartition)

	// IncrementalAlterConfigs on a list setting.
	rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: s("delete")}}, "cfg")
	wantAlterErr(t, "append cleanup.policy", rs, err, nil)
	wantConfig(t, "after append", describeConfigs(t, ctx, adm, "cfg"), "cleanup.policy", "compact,delete", srcTopic)
	rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: s("compact")}}, "cfg")
	wantAlterErr(t, "subtract cleanup.policy", rs, err, nil)
	wantConfig(t, "after subtract", describeConfigs(t, ctx, adm, "cfg"), "cleanup.policy", "delete", srcTopic)
	rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "cleanup.policy"}}, "cfg")
	wantAlterErr(t, "delete cleanup.policy", rs, err, nil)
	cs = describeConfigs(t, ctx, adm, "cfg")
	wantConfig(t, "after delete", cs, "cleanup.policy", "delete", srcDefault)
	wantConfig(t, "after delete", cs, "retention.ms", "60000", srcTopic) // untouched
	rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: s("compact")}}, "cfg")
	wantAlterErr(t, "set cleanup.policy", rs, err, nil)

	// Bad values and misuse are refused with INVALID_CONFIG and change nothing.
	for _, bad := range []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: s("-7")},
		{Op: kadm.SetConfig, Name: "segment.bytes", Value: s("2147483648")},
		{Op: kadm.SetConfig, Name: "no.such.setting", Value: s("1")},
		{Op: kadm.AppendConfig, Name: "retention.ms", Value: s("1")},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: s("shred")},
	} {
		rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{bad}, "cfg")
		wantAlterErr(t, fmt.Sprintf("incremental %v %s=%s", bad.Op, bad.Name, *bad.Value), rs, err, kerr.InvalidConfig)
	}
	rs, err = adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: s("1")}}, "cfg")
	wantAlterErr(t, "validate-only alter", rs, err, nil)
	cs = describeConfigs(t, ctx, adm, "cfg")
	wantConfig(t, "after refused alters", cs, "retention.ms", "60000", srcTopic)
	wantConfig(t, "after refused alters", cs, "cleanup.policy", "compact", srcTopic)

	// AlterConfigs (non-incremental) replaces the whole set: what is left
	// out goes back to its inherited value.
	rs, err = adm.ValidateAlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "segment.ms", Value: s("3600000")}}, "cfg")
	wantAlterErr(t, "validate-only AlterConfigs", rs, err, nil)
	wantConfig(t, "after validate-only AlterConfigs", describeConfigs(t, ctx, adm, "cfg"), "retention.ms", "60000", srcTopic)
	rs, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "segment.ms", Value: s("3600000")}, {Name: "max.message.bytes", Value: s("200")}}, "cfg")
	wantAlterErr(t, "AlterConfigs", rs, err, nil)
	cs = describeConfigs(t, ctx, adm, "cfg")
	wantConfig(t, "after AlterConfigs", cs, "segment.ms", "3600000", srcTopic)
	wantConfig(t, "after AlterConfigs", cs, "retention.ms", "1234", srcStatic)
	wantConfig(t, "after AlterConfigs", cs, "cleanup.policy", "delete", srcDefault)
	rs, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "min.insync.replicas", Value: s("0")}}, "cfg")
	wantAlterErr(t, "AlterConfigs min.insync.replicas=0", rs, err, kerr.InvalidConfig)

	// The altered max.message.bytes is enforced on produce.
	cl := b.client(t, kgo.DefaultProduceTopic("cfg"), kgo.RecordRetries(0))
	err = cl.ProduceSync(ctx, &kgo.Record{Value: incompressible(1000)}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("1000-byte record on a topic with max.message.bytes=200: %v, want MESSAGE_TOO_LARGE", err)
	}

	// Broker configs: broker "1" shows the static flag and the built-ins.
	bc := describeConfigs(t, ctx, adm, "", 1)
	wantConfig(t, "broker 1", bc, "log.retention.ms", "1234", srcStatic)
	wantConfig(t, "broker 1", bc, "num.partitions", "1", srcDefault)
	if c := bc["auto.create.topics.enable"]; c.MaybeValue() != "true" || c.Source != srcDefault {
		t.Errorf("broker 1: auto.create.topics.enable = %q from %v, want true from DEFAULT_CONFIG", c.MaybeValue(), c.Source)
	}

	// The cluster-wide resource "" shows effective values: the static flag
	// until a dynamic default is set.
	wantConfig(t, "cluster resource", describeConfigs(t, ctx, adm, ""), "log.retention.ms", "1234", srcStatic,
		"log.retention.ms=1234/STATIC_BROKER_CONFIG", "log.retention.ms=604800000/DEFAULT_CONFIG")

	// A cluster-wide dynamic default (resource "") is inherited by a topic
	// without an override, and wins over the static flag.
	rs, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.retention.ms", Value: s("5000")}})
	wantAlterErr(t, "alter cluster default log.retention.ms", rs, err, nil)
	wantConfig(t, "plain after cluster default", describeConfigs(t, ctx, adm, "plain"), "retention.ms", "5000", srcDynDefault,
		"log.retention.ms=5000/DYNAMIC_DEFAULT_BROKER_CONFIG", "log.retention.ms=1234/STATIC_BROKER_CONFIG", "log.retention.ms=604800000/DEFAULT_CONFIG")
	// A per-broker dynamic value wins over the cluster default.
	rs, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.retention.ms", Value: s("7000")}}, 1)
	wantAlterErr(t, "alter broker 1 log.retention.ms", rs, err, nil)
	wantConfig(t, "broker 1 after per-broker alter", describeConfigs(t, ctx, adm, "", 1), "log.retention.ms", "7000", srcDynBroker)
	// Read-only and bad broker settings are refused.
	rs, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "auto.create.topics.enable", Value: s("false")}})
	wantAlterErr(t, "alter read-only auto.create.topics.enable", rs, err, kerr.InvalidRequest)
	rs, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "num.partitions", Value: s("zero")}})
	wantAlterErr(t, "alter num.partitions=zero", rs, err, kerr.InvalidConfig)
	rs, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: s("1")}})
	wantAlterErr(t, "alter a topic name on a broker", rs, err, kerr.InvalidConfig)
	if c := describeConfigs(t, ctx, adm, "", 1)["auto.create.topics.enable"]; c.MaybeValue() != "true" {
		t.Errorf("refused alter changed auto.create.topics.enable to %q", c.MaybeValue())
	}

	// Everything survives a clean restart.
	b.stop()
	b.restart()
	cs = describeConfigs(t, ctx, adm, "cfg")
	wantConfig(t, "cfg after restart", cs, "segment.ms", "3600000", srcTopic)
	wantConfig(t, "cfg after restart", cs, "max.message.bytes", "200", srcTopic)
	wantConfig(t, "cfg after restart", cs, "retention.ms", "7000", srcDynBroker,
		"log.retention.ms=7000/DYNAMIC_BROKER_CONFIG", "log.retention.ms=5000/DYNAMIC_DEFAULT_BROKER_CONFIG",
		"log.retention.ms=1234/STATIC_BROKER_CONFIG", "log.retention.ms=604800000/DEFAULT_CONFIG")
	// The cluster-wide resource "" lists every setting as the cluster
	// resolves it: the dynamic default where set, not broker 1's own value.
	bc = describeConfigs(t, ctx, adm, "")
	wantConfig(t, "cluster default after restart", bc, "log.retention.ms", "5000", srcDynDefault,
		"log.retention.ms=5000/DYNAMIC_DEFAULT_BROKER_CONFIG", "log.retention.ms=1234/STATIC_BROKER_CONFIG", "log.retention.ms=604800000/DEFAULT_CONFIG")
	wantConfig(t, "cluster default after restart", bc, "num.partitions", "1", srcDefault)
	err = cl.ProduceSync(ctx, &kgo.Record{Value: incompressible(1000)}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("after restart, 1000-byte record with max.message.bytes=200: %v, want MESSAGE_TOO_LARGE", err)
	}
}

// TestE2ERetentionDeletesOldSegments checks that retention.ms (a topic
// override) deletes whole old segments and moves the log start offset
// (ListOffsets earliest), with small segments from --log.segment.bytes and a
// fast --log.retention.check.interval.ms.
func TestE2ERetentionDeletesOldSegments(t *testing.T) {
	b := startBroker(t, "", "--log.retention.check.interval.ms=200", "--log.segment.bytes=1024")
	ctx := testCtx(t)
	adm := b.admin(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("600000")}, "old"); err != nil {
		t.Fatal(err)
	}
	cl := b.client(t, kgo.DefaultProduceTopic("old"))
	old := time.Now().Add(-24 * time.Hour)
	const n = 20
	for i := 0; i < n; i++ { // one batch per request, ~3 per segment
		r := &kgo.Record{Value: bytes.Repeat([]byte{byte('a' + i)}, 250), Timestamp: old.Add(time.Duration(i) * time.Millisecond)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var start int64
	for start == 0 {
		if ctx.Err() != nil {
			t.Fatal("log start offset still 0: retention deleted nothing")
		}
		offs, err := adm.ListStartOffsets(ctx, "old")
		if err != nil {
			t.Fatal(err)
		}
		o, ok := offs.Lookup("old", 0)
		if !ok || o.Err != nil {
			t.Fatalf("list start offsets: %+v", o)
		}
		start = o.Offset
		waitABit(ctx)
	}
	ends, err := adm.ListEndOffsets(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := ends.Lookup("old", 0); e.Offset != n || start > n-1 {
		t.Fatalf("after retention: start %d end %d, want end %d and the active segment kept", start, e.Offset, n)
	}
	// Consumers from the start see only what is left, beginning at the new
	// log start.
	got := consumeAll(t, b, "old", 1)
	if got[0].Offset < start {
		t.Errorf("first consumed offset %d is below the log start %d", got[0].Offset, start)
	}
}
