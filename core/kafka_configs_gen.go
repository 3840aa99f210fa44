//go:build ignore

// kafka_configs_gen.go writes kafka_configs.tsv, the catalog of Kafka 4's
// topic and broker configs (name, type, default, update mode, the topic
// config's broker synonym, documentation), from the configuration
// documentation that Kafka's build generates from its ConfigDefs
// (ConfigDef.toHtml: the apache/kafka-site repository's
// <version>/generated/kafka_config.html and topic_config.html), plus the
// changes between that version and Kafka 4.0 listed below, read from
// Kafka's source (apache/kafka trunk at 1eb7644, 4.0.0-SNAPSHOT:
// ShareCoordinatorConfig, ShareGroupConfig, RemoteLogManagerConfig,
// QuotaConfig) and Kafka 4.0's upgrade notes (KIP-724, KIP-937, KIP-1030,
// KIP-1041, KIP-830, the removal of ZooKeeper).
//
// It was run as:
//
//	git -C apache/kafka-site show 49c3013:39/generated/kafka_config.html >/tmp/kafka_config.html
//	git -C apache/kafka-site show 49c3013:39/generated/topic_config.html >/tmp/topic_config.html
//	go run kafka_configs_gen.go /tmp/kafka_config.html /tmp/topic_config.html >kafka_configs.tsv
package main

import (
	"bufio"
	"fmt"
	"html"
	"os"
	"regexp"
	"sort"
	"strings"
)

type entry struct {
	scope, name, typ, def, mode, synonym, doc string
}

const null = `\N`

// removed are the Kafka 3.9 names Kafka 4.0 no longer has. Broker names
// stay in the catalog as "kafka3" (a Kafka 3 server.properties still
// carries them; Jocko warns and ignores them, DescribeConfigs does not
// list them); topic names go. So do all zookeeper.* names.
var removed = map[string]string{
	"message.format.version":                  "KIP-724",
	"log.message.format.version":              "KIP-724",
	"message.timestamp.difference.max.ms":     "KIP-937",
	"log.message.timestamp.difference.max.ms": "KIP-937",
	"offsets.commit.required.acks":            "KIP-1041",
	"auto.include.jmx.reporter":               "KIP-830",
	"delegation.token.master.key":             "deprecated since 2.8",
	"broker.id.generation.enable":             "ZooKeeper",
	"reserved.broker.max.id":                  "ZooKeeper",
	"control.plane.listener.name":             "ZooKeeper",
	"controlled.shutdown.max.retries":         "ZooKeeper",
	"controlled.shutdown.retry.backoff.ms":    "ZooKeeper",
}

// changed are Kafka 4.0's new defaults (KIP-1030, KIP-848, KIP-830).
var changed = map[string]string{
	"num.recovery.threads.per.data.dir":              "2",
	"message.timestamp.after.max.ms":                 "3600000",
	"log.message.timestamp.after.max.ms":             "3600000",
	"remote.log.manager.thread.pool.size":            "2",
	"remote.log.manager.copier.thread.pool.size":     "10",
	"remote.log.manager.expiration.thread.pool.size": "10",
	"group.coordinator.rebalance.protocols":          "classic,consumer",
	"metric.reporters":                               "org.apache.kafka.common.metrics.JmxReporter",
}

