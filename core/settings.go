package core

import (
	"strconv"
	"strings"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/storage"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config sources as DescribeConfigs reports them.
const (
	sourceTopic         = int8(kmsg.ConfigSourceDynamicTopicConfig)
	sourceDynamicBroker = int8(kmsg.ConfigSourceDynamicBrokerConfig)
	sourceDynamicDef    = int8(kmsg.ConfigSourceDynamicDefaultBrokerConfig)
	sourceStatic        = int8(kmsg.ConfigSourceStaticBrokerConfig)
	sourceDefault       = int8(kmsg.ConfigSourceDefaultConfig)
)

// brokerKey is how a per-broker dynamic setting is stored in the cluster
// metadata; cluster-wide defaults are stored under their plain name.
func brokerKey(id int32, name string) string {
	return strconv.Itoa(int(id)) + ":" + name
}

// brokerSetting resolves a broker-level setting: this broker's dynamic value,
// the cluster-wide dynamic default, the static value from flags, then the
// built-in default.
func (b *Broker) brokerSetting(st *cluster.State, name string) (string, int8) {
	if st != nil {
		if v, ok := st.BrokerConfigs[brokerKey(b.cfg.NodeID, name)]; ok {
			return v, sourceDynamicBroker
		}
		if v, ok := st.BrokerConfigs[name]; ok {
			return v, sourceDynamicDef
		}
	}
	if v, ok := b.cfg.Defaults[name]; ok {
		return v, sourceStatic
	}
	if d, ok := brokerDefs[name]; ok {
		if derive := derivedDefaults[name]; derive != nil && st != nil {
			return derive(st), sourceDefault
		}
		return d.def, sourceDefault
	}
	return "", sourceDefault
}

// derivedDefaults are built-in defaults that depend on the cluster. The
// replication factors default to min(3, live brokers): a cluster of one
// works out of the box, and a cluster of three or more gets Kafka's
// production setting (internal topics created while the cluster was
// smaller are raised by the controller as brokers join).
var derivedDefaults = map[string]func(*cluster.State) string{
	"default.replication.factor":               defaultReplicationFactor,
	"offsets.topic.replication.factor":         defaultReplicationFactor,
	"transaction.state.log.replication.factor": defaultReplicationFactor,
	"transaction.state.log.min.isr":            func(st *cluster.State) string { return strconv.Itoa(max(1, min(2, liveBrokers(st)))) },
}

func defaultReplicationFactor(st *cluster.State) string {
	return strconv.Itoa(max(1, min(3, liveBrokers(st))))
}

// liveBrokers counts the registered brokers that are not fenced: the ones
// placement may use.
func liveBrokers(st *cluster.State) int {
	n := 0
	for _, br := range st.Brokers {
		if !br.Fenced {
			n++
		}
	}
	return n
}

// topicSetting resolves a topic-level setting: the topic's own value, then
// the broker-level setting it inherits.
func (b *Broker) topicSetting(st *cluster.State, t *cluster.Topic, name string) (string, int8) {
	if t != nil {
		if v, ok := t.Configs[name]; ok {
			return v, sourceTopic
		}
	}
	d := topicDefs[name]
	if d == nil {
		return "", sourceDefault
	}
	return b.brokerSetting(st, d.broker)
}

func (b *Broker) brokerInt(st *cluster.State, name string) int64 {
	v, _ := b.brokerSetting(st, name)
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func (b *Broker) brokerBool(st *cluster.State, name string) bool {
	v, _ := b.brokerSetting(st, name)
	return strings.EqualFold(v, "true")
}

// topicConfig is a topic's resolved, typed settings.
type topicConfig struct {
	storage         storage.Config
	flushMessages   int64
	flushMs         int64
	maxMessageBytes int64
	logAppendTime   bool
	tsBeforeMaxMs   int64
	tsAfterMaxMs    int64
	minISR          int64
	compression     string
	compact         bool    // cleanup.policy has compact
	deletes         bool    // cleanup.policy has delete: retention may delete old segments
	diskPercent     float64 // retention.disk.percent: the most of the file system the topic may use (-1: no cap)
	compactCfg      storage.CompactConfig
}

// minISR is a topic's min.insync.replicas; __transaction_state without
// its own takes transaction.state.log.min.isr, capped at its replicas so
// that a topic created on fewer brokers keeps accepting writes.
func (b *Broker) minISR(st *cluster.State, t *cluster.Topic, v int64) int64 {
	if t == nil || t.Name != transactionStateTopic {
		return v
	}
	if _, own := t.Configs["min.insync.replicas"]; own {
		return v
	}
	n := b.brokerInt(st, "transaction.state.log.min.isr")
	if len(t.Partitions) > 0 {
		n = min(n, int64(len(t.Partitions[0].Replicas)))
	}
	return max(1, n)
}

// durable reports whether acks=all waits for fsync.
func (c topicConfig) durable() bool { return c.flushMessages <= 1 }

func (b *Broker) resolveTopicConfig(st *cluster.State, t *cluster.Topic) topicConfig {
	get := func(name string) string { v, _ := b.topicSetting(st, t, name); return v }
	num := func(name string) int64 { n, _ := strconv.ParseInt(get(name), 10, 64); return n }
	sc := storage.DefaultConfig()
	sc.SegmentBytes = num("segment.bytes")
	sc.SegmentMs = num("segment.ms")
	sc.RetentionBytes = num("retention.bytes")
	if t != nil {
		sc.RetentionBytes, _ = effectiveRetentionBytes(sc.RetentionBytes, num("retention.topic.bytes"), len(t.Partitions))
	}
	sc.RetentionMs = num("retention.ms")
	sc.IndexIntervalBytes = int32(num("index.interval.bytes"))
	sc.SegmentIndexBytes = int32(num("segment.index.bytes"))
	policy := "," + strings.ReplaceAll(get("cleanup.policy"), " ", "") + ","
	if !strings.Contains(policy, ",delete,") {
		// Compacted-only topics keep everything but superseded keys.
		sc.RetentionMs, sc.RetentionBytes = -1, -1
	}
	ratio, _ := strconv.ParseFloat(get("min.cleanable.dirty.ratio"), 64)
	diskPercent, _ := strconv.ParseFloat(get("retention.disk.percent"), 64)
	return topicConfig{
		storage:         sc,
		flushMessages:   num("flush.messages"),
		flushMs:         num("flush.ms"),
		maxMessageBytes: num("max.message.bytes"),
		logAppendTime:   get("message.timestamp.type") == "LogAppendTime",
		tsBeforeMaxMs:   num("message.timestamp.before.max.ms"),
		tsAfterMaxMs:    num("message.timestamp.after.max.ms"),
		minISR:          b.minISR(st, t, num("min.insync.replicas")),
		compression:     get("compression.type"),
		compact:         strings.Contains(policy, ",compact,"),
		deletes:         strings.Contains(policy, ",delete,"),
		diskPercent:     diskPercent,
		compactCfg: storage.CompactConfig{
			DeleteRetentionMs:  num("delete.retention.ms"),
			MinCompactionLagMs: num("min.compaction.lag.ms"),
			MinCleanableRatio:  ratio,
		},
	}
}
