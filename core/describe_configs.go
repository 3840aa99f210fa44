package core

// DescribeConfigs: v0-4
//
// Behavior: topic resources list every topic setting with its value and
// source (topic override, dynamic broker, dynamic cluster default, static
// flag, built-in default), with synonyms when asked (v1+) and types and
// documentation (v3+). Broker resources take this broker's ID (every
// setting as this broker resolves it) or "" (every setting as the cluster
// resolves it: a dynamic cluster default where one is set, otherwise this
// broker's static value or the built-in default; Kafka lists only the
// dynamic defaults there, which leaves tools such as kadm's
// DescribeBrokerConfigs() with nothing to show). Both also list every
// Kafka 4 config Jocko does not act on (kafka_configs.go), read-only at
// Kafka's default, password configs as sensitive with no value.

import (
	"context"
	"sort"
	"strconv"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeConfigs, 0, 4, (*Broker).handleDescribeConfigs) }

func (b *Broker) handleDescribeConfigs(_ context.Context, r *request) reply {
	req := r.msg.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	st := b.node.State()
	for _, rr := range req.Resources {
		out := kmsg.NewDescribeConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []configEntry
		var err error
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			entries, err = b.topicEntries(st, rr.ResourceName)
		case kmsg.ConfigResourceTypeBroker:
			entries, err = b.brokerEntries(st, rr.ResourceName)
		default:
			err = codeErr(kerr.InvalidRequest.Code, "unsupported resource type "+strconv.Itoa(int(rr.ResourceType)))
		}
		out.ErrorCode, out.ErrorMessage = errorCode(err)
		for _, e := range filterEntries(entries, rr.ConfigNames) {
			out.Configs = append(out.Configs, e.describe(req.Version, req.IncludeSynonyms, req.IncludeDocumentation))
		}
		resp.Resources = append(resp.Resources, out)
	}
	return reply{resp: resp}
}

// configEntry is one resolved setting with the chain it was resolved from.
type configEntry struct {
	name      string
	def       *configDef
	value     string
	null      bool // the value is null (Kafka defaults such as log.dirs')
	sensitive bool // a password: Kafka never shows its value
	catalog   bool // a Kafka config Jocko does not act on: read-only
	source    int8
	synonyms  []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
}

func (e configEntry) describe(version int16, synonyms, docs bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value, c.Source = e.name, strPtr(e.value), kmsg.ConfigSource(e.source)
	if e.null || e.sensitive {
		c.Value = nil
	}
	c.IsSensitive = e.sensitive
	c.ReadOnly = !e.def.dynamic || e.catalog
	c.IsDefault = e.source == sourceDefault
	c.ConfigType = e.def.typ
	if docs {
		c.Documentation = strPtr(e.def.doc)
	}
	if synonyms && version >= 1 {
		c.ConfigSynonyms = e.synonyms
	}
	return c
}

func (b *Broker) topicEntries(st *cluster.State, name string) ([]configEntry, error) {
	t, ok := st.Topic(name)
	if !ok {
		return nil, codeErr(kerr.UnknownTopicOrPartition.Code, "topic "+name+" does not exist")
	}
	var out []configEntry
	for _, n := range describedTopicNames() {
		d, ok := topicDefs[n]
		if !ok {
			out = append(out, catalogEntry(kafkaTopicConfigs[n], true))
			continue
		}
		e := configEntry{name: n, def: d}
		e.value, e.source = b.topicSetting(st, t, n)
		if n == "retention.bytes" {
			// The effective per-partition limit, with the topic budget
			// it came from as its first synonym.
			tb, tbSrc := b.topicSetting(st, t, "retention.topic.bytes")
			pb, _ := strconv.ParseInt(e.value, 10, 64)
			tbn, _ := strconv.ParseInt(tb, 10, 64)
			if v, fromBudget := effectiveRetentionBytes(pb, tbn, len(t.Partitions)); fromBudget {
				e.value, e.source = strconv.FormatInt(v, 10), tbSrc
				e.synonyms = append(e.synonyms, synonym("retention.topic.bytes", tb, tbSrc))
			}
		}
		if v, ok := t.Configs[n]; ok {
			e.synonyms = append(e.synonyms, synonym(n, v, sourceTopic))
		}
		e.synonyms = append(e.synonyms, b.brokerSynonyms(st, d)...)
		out = append(out, e)
	}
	return out, nil
}

