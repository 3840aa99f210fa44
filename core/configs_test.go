package core

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Tests of the configuration table behind CreateTopics, DescribeConfigs,
// AlterConfigs and IncrementalAlterConfigs (KIP-339).

func TestConfigDefaultsPassTheirOwnValidators(t *testing.T) {
	for _, d := range configDefs {
		if err := d.check(d.def); err != nil {
			t.Errorf("%s/%s: built-in default %q rejected: %v", d.topic, d.broker, d.def, err)
		}
		if d.topic != "" && topicDefs[d.topic] != brokerDefs[d.broker] {
			t.Errorf("topic config %s does not inherit from broker config %s", d.topic, d.broker)
		}
	}
}

func TestValidateTopicConfig(t *testing.T) {
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"cleanup.policy", "delete", true},
		{"cleanup.policy", "compact", true},
		{"cleanup.policy", "compact,delete", true},
		{"cleanup.policy", "delete, compact", true},
		{"cleanup.policy", "delete,bogus", false},
		{"cleanup.policy", "Delete", false},
		{"compression.type", "zstd", true},
		{"compression.type", "producer", true},
		{"compression.type", "brotli", false},
		{"retention.ms", "-1", true},
		{"retention.ms", "0", true},
		{"retention.ms", "9223372036854775807", true},
		{"retention.ms", "9223372036854775808", false},
		{"retention.ms", "-2", false},
		{"retention.ms", "1h", false},
		{"retention.ms", "", false},
		{"retention.bytes", "-1", true},
		{"segment.bytes", "14", true},
		{"segment.bytes", "13", false},
		{"segment.bytes", "2147483647", true},
		{"segment.bytes", "2147483648", false}, // INT, not LONG
		{"flush.messages", "1", true},
		{"flush.messages", "0", false},
		{"message.timestamp.type", "LogAppendTime", true},
		{"message.timestamp.type", "logappendtime", false},
		{"unclean.leader.election.enable", "true", true},
		{"unclean.leader.election.enable", "yes", false},
		{"unclean.leader.election.enable", "TRUE", true}, // any case, as Kafka's ConfigDef
		{"min.cleanable.dirty.ratio", "0", true},
		{"min.cleanable.dirty.ratio", "0.25", true},
		{"min.cleanable.dirty.ratio", "1", true},
		{"min.cleanable.dirty.ratio", "1.5", false},
		{"min.cleanable.dirty.ratio", "-0.1", false},
		{"min.cleanable.dirty.ratio", "NaN", false},
		{"retention.disk.percent", "-1", true}, // off
		{"retention.disk.percent", "100", true},
		{"retention.disk.percent", "0.5", true},
		{"retention.disk.percent", "85", true},
		{"retention.disk.percent", "0", false},
		{"retention.disk.percent", "100.01", false},
		{"retention.disk.percent", "-2", false},
		{"retention.disk.percent", "NaN", false},
		{"retention.disk.percent", "85%", false},
		{"min.insync.replicas", "0", false},
		{"max.compaction.lag.ms", "0", false},
		{"no.such.config", "1", false},
		// Broker-only settings are not topic settings, and broker names of
		// topic settings are not topic names.
		{"num.partitions", "3", false},
		{"log.retention.ms", "1000", false},
	}
	for _, tc := range tests {
		err := validateTopicConfig(tc.name, tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("validateTopicConfig(%s=%q) = %v, want ok=%v", tc.name, tc.value, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tc.name) {
			t.Errorf("validateTopicConfig(%s=%q): message %q does not name the setting", tc.name, tc.value, err)
		}
	}
}

func TestValidateBrokerConfig(t *testing.T) {
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"log.retention.ms", "1234", true},
		{"log.retention.ms", "-1", true},
		{"log.retention.ms", "soon", false},
		{"log.cleanup.policy", "compact", true},
		{"log.cleanup.policy", "shred", false},
		{"message.max.bytes", "1048588", true},
		{"num.partitions", "12", true},
		{"num.partitions", "0", false},
		{"auto.create.topics.enable", "false", true},
		{"auto.create.topics.enable", "0", false},
		{"offsets.topic.replication.factor", "1", true},
		{"log.retention.check.interval.ms", "0", false},
		{"log.cleaner.min.cleanable.ratio", "0.9", true},
		// Topic names of broker settings are not broker names.
		{"retention.ms", "1000", false},
		{"cleanup.policy", "delete", false},
		{"", "x", false},
	}
	for _, tc := range tests {
		err := validateBrokerConfig(tc.name, tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("validateBrokerConfig(%s=%q) = %v, want ok=%v", tc.name, tc.value, err, tc.ok)
		}
	}
	// An unknown name lists the known ones.
	err := validateBrokerConfig("log.retention.hourz", "1")
	if err == nil || !strings.Contains(err.Error(), "log.retention.ms") {
		t.Errorf("unknown broker config: %v, want a message listing the known names", err)
	}
}

