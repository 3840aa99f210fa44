package core

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaConfigsTSV is the catalog of every topic and broker config Kafka 4
// describes, generated from Kafka's own config documentation by
// kafka_configs_gen.go (which says how). configDefs is what Jocko acts
// on; the catalog is what a Kafka tool may ask about. DescribeConfigs
// answers a catalog name Jocko does not act on as read-only at Kafka's
// default, AlterConfigs refuses to change it, and `jocko broker --config`
// warns that it ignores it.
//
//go:embed kafka_configs.tsv
var kafkaConfigsTSV string

// kafkaConfig is one config of Kafka's catalog.
type kafkaConfig struct {
	name    string
	typ     kmsg.ConfigType
	def     *string // nil: Kafka's default is null
	mode    string  // broker configs: read-only, per-broker or cluster-wide
	synonym string  // topic configs: the broker config they inherit, if any
	doc     string
	// unlisted: a broker config DescribeConfigs does not list: Kafka's
	// internal ones, and Kafka 3's that Kafka 4 no longer has.
	unlisted bool
}

// sensitive reports whether Kafka hides the value (password configs).
func (k *kafkaConfig) sensitive() bool { return k.typ == kmsg.ConfigTypePassword }

var kafkaTopicConfigs, kafkaBrokerConfigs = parseKafkaConfigs(kafkaConfigsTSV)

var kafkaConfigTypes = map[string]kmsg.ConfigType{
	"boolean": kmsg.ConfigTypeBoolean, "string": kmsg.ConfigTypeString,
	"int": kmsg.ConfigTypeInt, "short": kmsg.ConfigTypeShort,
	"long": kmsg.ConfigTypeLong, "double": kmsg.ConfigTypeDouble,
	"list": kmsg.ConfigTypeList, "class": kmsg.ConfigTypeClass,
	"password": kmsg.ConfigTypePassword,
}

// parseKafkaConfigs reads the catalog; a malformed line is a build
// mistake, so it panics with the line.
func parseKafkaConfigs(text string) (topics, brokers map[string]*kafkaConfig) {
	topics, brokers = map[string]*kafkaConfig{}, map[string]*kafkaConfig{}
	for i, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			panic(fmt.Sprintf("kafka_configs.tsv:%d: want 7 fields, have %d", i+1, len(f)))
		}
		typ, ok := kafkaConfigTypes[f[2]]
		if !ok {
			panic(fmt.Sprintf("kafka_configs.tsv:%d: unknown type %q", i+1, f[2]))
		}
		k := &kafkaConfig{name: f[1], typ: typ, mode: f[4], synonym: f[5], doc: f[6]}
		if f[3] != `\N` {
			def := f[3]
			k.def = &def
		}
		switch f[0] {
		case "topic":
			topics[k.name] = k
		case "broker", "internal", "kafka3":
			k.unlisted = f[0] != "broker"
			brokers[k.name] = k
		default:
			panic(fmt.Sprintf("kafka_configs.tsv:%d: unknown scope %q", i+1, f[0]))
		}
	}
	return topics, brokers
}

// kafkaBrokerPrefixes are Kafka broker keys that are families, not names:
// per-listener settings, config providers, the remote storage plugins'
// own settings, and the ZooKeeper settings of Kafka 3 files.
var kafkaBrokerPrefixes = []string{"listener.name.", "config.providers", "rlmm.config.", "rsm.config.", "remote.log.metadata.", "sasl.", "share.coordinator.", "ssl.", "zookeeper."}

// IsKafkaBrokerConfig reports whether name is a Kafka broker config (Kafka
// 4's, or a Kafka 3 one that server.properties files still carry), whether
// Jocko acts on it or not.
func IsKafkaBrokerConfig(name string) bool {
	if _, ok := kafkaBrokerConfigs[name]; ok {
		return true
	}
	if _, ok := brokerDefs[name]; ok {
		return true
	}
	for _, p := range kafkaBrokerPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// KafkaBrokerConfigNames lists Kafka's broker config names, sorted.
func KafkaBrokerConfigNames() []string {
	names := make([]string, 0, len(kafkaBrokerConfigs))
	for n := range kafkaBrokerConfigs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// catalogDef is the configDef DescribeConfigs answers for a catalog
// config Jocko does not act on: read-only, Kafka's type and default, and
// Kafka's documentation with a note that Jocko ignores it.
func catalogDef(k *kafkaConfig, topic bool) *configDef {
	d := &configDef{broker: k.name, typ: k.typ, doc: k.doc + " (Jocko does not act on this config: it is read-only at Kafka's default.)"}
	if topic {
		d.topic, d.broker = k.name, k.synonym
	}
	if k.def != nil {
		d.def = *k.def
	}
	return d
}

// catalogOnly reports the catalog entry of a name Jocko does not act on.
func catalogOnly(name string, topic bool) (*kafkaConfig, bool) {
	if topic {
		if _, ok := topicDefs[name]; ok {
			return nil, false
		}
		k, ok := kafkaTopicConfigs[name]
		return k, ok
	}
	if _, ok := brokerDefs[name]; ok {
		return nil, false
	}
	k, ok := kafkaBrokerConfigs[name]
	if !ok || k.unlisted {
		return nil, false
	}
	return k, true
}

// notActedOn is AlterConfigs' and CreateTopics' error for setting a
// catalog config Jocko does not act on to anything but Kafka's default.
func notActedOn(k *kafkaConfig, value string) error {
	def := "null"
	if k.def != nil {
		def = *k.def
	}
	return fmt.Errorf("%s=%q: Jocko does not act on %s; it stays at Kafka's default %q (setting it to that default is accepted and changes nothing)", k.name, value, k.name, def)
}

// dropCatalogDefaults removes from a topic's configs the catalog configs
// Jocko does not act on that are set to Kafka's default (tools that copy a
// topic's described configs send them), and refuses any other value.
func dropCatalogDefaults(configs map[string]string) error {
	for _, n := range sortedKeys(configs) {
		k, ok := catalogOnly(n, true)
		if !ok {
			continue
		}
		if k.def == nil || configs[n] != *k.def {
			return notActedOn(k, configs[n])
		}
		delete(configs, n)
	}
	return nil
}

// IsTopicConfigActedOn reports whether Jocko acts on a topic config (the
// others of Kafka's catalog are described read-only at Kafka's defaults).
func IsTopicConfigActedOn(name string) bool {
	_, ok := topicDefs[name]
	return ok
}