func (b *Broker) brokerEntries(st *cluster.State, name string) ([]configEntry, error) {
	if name != "" && name != strconv.Itoa(int(b.cfg.NodeID)) {
		id, err := strconv.Atoi(name)
		if _, ok := st.Brokers[int32(id)]; err != nil || !ok {
			return nil, codeErr(kerr.InvalidRequest.Code, "broker resource name must be empty or a broker ID, got "+strconv.Quote(name))
		}
	}
	var out []configEntry
	for _, n := range describedBrokerNames() {
		d, ok := brokerDefs[n]
		if !ok {
			if k, ok := catalogOnly(n, false); ok {
				out = append(out, catalogEntry(k, false))
			}
			continue
		}
		e := configEntry{name: n, def: d}
		if name == "" {
			e.value, e.source = b.clusterSetting(st, n)
			e.synonyms = b.clusterSynonyms(st, d)
		} else {
			e.value, e.source = b.brokerSetting(st, n)
			e.synonyms = b.brokerSynonyms(st, d)
		}
		out = append(out, e)
	}
	return out, nil
}

// catalogEntry describes a Kafka config Jocko does not act on: Kafka's
// default, with the broker config a topic config inherits as its synonym.
func catalogEntry(k *kafkaConfig, topic bool) configEntry {
	d := catalogDef(k, topic)
	e := configEntry{name: k.name, def: d, value: d.def, null: k.def == nil, sensitive: k.sensitive(), catalog: true, source: sourceDefault}
	if d.broker != "" {
		s := synonym(d.broker, d.def, sourceDefault)
		if e.null || e.sensitive {
			s.Value = nil
		}
		e.synonyms = append(e.synonyms, s)
	}
	return e
}

// describedTopicNames lists the topic configs Jocko acts on and the rest
// of Kafka's, sorted.
func describedTopicNames() []string {
	return mergedNames(topicDefs, kafkaTopicConfigs)
}

// describedBrokerNames lists the broker configs Jocko acts on and the rest
// of Kafka 4's, sorted.
func describedBrokerNames() []string {
	return mergedNames(brokerDefs, kafkaBrokerConfigs)
}

func mergedNames(defs map[string]*configDef, catalog map[string]*kafkaConfig) []string {
	names := sortedKeys(defs)
	for n := range catalog {
		if _, ok := defs[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// clusterSetting resolves a broker-level setting for the cluster-wide
// resource: the dynamic cluster default, this broker's static value, then
// the built-in default.
func (b *Broker) clusterSetting(st *cluster.State, name string) (string, int8) {
	if v, ok := st.BrokerConfigs[name]; ok {
		return v, sourceDynamicDef
	}
	if v, ok := b.cfg.Defaults[name]; ok {
		return v, sourceStatic
	}
	if derive := derivedDefaults[name]; derive != nil {
		return derive(st), sourceDefault
	}
	return brokerDefs[name].def, sourceDefault
}

// clusterSynonyms is brokerSynonyms without this broker's own dynamic value.
func (b *Broker) clusterSynonyms(st *cluster.State, d *configDef) []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	var out []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
	for _, s := range b.brokerSynonyms(st, d) {
		if s.Source != kmsg.ConfigSourceDynamicBrokerConfig {
			out = append(out, s)
		}
	}
	return out
}

// brokerSynonyms lists where a broker-level value could come from, most
// specific first, as Kafka's DescribeConfigs synonyms do.
func (b *Broker) brokerSynonyms(st *cluster.State, d *configDef) []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	var out []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
	if v, ok := st.BrokerConfigs[brokerKey(b.cfg.NodeID, d.broker)]; ok {
		out = append(out, synonym(d.broker, v, sourceDynamicBroker))
	}
	if v, ok := st.BrokerConfigs[d.broker]; ok {
		out = append(out, synonym(d.broker, v, sourceDynamicDef))
	}
	if v, ok := b.cfg.Defaults[d.broker]; ok {
		out = append(out, synonym(d.broker, v, sourceStatic))
	}
	return append(out, synonym(d.broker, d.def, sourceDefault))
}

func synonym(name, value string, source int8) kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
	s.Name, s.Value, s.Source = name, strPtr(value), kmsg.ConfigSource(source)
	return s
}

func filterEntries(entries []configEntry, names []string) []configEntry {
	if names == nil {
		return entries
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []configEntry
	for _, e := range entries {
		if want[e.name] {
			out = append(out, e)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
