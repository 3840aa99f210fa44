package core

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// configDef describes one Kafka configuration: its topic name (empty for
// broker-only settings), its broker name (the broker-level default a topic
// inherits, or the broker setting itself), its type, its default, and whether
// AlterConfigs may change it at run time.
type configDef struct {
	topic   string
	broker  string
	typ     kmsg.ConfigType
	def     string
	dynamic bool
	check   func(string) error
	doc     string
}

const longMax = "9223372036854775807"

// configDefs is the table of every setting Jocko understands. Jocko departs
// from Kafka's defaults in one place: flush.messages defaults to 1, so an
// acks=all produce is answered only once its batch is fsynced (group commit
// keeps that cheap). Setting it higher gives Kafka's page-cache behaviour.
var configDefs = []configDef{
	{"cleanup.policy", "log.cleanup.policy", kmsg.ConfigTypeList, "delete", true, oneOfList("delete", "compact"), "delete or compact old segments"},
	{"compression.type", "compression.type", kmsg.ConfigTypeString, "producer", true, oneOf("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"), "stored compression; producer keeps what the producer sent"},
	{"delete.retention.ms", "log.cleaner.delete.retention.ms", kmsg.ConfigTypeLong, "86400000", true, longAtLeast(0), "how long tombstones are kept on compacted topics"},
	{"file.delete.delay.ms", "log.segment.delete.delay.ms", kmsg.ConfigTypeLong, "60000", true, longAtLeast(0), "delay before deleting a file"},
	{"flush.messages", "log.flush.interval.messages", kmsg.ConfigTypeLong, "1", true, longAtLeast(1), "1 (Jocko's default): acks=all waits for fsync; higher: Kafka's page-cache acks with a background fsync"},
	{"flush.ms", "log.flush.interval.ms", kmsg.ConfigTypeLong, longMax, true, longAtLeast(0), "longest time data stays unsynced when flush.messages > 1"},
	{"index.interval.bytes", "log.index.interval.bytes", kmsg.ConfigTypeInt, "4096", true, intAtLeast(0), "bytes between offset index entries"},
	{"max.message.bytes", "message.max.bytes", kmsg.ConfigTypeInt, "1048588", true, intAtLeast(0), "largest record batch accepted"},
	{"message.timestamp.type", "log.message.timestamp.type", kmsg.ConfigTypeString, "CreateTime", true, oneOf("CreateTime", "LogAppendTime"), "CreateTime or LogAppendTime"},
	{"message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms", kmsg.ConfigTypeLong, longMax, true, longAtLeast(0), "how far in the past a record timestamp may be"},
	{"message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms", kmsg.ConfigTypeLong, "3600000", true, longAtLeast(0), "how far in the future a record timestamp may be"},
	{"min.insync.replicas", "min.insync.replicas", kmsg.ConfigTypeInt, "1", true, intAtLeast(1), "in-sync replicas needed to accept acks=all"},
	{"retention.bytes", "log.retention.bytes", kmsg.ConfigTypeLong, "-1", true, longAtLeast(-1), "partition size at which old segments are deleted; -1: no limit"},
	{"retention.topic.bytes", "log.retention.topic.bytes", kmsg.ConfigTypeLong, "-1", true, longAtLeast(-1), "bytes one replica of the whole topic keeps, shared equally by its partitions and recomputed when partitions are added; the smaller of a partition's share and retention.bytes applies; -1: no limit"},
	{"retention.disk.percent", "log.retention.disk.percent", kmsg.ConfigTypeDouble, "-1", true, percentIn(-1), "keep the data directory's file system under this percent of its capacity by deleting the oldest closed segments below the high watermark, from topics over their share first (per topic: the most of the file system that topic may use); -1: off"},
	{"retention.ms", "log.retention.ms", kmsg.ConfigTypeLong, "604800000", true, longAtLeast(-1), "age at which old segments are deleted; -1: no limit"},
	{"segment.bytes", "log.segment.bytes", kmsg.ConfigTypeInt, "1073741824", true, intAtLeast(14), "segment file size"},
	{"segment.index.bytes", "log.index.size.max.bytes", kmsg.ConfigTypeInt, "10485760", true, intAtLeast(8), "index file size"},
	{"segment.ms", "log.roll.ms", kmsg.ConfigTypeLong, "604800000", true, longAtLeast(1), "age at which a segment is rolled"},
	{"unclean.leader.election.enable", "unclean.leader.election.enable", kmsg.ConfigTypeBoolean, "false", true, isBool, "elect an out-of-sync replica (may lose data)"},
	{"min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", kmsg.ConfigTypeDouble, "0.5", true, ratio, "share of a compacted log that is dirty before cleaning"},
	{"min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", kmsg.ConfigTypeLong, "0", true, longAtLeast(0), "minimum age before a record may be compacted"},
	{"max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", kmsg.ConfigTypeLong, longMax, true, longAtLeast(1), "maximum age before a record is compacted"},
	{"", "auto.create.topics.enable", kmsg.ConfigTypeBoolean, "true", false, isBool, "create topics on first Metadata or Produce"},
	{"", "num.partitions", kmsg.ConfigTypeInt, "1", true, intAtLeast(1), "partitions of an auto-created topic"},
	{"", "default.replication.factor", kmsg.ConfigTypeInt, "3", true, intAtLeast(1), "replicas of a topic created without a replication factor (default: min(3, live brokers))"},
	{"", "delete.topic.enable", kmsg.ConfigTypeBoolean, "true", false, isBool, "allow DeleteTopics"},
	{"", "log.retention.check.interval.ms", kmsg.ConfigTypeLong, "300000", false, longAtLeast(1), "how often retention runs"},
	{"", "offsets.topic.num.partitions", kmsg.ConfigTypeInt, "50", false, intAtLeast(1), "partitions of __consumer_offsets"},
	{"", "offsets.topic.replication.factor", kmsg.ConfigTypeShort, "3", false, intAtLeast(1), "replicas of __consumer_offsets (default: min(3, live brokers); capped at the live brokers, raised as brokers join)"},
	{"", "transaction.state.log.replication.factor", kmsg.ConfigTypeShort, "3", false, intAtLeast(1), "replicas of __transaction_state (default: min(3, live brokers); raised as brokers join)"},
	{"", "transaction.state.log.num.partitions", kmsg.ConfigTypeInt, "50", false, intAtLeast(1), "partitions of __transaction_state (each one's leader coordinates the transactional ids that hash to it)"},
	{"", "transaction.state.log.min.isr", kmsg.ConfigTypeInt, "2", false, intAtLeast(1), "in-sync replicas a __transaction_state write needs (default: min(2, live brokers); never more than the partition's replicas)"},
	{"", "transaction.state.log.segment.bytes", kmsg.ConfigTypeInt, "104857600", false, intAtLeast(14), "segment size of __transaction_state (compacted)"},
	{"", "transaction.max.timeout.ms", kmsg.ConfigTypeInt, "900000", false, intAtLeast(1), "largest transaction.timeout.ms a producer may ask for (INVALID_TRANSACTION_TIMEOUT above it)"},
	{"", "transactional.id.expiration.ms", kmsg.ConfigTypeInt, "604800000", false, intAtLeast(1), "a transactional id with no transaction for this long is forgotten"},
	{"", "transaction.abort.timed.out.transaction.cleanup.interval.ms", kmsg.ConfigTypeInt, "10000", false, intAtLeast(1), "how often the coordinator aborts transactions open past their timeout"},
	{"", "transaction.remove.expired.transaction.cleanup.interval.ms", kmsg.ConfigTypeInt, "3600000", false, intAtLeast(1), "how often the coordinator forgets expired transactional ids"},
	{"", "auto.leader.rebalance.enable", kmsg.ConfigTypeBoolean, "true", true, isBool, "move leadership back to preferred replicas when a broker's imbalance is too high"},
	{"", "leader.imbalance.per.broker.percentage", kmsg.ConfigTypeInt, "10", true, intAtLeast(0), "share of a broker's preferred partitions it may not lead before leadership is moved back"},
	{"", "leader.imbalance.check.interval.seconds", kmsg.ConfigTypeLong, "300", true, longAtLeast(1), "how often the controller checks the leader imbalance"},
	{"", "offsets.topic.segment.bytes", kmsg.ConfigTypeInt, "104857600", false, intAtLeast(14), "segment size of __consumer_offsets (compacted)"},
	{"", "offsets.retention.check.interval.ms", kmsg.ConfigTypeLong, "600000", false, longAtLeast(1), "how often expired offsets are removed"},
	{"", "offsets.retention.minutes", kmsg.ConfigTypeInt, "10080", true, intAtLeast(1), "how long offsets of an empty group are kept"},
	{"", "group.initial.rebalance.delay.ms", kmsg.ConfigTypeInt, "3000", false, intAtLeast(0), "wait for more members before the first rebalance"},
	{"", "replica.lag.time.max.ms", kmsg.ConfigTypeLong, "30000", false, longAtLeast(1), "a follower that has not caught up for this long leaves the ISR"},
	{"", "replica.fetch.wait.max.ms", kmsg.ConfigTypeInt, "500", false, intAtLeast(0), "longest wait of a follower's fetch"},
	{"", "replica.fetch.max.bytes", kmsg.ConfigTypeInt, "1048576", false, intAtLeast(1), "bytes a follower fetches per partition"},
	{"", "replica.fetch.response.max.bytes", kmsg.ConfigTypeInt, "10485760", false, intAtLeast(0), "bytes a follower fetches per request"},
	{"", "broker.heartbeat.interval.ms", kmsg.ConfigTypeInt, "2000", false, intAtLeast(1), "how often a broker heartbeats to the controller"},
	{"", "broker.session.timeout.ms", kmsg.ConfigTypeInt, "9000", false, intAtLeast(1), "a broker whose heartbeats stop this long is fenced and loses its leaderships"},
	{"", "controller.voter.replace.ms", kmsg.ConfigTypeLong, "60000", false, longAtLeast(1), "a metadata voter silent this long is replaced by a live broker (it pulls the metadata as an observer until it is added again)"},
	{"", "max.connections", kmsg.ConfigTypeInt, "2147483647", true, intAtLeast(0), "most connections the broker keeps open (brokers' own included); one more is closed at once"},
	{"", "max.connections.per.ip", kmsg.ConfigTypeInt, "2147483647", true, intAtLeast(0), "most connections from one IP address; one more is closed at once"},
	{"", "connections.max.idle.ms", kmsg.ConfigTypeLong, "600000", true, longAtLeast(-1), "a connection with no request and no reply pending, or whose client reads no reply, for this long is closed; -1: never"},
	{"", "queued.max.request.bytes", kmsg.ConfigTypeLong, "268435456", true, longAtLeast(-1), "request bytes all connections together hold while their requests are read and handled; past it no new request is read until bytes are freed (Kafka: -1, no limit)"},
	{"", "fetch.max.bytes", kmsg.ConfigTypeInt, "57671680", true, intAtLeast(1024), "most bytes one Fetch response carries, whatever the client asks"},
	{"", "request.wait.max.ms", kmsg.ConfigTypeLong, "300000", true, longAtLeast(0), "longest a client may make a Fetch long poll (max_wait_ms) or an acks=all Produce (timeout_ms) wait; longer asks are cut to this"},
	{"", "log.disk.free.min.bytes", kmsg.ConfigTypeLong, "134217728", true, longAtLeast(0), "produce is refused (KAFKA_STORAGE_ERROR, retried by clients) while the data directory's file system has less free space than this, so fetch, replication and the metadata keep room (the default is at most 5% of a smaller file system); 0: off"},
	{"", "log.disk.free.min.percent", kmsg.ConfigTypeDouble, "0", true, percentIn(0), "as log.disk.free.min.bytes, in percent of the file system's capacity (both apply); 0: off"},
	{"", "log.scrub.bytes.per.second", kmsg.ConfigTypeLong, "1048576", true, longAtLeast(0), "how fast a background scrub re-reads every log to check its batches' CRCs; a replica found corrupt leaves the ISR, truncates to before the bad batch and fetches it again from the leader; 0: off"},
	{"", "producer.id.expiration.ms", kmsg.ConfigTypeInt, "86400000", true, intAtLeast(1), "an idempotent producer with no batch for this long (by its batches' timestamps) is forgotten; its next batch is accepted at any sequence"},
	{"", "group.min.session.timeout.ms", kmsg.ConfigTypeInt, "6000", false, intAtLeast(0), "smallest session timeout a member may ask for"},
	{"", "group.max.session.timeout.ms", kmsg.ConfigTypeInt, "1800000", false, intAtLeast(0), "largest session timeout a member may ask for"},
}

