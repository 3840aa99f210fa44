package core

import (
	"context"
	"strings"
	"testing"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// jockoTopicDefaults are the topic configs whose Jocko default departs
// from Kafka's, on purpose (configs.go says why).
var jockoTopicDefaults = map[string]string{"flush.messages": "1"}

// jockoOnlyTopicConfigs are Jocko's own topic configs, not Kafka's.
var jockoOnlyTopicConfigs = map[string]bool{"retention.topic.bytes": true, "retention.disk.percent": true}

func describeByName(entries []configEntry) map[string]kmsg.DescribeConfigsResponseResourceConfig {
	out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, e := range entries {
		out[e.name] = e.describe(4, true, true)
	}
	return out
}

func TestKafkaCatalogMatchesConfigDefs(t *testing.T) {
	t.Parallel()
	if len(kafkaTopicConfigs) < 30 || len(kafkaBrokerConfigs) < 250 {
		t.Fatalf("catalog has %d topic and %d broker configs, want Kafka 4's (34 and about 300)", len(kafkaTopicConfigs), len(kafkaBrokerConfigs))
	}
	for n, d := range topicDefs {
		k, ok := kafkaTopicConfigs[n]
		if jockoOnlyTopicConfigs[n] {
			if ok {
				t.Errorf("%s is Kafka's too: drop it from jockoOnlyTopicConfigs", n)
			}
			continue
		}
		if !ok {
			t.Errorf("topic config %s is not in Kafka's catalog", n)
			continue
		}
		if d.typ != k.typ || d.broker != k.synonym {
			t.Errorf("topic config %s: Jocko has type %v broker name %s, Kafka %v %s", n, d.typ, d.broker, k.typ, k.synonym)
		}
		if want, ok := jockoTopicDefaults[n]; k.def == nil || d.def != *k.def && (!ok || d.def != want) {
			t.Errorf("topic config %s: Jocko's default %q, Kafka's %v", n, d.def, k.def)
		}
	}
	for n := range kafkaTopicConfigs {
		if _, ok := kafkaBrokerConfigs[n]; ok && topicDefs[n] == nil && kafkaTopicConfigs[n].synonym != n {
			t.Errorf("%s is both a topic and a broker config with other meanings", n)
		}
	}
}

// TestDescribeTopicAnswersEveryKafkaTopicConfig: DescribeConfigs for a
// topic answers every Kafka 4 topic config with Kafka's default and type,
// read-only where Jocko does not act on it, with Kafka's documentation and
// its broker synonym.
func TestDescribeTopicAnswersEveryKafkaTopicConfig(t *testing.T) {
	t.Parallel()
	b := &Broker{cfg: Config{NodeID: 1}}
	st := cluster.NewState()
	st.Topics["t"] = &cluster.Topic{Name: "t", Configs: map[string]string{"retention.ms": "60000"}}
	entries, err := b.topicEntries(st, "t")
	if err != nil {
		t.Fatal(err)
	}
	got := describeByName(entries)
	for n, k := range kafkaTopicConfigs {
		c, ok := got[n]
		if !ok {
			t.Errorf("%s not described", n)
			continue
		}
		if c.ConfigType != k.typ {
			t.Errorf("%s: type %v, want Kafka's %v", n, c.ConfigType, k.typ)
		}
		if c.Documentation == nil || *c.Documentation == "" {
			t.Errorf("%s: no documentation", n)
		}
		if IsTopicConfigActedOn(n) {
			if c.ReadOnly {
				t.Errorf("%s: Jocko acts on it, described read-only", n)
			}
			continue
		}
		if !c.ReadOnly || c.Source != kmsg.ConfigSourceDefaultConfig || !c.IsDefault {
			t.Errorf("%s: read-only %v source %v default %v, want read-only at DEFAULT_CONFIG", n, c.ReadOnly, c.Source, c.IsDefault)
		}
		if (c.Value == nil) != (k.def == nil) || c.Value != nil && *c.Value != *k.def {
			t.Errorf("%s = %v, want Kafka's default %v", n, c.Value, k.def)
		}
		if !strings.Contains(*c.Documentation, "Jocko does not act on") {
			t.Errorf("%s: documentation does not say Jocko ignores it: %q", n, *c.Documentation)
		}
		if k.synonym != "" && (len(c.ConfigSynonyms) != 1 || c.ConfigSynonyms[0].Name != k.synonym) {
			t.Errorf("%s: synonyms %+v, want %s", n, c.ConfigSynonyms, k.synonym)
		}
	}
	// Kafka 4's values, written out here so a wrong catalog fails.
	for n, want := range map[string]string{
		"message.downconversion.enable":  "true",
		"local.retention.ms":             "-2",
		"local.retention.bytes":          "-2",
		"remote.storage.enable":          "false",
		"preallocate":                    "false",
		"segment.jitter.ms":              "0",
		"compression.zstd.level":         "3",
		"message.timestamp.after.max.ms": "3600000",
		"retention.ms":                   "60000", // the topic's own
		"flush.messages":                 "1",     // Jocko's default
		"retention.topic.bytes":          "-1",    // Jocko's own config
		"segment.bytes":                  "1073741824",
	} {
		if c := got[n]; c.Value == nil || *c.Value != want {
			t.Errorf("%s = %v, want %s", n, c.Value, want)
		}
	}
	for _, gone := range []string{"message.format.version", "message.timestamp.difference.max.ms"} {
		if _, ok := got[gone]; ok {
			t.Errorf("%s described: Kafka 4 removed it", gone)
		}
	}
}

// TestDescribeBrokerCatalogAndClusterDefaults: a broker resource lists
// Kafka's broker configs Jocko ignores at their defaults (passwords
// sensitive with no value, internal and removed ones left out), and the
// cluster-wide resource "" every setting with its effective value and
// source.
func TestDescribeBrokerCatalogAndClusterDefaults(t *testing.T) {
	t.Parallel()
	b := &Broker{cfg: Config{NodeID: 1, Defaults: map[string]string{"log.segment.bytes": "2048"}}}
	st := cluster.NewState()
	st.Brokers[1] = cluster.Broker{ID: 1}
	st.BrokerConfigs = map[string]string{}
	st.BrokerConfigs["log.retention.ms"] = "5000"
	st.BrokerConfigs[brokerKey(1, "log.retention.ms")] = "7000"
	st.BrokerConfigs[brokerKey(1, "num.partitions")] = "4"
	for _, name := range []string{"", "1"} {
		entries, err := b.brokerEntries(st, name)
		if err != nil {
			t.Fatal(err)
		}
		got := describeByName(entries)
		if c := got["log.cleaner.backoff.ms"]; c.Value == nil || *c.Value != "15000" || !c.ReadOnly || c.ConfigType != kmsg.ConfigTypeLong || c.Source != kmsg.ConfigSourceDefaultConfig {
			t.Errorf("%q: log.cleaner.backoff.ms = %+v, want 15000, read-only, LONG, DEFAULT_CONFIG", name, c)
		}
		if c, ok := got["ssl.keystore.password"]; !ok || c.Value != nil || !c.IsSensitive {
			t.Errorf("%q: ssl.keystore.password = %+v, want sensitive with no value", name, c)
		}
		if c, ok := got["log.dirs"]; !ok || c.Value != nil {
			t.Errorf("%q: log.dirs = %+v, want Kafka's null default", name, c)
		}
		for _, hidden := range []string{"zookeeper.connect", "unstable.api.versions.enable", "log.message.format.version"} {
			if _, ok := got[hidden]; ok {
				t.Errorf("%q: %s described (internal, or gone in Kafka 4)", name, hidden)
			}
		}
		wantRetention, wantPartitions := "7000", "4"
		if name == "" {
			wantRetention, wantPartitions = "5000", "1" // per-broker values are not cluster-wide
		}
		if c := got["log.retention.ms"]; *c.Value != wantRetention {
			t.Errorf("%q: log.retention.ms = %s, want %s", name, *c.Value, wantRetention)
		}
		if c := got["num.partitions"]; *c.Value != wantPartitions {
			t.Errorf("%q: num.partitions = %s, want %s", name, *c.Value, wantPartitions)
		}
		if c := got["log.segment.bytes"]; *c.Value != "2048" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
			t.Errorf("%q: log.segment.bytes = %s from %v, want 2048 from STATIC_BROKER_CONFIG", name, *c.Value, c.Source)
		}
	}
	entries, _ := b.brokerEntries(st, "")
	got := describeByName(entries)
	if c := got["log.retention.ms"]; c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig || len(c.ConfigSynonyms) != 2 {
		t.Errorf(`"": log.retention.ms from %v synonyms %+v, want DYNAMIC_DEFAULT_BROKER_CONFIG then DEFAULT_CONFIG`, c.Source, c.ConfigSynonyms)
	}
	if c := got["offsets.topic.replication.factor"]; *c.Value != "1" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf(`"": offsets.topic.replication.factor = %s from %v, want the derived 1 (one live broker)`, *c.Value, c.Source)
	}
}