func TestEditList(t *testing.T) {
	tests := []struct {
		base, val string
		add       bool
		want      string
	}{
		{"delete", "compact", true, "delete,compact"},
		{"delete", "delete", true, "delete"},
		{"delete,compact", "compact", false, "delete"},
		{"delete,compact", "delete", false, "compact"},
		{"delete", "compact", false, "delete"},
		{"", "compact", true, "compact"},
		{"delete", "", true, "delete"},
		{" delete , compact ", "compact", false, "delete"},
		{"a,b", "c, d,a", true, "a,b,c,d"},
		{"a,b,c", "a,c", false, "b"},
		{"a", "a", false, ""},
	}
	for _, tc := range tests {
		if got := editList(tc.base, tc.val, tc.add); got != tc.want {
			t.Errorf("editList(%q, %q, add=%v) = %q, want %q", tc.base, tc.val, tc.add, got, tc.want)
		}
	}
}

func op(name string, o kmsg.IncrementalAlterConfigOp, value *string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = name, o, value
	return c
}

// TestApplyConfigOps covers IncrementalAlterConfigs' SET, DELETE, APPEND and
// SUBTRACT (KIP-339), including APPEND on a setting not set yet (it starts
// from the built-in default, as Kafka's ConfigAdminManager does).
func TestApplyConfigOps(t *testing.T) {
	s := strPtr
	tests := []struct {
		name  string
		cur   map[string]string
		ops   []kmsg.IncrementalAlterConfigsRequestResourceConfig
		topic bool
		want  map[string]string
		code  int16
	}{
		{"set", map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("retention.ms", kmsg.IncrementalAlterConfigOpSet, s("1000"))}, true,
			map[string]string{"retention.ms": "1000"}, 0},
		{"set keeps others", map[string]string{"segment.ms": "5"}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("retention.ms", kmsg.IncrementalAlterConfigOpSet, s("1000"))}, true,
			map[string]string{"retention.ms": "1000", "segment.ms": "5"}, 0},
		{"delete", map[string]string{"retention.ms": "1000", "segment.ms": "5"}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("retention.ms", kmsg.IncrementalAlterConfigOpDelete, nil)}, true,
			map[string]string{"segment.ms": "5"}, 0},
		{"delete absent", map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("retention.ms", kmsg.IncrementalAlterConfigOpDelete, nil)}, true,
			map[string]string{}, 0},
		{"append to default", map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, s("compact"))}, true,
			map[string]string{"cleanup.policy": "delete,compact"}, 0},
		{"subtract", map[string]string{"cleanup.policy": "delete,compact"}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, s("delete"))}, true,
			map[string]string{"cleanup.policy": "compact"}, 0},
		{"ops apply in order", map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("cleanup.policy", kmsg.IncrementalAlterConfigOpSet, s("compact")),
			op("cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, s("delete")),
			op("retention.ms", kmsg.IncrementalAlterConfigOpSet, s("7")),
			op("retention.ms", kmsg.IncrementalAlterConfigOpDelete, nil)}, true,
			map[string]string{"cleanup.policy": "compact,delete"}, 0},
		{"append to a non-list", map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("retention.ms", kmsg.IncrementalAlterConfigOpAppend, s("1"))}, true,
			nil, kerr.InvalidConfig.Code},
		{"unknown topic config", map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("retention.hours", kmsg.IncrementalAlterConfigOpSet, s("1"))}, true,
			nil, kerr.InvalidConfig.Code},
		{"broker name on a topic", map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("log.retention.ms", kmsg.IncrementalAlterConfigOpSet, s("1"))}, true,
			nil, kerr.InvalidConfig.Code},
		{"broker set", map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("log.retention.ms", kmsg.IncrementalAlterConfigOpSet, s("1"))}, false,
			map[string]string{"log.retention.ms": "1"}, 0},
		{"broker append", map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("log.cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, s("compact"))}, false,
			map[string]string{"log.cleanup.policy": "delete,compact"}, 0},
		{"topic name on a broker", map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("retention.ms", kmsg.IncrementalAlterConfigOpSet, s("1"))}, false,
			nil, kerr.InvalidConfig.Code},
		{"unknown operation", map[string]string{}, []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			op("retention.ms", kmsg.IncrementalAlterConfigOp(9), s("1"))}, true,
			nil, kerr.InvalidRequest.Code},
	}
	for _, tc := range tests {
		got, err := applyConfigOps(tc.cur, tc.ops, tc.topic)
		code, msg := errorCode(err)
		if code != tc.code {
			t.Errorf("%s: error %v (code %d), want code %d", tc.name, err, code, tc.code)
			continue
		}
		if code != 0 {
			var ce *codeError
			if !errors.As(err, &ce) || msg == nil || *msg == "" {
				t.Errorf("%s: error %v carries no message", tc.name, err)
			}
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestBrokerBoolAnyCase: a broker setting of "FALSE" switches the feature
// off, as Kafka parses booleans case-insensitively.
func TestBrokerBoolAnyCase(t *testing.T) {
	b := &Broker{cfg: Config{Defaults: map[string]string{"auto.create.topics.enable": "FALSE", "delete.topic.enable": "True"}}}
	if b.brokerBool(nil, "auto.create.topics.enable") {
		t.Fatal(`auto.create.topics.enable=FALSE read as true`)
	}
	if !b.brokerBool(nil, "delete.topic.enable") {
		t.Fatal(`delete.topic.enable=True read as false`)
	}
}