var topicDefs, brokerDefs = indexConfigDefs()

func indexConfigDefs() (map[string]*configDef, map[string]*configDef) {
	t, b := map[string]*configDef{}, map[string]*configDef{}
	for i := range configDefs {
		d := &configDefs[i]
		if d.topic != "" {
			t[d.topic] = d
		}
		b[d.broker] = d
	}
	return t, b
}

// validateTopicConfig checks a topic-level setting.
func validateTopicConfig(name, value string) error {
	d, ok := topicDefs[name]
	if !ok {
		return fmt.Errorf("unknown topic config %q", name)
	}
	if err := d.check(value); err != nil {
		return fmt.Errorf("topic config %s=%q: %v", name, value, err)
	}
	return nil
}

// validateBrokerConfig checks a broker-level setting.
func validateBrokerConfig(name, value string) error {
	d, ok := brokerDefs[name]
	if !ok {
		return fmt.Errorf("unknown broker config %q (known: %s)", name, strings.Join(brokerConfigNames(), ", "))
	}
	if err := d.check(value); err != nil {
		return fmt.Errorf("broker config %s=%q: %v", name, value, err)
	}
	return nil
}

func brokerConfigNames() []string {
	names := make([]string, 0, len(brokerDefs))
	for n := range brokerDefs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func oneOf(vals ...string) func(string) error {
	return func(v string) error {
		for _, w := range vals {
			if v == w {
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(vals, ", "))
	}
}

func oneOfList(vals ...string) func(string) error {
	one := oneOf(vals...)
	return func(v string) error {
		for _, p := range strings.Split(v, ",") {
			if err := one(strings.TrimSpace(p)); err != nil {
				return err
			}
		}
		return nil
	}
}

func longAtLeast(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		if n < min {
			return fmt.Errorf("want at least %d", min)
		}
		return nil
	}
}

// percentIn accepts a share of a capacity in percent, greater than 0 and
// at most 100, or one of off (the values that turn the setting off).
func percentIn(off ...float64) func(string) error {
	return func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err == nil && f > 0 && f <= 100 { // also refuses NaN
			return nil
		}
		for _, o := range off {
			if err == nil && f == o {
				return nil
			}
		}
		msg := "want a percent greater than 0 and at most 100"
		for _, o := range off {
			msg += ", or " + strconv.FormatFloat(o, 'g', -1, 64) + " for off"
		}
		return errors.New(msg)
	}
}

func intAtLeast(min int64) func(string) error {
	long := longAtLeast(min)
	return func(v string) error {
		if err := long(v); err != nil {
			return err
		}
		if n, _ := strconv.ParseInt(v, 10, 64); n > math.MaxInt32 {
			return fmt.Errorf("want at most %d", math.MaxInt32)
		}
		return nil
	}
}

// isBool accepts true and false in any case, as Kafka's ConfigDef does.
func isBool(v string) error {
	if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
		return fmt.Errorf("want true or false")
	}
	return nil
}

func ratio(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= 1) { // also refuses NaN
		return fmt.Errorf("want a number from 0 to 1")
	}
	return nil
}
