package core

// IncrementalAlterConfigs: v0-1
//
// Behavior: applies SET, DELETE, APPEND and SUBTRACT operations to a
// resource's dynamic settings (APPEND and SUBTRACT only on list settings
// such as cleanup.policy), validates the result and applies it as one
// metadata change. ValidateOnly checks without changing anything.

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.IncrementalAlterConfigs, 0, 1, (*Broker).handleIncrementalAlterConfigs) }

func (b *Broker) handleIncrementalAlterConfigs(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		out := kmsg.NewIncrementalAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		ops := rr.Configs
		err := b.alterConfigs(ctx, rr.ResourceType, rr.ResourceName, func(cur map[string]string) (map[string]string, error) {
			return applyConfigOps(cur, ops, rr.ResourceType == kmsg.ConfigResourceTypeTopic)
		}, req.ValidateOnly)
		out.ErrorCode, out.ErrorMessage = errorCode(err)
		resp.Resources = append(resp.Resources, out)
	}
	return reply{resp: resp}
}

func applyConfigOps(cur map[string]string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig, topic bool) (map[string]string, error) {
	for _, op := range ops {
		d := brokerDefs[op.Name]
		if topic {
			d = topicDefs[op.Name]
		}
		if k, ok := catalogOnly(op.Name, topic); d == nil && ok {
			d = catalogDef(k, topic) // refused or dropped when validated
		}
		if d == nil {
			return nil, codeErr(kerr.InvalidConfig.Code, "unknown config "+op.Name)
		}
		val := ""
		if op.Value != nil {
			val = *op.Value
		}
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			cur[op.Name] = val
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(cur, op.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if d.typ != kmsg.ConfigTypeList {
				return nil, codeErr(kerr.InvalidConfig.Code, op.Name+" is not a list; APPEND and SUBTRACT need a list setting")
			}
			base, ok := cur[op.Name]
			if !ok {
				base = d.def
			}
			cur[op.Name] = editList(base, val, op.Op == kmsg.IncrementalAlterConfigOpAppend)
		default:
			return nil, codeErr(kerr.InvalidRequest.Code, "unknown config operation")
		}
	}
	return cur, nil
}

// editList appends or removes the comma-separated items of val.
func editList(base, val string, add bool) string {
	var items []string
	have := map[string]bool{}
	for _, it := range strings.Split(base, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items, have[it] = append(items, it), true
		}
	}
	for _, it := range strings.Split(val, ",") {
		it = strings.TrimSpace(it)
		switch {
		case it == "":
		case add && !have[it]:
			items, have[it] = append(items, it), true
		case !add && have[it]:
			for i := range items {
				if items[i] == it {
					items = append(items[:i], items[i+1:]...)
					break
				}
			}
			delete(have, it)
		}
	}
	return strings.Join(items, ",")
}
