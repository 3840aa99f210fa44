package core

// AlterConfigs: v0-2
//
// Behavior: replaces the whole set of dynamic settings of each resource with
// the given one (settings left out go back to their inherited value), as
// Kafka's non-incremental AlterConfigs does. Topic resources are topics;
// broker resources are "" (the cluster-wide default) or a broker ID. Every
// value is validated first. Read-only broker settings, Kafka's configs
// Jocko does not act on among them, are refused with INVALID_REQUEST
// "Cannot update these configs dynamically", as Kafka refuses its
// read-only ones. A topic config of Kafka's that Jocko does not act on
// (preallocate, remote.storage.enable, ...) is accepted at Kafka's default,
// which changes nothing and is not stored, and refused with INVALID_CONFIG
// at any other value, as Kafka refuses remote.storage.enable=true on a
// broker without tiered storage.
// ValidateOnly checks without changing anything.

import (
	"context"
	"strconv"
	"strings"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.AlterConfigs, 0, 2, (*Broker).handleAlterConfigs) }

func (b *Broker) handleAlterConfigs(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		out := kmsg.NewAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		set := map[string]string{}
		for _, c := range rr.Configs {
			if c.Value != nil {
				set[c.Name] = *c.Value
			}
		}
		err := b.alterConfigs(ctx, rr.ResourceType, rr.ResourceName, func(map[string]string) (map[string]string, error) {
			return set, nil
		}, req.ValidateOnly)
		out.ErrorCode, out.ErrorMessage = errorCode(err)
		resp.Resources = append(resp.Resources, out)
	}
	return reply{resp: resp}
}

// alterConfigs computes a resource's new dynamic settings with edit (which
// gets the current ones), validates them and applies them.
func (b *Broker) alterConfigs(ctx context.Context, typ kmsg.ConfigResourceType, name string, edit func(cur map[string]string) (map[string]string, error), validateOnly bool) error {
	st := b.node.State()
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		t, ok := st.Topic(name)
		if !ok {
			return codeErr(kerr.UnknownTopicOrPartition.Code, "topic "+name+" does not exist")
		}
		next, err := edit(copyMap(t.Configs))
		if err != nil {
			return err
		}
		if err := dropCatalogDefaults(next); err != nil {
			return codeErr(kerr.InvalidConfig.Code, err.Error())
		}
		for k, v := range next {
			if err := validateTopicConfig(k, v); err != nil {
				return codeErr(kerr.InvalidConfig.Code, err.Error())
			}
		}
		if err := checkTopicBudget(len(t.Partitions), b.topicSettingWith(st, next)); err != nil {
			return err
		}
		if validateOnly {
			return nil
		}
		// A merge of this request's changes, not a replacement: the
		// state read here may lag the controller's, and a replacement
		// would undo a change another broker just committed.
		return b.propose(ctx, cluster.AlterTopicConfigs{Topic: name, Set: next, Delete: removedKeys(t.Configs, next, "")})
	case kmsg.ConfigResourceTypeBroker:
		return b.alterBrokerConfigs(ctx, st, name, edit, validateOnly)
	default:
		return codeErr(kerr.InvalidRequest.Code, "unsupported resource type "+strconv.Itoa(int(typ)))
	}
}

func (b *Broker) alterBrokerConfigs(ctx context.Context, st *cluster.State, name string, edit func(map[string]string) (map[string]string, error), validateOnly bool) error {
	prefix := ""
	if name != "" {
		id, err := strconv.Atoi(name)
		if _, ok := st.Brokers[int32(id)]; err != nil || !ok {
			return codeErr(kerr.InvalidRequest.Code, "broker resource name must be empty or a broker ID, got "+strconv.Quote(name))
		}
		prefix = brokerKey(int32(id), "")
	}
	// A resource owns the plain keys (cluster default) or its "ID:" keys.
	belongs := func(k string) bool {
		if prefix == "" {
			return !strings.Contains(k, ":")
		}
		return strings.HasPrefix(k, prefix)
	}
	cur := map[string]string{}
	for k, v := range st.BrokerConfigs {
		if belongs(k) {
			cur[strings.TrimPrefix(k, prefix)] = v
		}
	}
	next, err := edit(copyMap(cur))
	if err != nil {
		return err
	}
	set := map[string]string{}
	for _, k := range sortedKeys(next) {
		v := next[k]
		d, ok := brokerDefs[k]
		if cat, isCat := catalogOnly(k, false); !ok && isCat {
			def := "null"
			if cat.def != nil {
				def = *cat.def
			}
			return codeErr(kerr.InvalidRequest.Code, "Cannot update these configs dynamically: ["+k+"]: Jocko does not act on "+k+"; it is read-only at Kafka's default "+strconv.Quote(def))
		}
		if !ok {
			return codeErr(kerr.InvalidConfig.Code, "unknown broker config "+strconv.Quote(k))
		}
		if !d.dynamic {
			return codeErr(kerr.InvalidRequest.Code, "Cannot update these configs dynamically: ["+k+"]: set it with a flag and restart")
		}
		if err := validateBrokerConfig(k, v); err != nil {
			return codeErr(kerr.InvalidConfig.Code, err.Error())
		}
		set[prefix+k] = v
	}
	if validateOnly {
		return nil
	}
	// A merge of this resource's changes (see alterConfigs).
	return b.propose(ctx, cluster.AlterBrokerConfigs{Set: set, Delete: removedKeys(cur, next, prefix)})
}

// removedKeys lists, with prefix, the keys of cur that next no longer has,
// in order.
func removedKeys(cur, next map[string]string, prefix string) []string {
	var out []string
	for _, k := range sortedKeys(cur) {
		if _, ok := next[k]; !ok {
			out = append(out, prefix+k)
		}
	}
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