// added are Kafka 4.0's broker configs that 3.9's documentation lacks,
// from the ConfigDefs named above.
var added = []entry{
	{"broker", "share.coordinator.state.topic.num.partitions", "int", "50", "read-only", "", "The number of partitions for the share-group state topic (should not change after deployment)."},
	{"broker", "share.coordinator.state.topic.replication.factor", "short", "3", "read-only", "", "Replication factor for the share-group state topic. Topic creation will fail until the cluster size meets this replication factor requirement."},
	{"broker", "share.coordinator.state.topic.min.isr", "short", "2", "read-only", "", "Overridden min.insync.replicas for the share-group state topic."},
	{"broker", "share.coordinator.state.topic.segment.bytes", "int", "104857600", "read-only", "", "The log segment size for the share-group state topic."},
	{"broker", "share.coordinator.threads", "int", "1", "read-only", "", "The number of threads used by the share coordinator."},
	{"broker", "share.coordinator.snapshot.update.records.per.snapshot", "int", "500", "read-only", "", "The number of update records the share coordinator writes between snapshot records."},
	{"broker", "share.coordinator.load.buffer.size", "int", "5242880", "read-only", "", "Batch size for reading from the share-group state topic when loading state information into the cache (soft-limit, overridden if records are too large)."},
	{"broker", "share.coordinator.state.topic.compression.codec", "int", "0", "read-only", "", "Compression codec for the share-group state topic."},
	{"broker", "share.coordinator.append.linger.ms", "int", "10", "read-only", "", "The duration in milliseconds that the share coordinator will wait for writes to accumulate before flushing them to disk."},
	{"broker", "share.coordinator.write.timeout.ms", "int", "5000", "read-only", "", "The duration in milliseconds that the share coordinator will wait for all replicas of the share-group state topic to receive a write."},
	{"broker", "share.fetch.purgatory.purge.interval.requests", "int", "1000", "read-only", "", "The purge interval (in number of requests) of the share fetch request purgatory"},
	{"broker", "remote.list.offsets.request.timeout.ms", "long", "30000", "cluster-wide", "", "The maximum amount of time the server will wait for the remote list offsets request to complete."},
	{"broker", "controller.quorum.auto.join.enable", "boolean", "false", "read-only", "", "Controls whether a KRaft controller should automatically join the cluster metadata partition for its cluster id."},
	{"broker", "controller.performance.sample.period.ms", "long", "60000", "read-only", "", "The number of milliseconds between periodic controller event performance log messages."},
	{"broker", "controller.performance.always.log.threshold.ms", "long", "2000", "read-only", "", "We will log an error message about controller events that take longer than this threshold."},
	{"broker", "leader.replication.throttled.rate", "long", "9223372036854775807", "per-broker", "", "A long representing the upper bound (bytes/sec) on replication traffic for leaders enumerated in the property leader.replication.throttled.replicas (for each topic). This property can be only set dynamically. It is suggested that the limit be kept above 1MB/s for accurate behaviour."},
	{"broker", "follower.replication.throttled.rate", "long", "9223372036854775807", "per-broker", "", "A long representing the upper bound (bytes/sec) on replication traffic for followers enumerated in the property follower.replication.throttled.replicas (for each topic). This property can be only set dynamically. It is suggested that the limit be kept above 1MB/s for accurate behaviour."},
	{"broker", "replica.alter.log.dirs.io.max.bytes.per.second", "long", "9223372036854775807", "per-broker", "", "A long representing the upper bound (bytes/sec) on disk IO used for moving replica between log directories on the same broker. This property can be only set dynamically. It is suggested that the limit be kept above 1MB/s for accurate behaviour."},
}

// internal are the broker configs Kafka defines as internal
// (ConfigDef.defineInternal): accepted in server.properties, never
// described.
var internal = []entry{
	{"internal", "add.partitions.to.txn.retry.backoff.max.ms", "int", "100", "read-only", "", ""},
	{"internal", "add.partitions.to.txn.retry.backoff.ms", "int", "20", "read-only", "", ""},
	{"internal", "group.consumer.migration.policy", "string", "bidirectional", "read-only", "", ""},
	{"internal", "group.share.enable", "boolean", "false", "read-only", "", ""},
	{"internal", "log.initial.task.delay.ms", "long", "30000", "read-only", "", ""},
	{"internal", "metadata.log.segment.min.bytes", "int", "8388608", "read-only", "", ""},
	{"internal", "producer.id.expiration.check.interval.ms", "int", "600000", "read-only", "", ""},
	{"internal", "remote.log.manager.task.retry.backoff.ms", "long", "500", "read-only", "", ""},
	{"internal", "remote.log.manager.task.retry.backoff.max.ms", "long", "30000", "read-only", "", ""},
	{"internal", "remote.log.manager.task.retry.jitter", "double", "0.2", "read-only", "", ""},
	{"internal", "server.max.startup.time.ms", "long", "9223372036854775807", "read-only", "", ""},
	{"internal", "share.fetch.max.fetch.records", "int", "2147483647", "read-only", "", ""},
	{"internal", "unclean.leader.election.interval.ms", "long", "300000", "read-only", "", ""},
	{"internal", "unstable.api.versions.enable", "boolean", "false", "read-only", "", ""},
	{"internal", "unstable.feature.versions.enable", "boolean", "false", "read-only", "", ""},
}

