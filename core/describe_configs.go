package core

// DescribeConfigs: v0-4
//
// Behavior: topic resources list every topic setting with its value and
// source (topic override, dynamic broker, dynamic cluster default, static
// flag, built-in default), with synonyms when asked (v1+) and types and
// documentation (v3+). Broker resources take this broker's ID (every
// setting as this broker resolves it) or "" (only the cluster-wide dynamic
// defaults, as Kafka answers for its default resource).

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
	name     string
	def      *configDef
	value    string
	source   int8
	synonyms []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
}

func (e configEntry) describe(version int16, synonyms, docs bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value, c.Source = e.name, strPtr(e.value), kmsg.ConfigSource(e.source)
	c.ReadOnly = !e.def.dynamic
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
	for _, n := range sortedKeys(topicDefs) {
		d := topicDefs[n]
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
	if name == "" {
		// The cluster-wide default resource lists only the dynamic cluster
		// defaults, as Kafka's ConfigHelper does for the "" broker.
		for _, n := range sortedKeys(brokerDefs) {
			if v, ok := st.BrokerConfigs[n]; ok {
				e := configEntry{name: n, def: brokerDefs[n], value: v, source: sourceDynamicDef}
				e.synonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{synonym(n, v, sourceDynamicDef)}
				out = append(out, e)
			}
		}
		return out, nil
	}
	for _, n := range sortedKeys(brokerDefs) {
		d := brokerDefs[n]
		e := configEntry{name: n, def: d}
		e.value, e.source = b.brokerSetting(st, n)
		e.synonyms = b.brokerSynonyms(st, d)
		out = append(out, e)
	}
	return out, nil
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