// TestAlterRefusesConfigsJockoIgnores: a broker config Jocko does not act
// on is refused as Kafka refuses its read-only ones; a topic config is
// accepted at Kafka's default (and not stored) and refused otherwise.
func TestAlterRefusesConfigsJockoIgnores(t *testing.T) {
	t.Parallel()
	b := &Broker{cfg: Config{NodeID: 1}}
	st := cluster.NewState()
	for _, n := range []string{"log.cleaner.backoff.ms", "auto.create.topics.enable"} {
		err := b.alterBrokerConfigs(context.Background(), st, "", func(map[string]string) (map[string]string, error) {
			return map[string]string{n: "1000"}, nil
		}, true)
		code, msg := errorCode(err)
		if code != kerr.InvalidRequest.Code || msg == nil || !strings.Contains(*msg, "Cannot update these configs dynamically: ["+n+"]") {
			t.Errorf("alter %s: code %d message %v, want INVALID_REQUEST Cannot update these configs dynamically", n, code, msg)
		}
	}
	next, err := applyConfigOps(map[string]string{"retention.ms": "5"}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
		op("preallocate", kmsg.IncrementalAlterConfigOpSet, strPtr("false")),
		op("remote.storage.enable", kmsg.IncrementalAlterConfigOpDelete, nil),
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := dropCatalogDefaults(next); err != nil || len(next) != 1 || next["retention.ms"] != "5" {
		t.Errorf("preallocate=false (Kafka's default): %v, configs %v, want accepted and not stored", err, next)
	}
	err = dropCatalogDefaults(map[string]string{"remote.storage.enable": "true"})
	if err == nil || !strings.Contains(err.Error(), "Jocko does not act on remote.storage.enable") || !strings.Contains(err.Error(), `"false"`) {
		t.Errorf("remote.storage.enable=true: %v, want a refusal naming it and Kafka's default", err)
	}
	if _, err := applyConfigOps(map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
		op("no.such.config", kmsg.IncrementalAlterConfigOpSet, strPtr("1"))}, true); err == nil {
		t.Error("an unknown topic config was accepted")
	}
}

func TestIsKafkaBrokerConfig(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"log.cleaner.backoff.ms":                       true,
		"log.retention.ms":                             true,
		"zookeeper.connect":                            true, // Kafka 3 files
		"log.message.format.version":                   true,
		"unstable.api.versions.enable":                 true, // internal
		"listener.name.internal.ssl.keystore.location": true,
		"retention.ms":                                 false, // a topic config
		"log.retension.ms":                             false,
	} {
		if got := IsKafkaBrokerConfig(name); got != want {
			t.Errorf("IsKafkaBrokerConfig(%s) = %v, want %v", name, got, want)
		}
	}
}