var (
	itemRE  = regexp.MustCompile(`(?s)<li>\s*<h4><a id="([^"]+)"></a>.*?</h4>\s*<p>(.*?)</p>\s*<table><tbody>(.*?)</tbody></table>`)
	rowRE   = regexp.MustCompile(`<tr><th>([^<]+):</th><td>(.*?)</td></tr>`)
	humanRE = regexp.MustCompile(`^(-?[0-9]+) \([^)]*\)$`)
	spaceRE = regexp.MustCompile(`\s+`)
)

func parse(path, scope string) []entry {
	text, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	var out []entry
	for _, m := range itemRE.FindAllStringSubmatch(string(text), -1) {
		e := entry{scope: scope, name: m[1], doc: strings.TrimSpace(spaceRE.ReplaceAllString(m[2], " "))}
		for _, r := range rowRE.FindAllStringSubmatch(m[3], -1) {
			v := html.UnescapeString(r[2])
			switch r[1] {
			case "Type":
				e.typ = v
			case "Default":
				e.def = defaultOf(v)
			case "Update Mode":
				e.mode = v
			case "Server Default Property":
				if v != "null" { // topic configs with no broker-level default
					e.synonym = v
				}
			}
		}
		if e.typ == "" {
			fail(fmt.Errorf("%s: %s has no type", path, e.name))
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		fail(fmt.Errorf("%s: no configs found", path))
	}
	return out
}

// defaultOf undoes toHtml's rendering of a default: null, "" for the
// empty string, and "604800000 (7 days)" for durations and sizes.
func defaultOf(v string) string {
	switch {
	case v == "null":
		return null
	case v == `""`:
		return ""
	}
	if m := humanRE.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return v
}

func main() {
	if len(os.Args) != 3 {
		fail(fmt.Errorf("usage: go run kafka_configs_gen.go kafka_config.html topic_config.html"))
	}
	all := append(parse(os.Args[1], "broker"), parse(os.Args[2], "topic")...)
	all = append(append(all, added...), internal...)
	var out []entry
	for _, e := range all {
		if d, ok := changed[e.name]; ok {
			e.def = d
		}
		if _, ok := removed[e.name]; ok || strings.HasPrefix(e.name, "zookeeper.") {
			if e.scope == "topic" {
				continue
			}
			e.scope = "kafka3"
		}
		if e.doc == "" && e.scope != "internal" {
			fail(fmt.Errorf("%s: no documentation", e.name))
		}
		if strings.ContainsAny(e.name+e.typ+e.def+e.mode+e.synonym+e.doc, "\t\n") {
			fail(fmt.Errorf("%s: a field holds a tab or newline", e.name))
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].scope != out[j].scope {
			return out[i].scope > out[j].scope // topic, kafka3, internal, broker
		}
		return out[i].name < out[j].name
	})
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "# Kafka 4's topic and broker configs: scope (topic, broker, internal: Kafka's internal broker configs, kafka3: broker configs Kafka 4 removed),")
	fmt.Fprintln(w, "# name, type, default (\\N: null), update mode, broker synonym, documentation.")
	fmt.Fprintln(w, "# Generated by kafka_configs_gen.go (see it for how); do not edit by hand.")
	for _, e := range out {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.scope, e.name, e.typ, e.def, e.mode, e.synonym, e.doc)
	}
	if err := w.Flush(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
