package core

// DescribeClientQuotas: v0-1; AlterClientQuotas: v0-1 (KIP-546).
//
// Behavior: quotas are set per entity: a user, a client ID, a user and a
// client ID, or an IP address, each name possibly the default entity (a
// null name). Users and client IDs take producer_byte_rate,
// consumer_byte_rate (whole bytes per second), request_percentage and
// controller_mutation_rate; IPs take connection_creation_rate (a whole
// number). A value must be positive; an unknown entity type or key, a
// duplicate, an IP combined with a user or client ID, a malformed IP or a
// bad value is INVALID_REQUEST with a message saying which, for that entry
// only: the valid entries of a request are stored together through the
// metadata Raft (cluster.AlterClientQuotas, forwarded to the controller
// like every metadata change), so every broker sees them and they survive
// restarts. ValidateOnly checks without storing. Describe matches each
// filter component exactly (a name), to the default entity, or to any
// entity of the type, and with strict an entity must have no other
// component, as Kafka's ClientQuotaMetadataManager does; a bad filter is a
// top-level INVALID_REQUEST. Only the two byte rates are enforced
// (quota_enforce.go); the others are stored and described.

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
	"github.com/jocko/jocko/core/quota"
)

func init() {
	register(kmsg.DescribeClientQuotas, 0, 1, (*Broker).handleDescribeClientQuotas)
	register(kmsg.AlterClientQuotas, 0, 1, (*Broker).handleAlterClientQuotas)
}

// quotaKeys lists the keys each entity type takes, and whether a value
// must be a whole number.
var quotaKeys = map[string]map[string]bool{
	quota.User: {quota.ProducerByteRate: true, quota.ConsumerByteRate: true,
		quota.RequestPercentage: false, quota.ControllerMutationRate: false},
	quota.IP: {quota.ConnectionCreationRate: true},
}

func init() { quotaKeys[quota.ClientID] = quotaKeys[quota.User] }

func invalidRequest(format string, args ...any) error {
	return codeErr(kerr.InvalidRequest.Code, fmt.Sprintf(format, args...))
}

// checkQuotaEntity validates an entity's shape.
func checkQuotaEntity(parts []quota.Part) error {
	if len(parts) == 0 {
		return invalidRequest("invalid empty client quota entity")
	}
	seen := map[string]bool{}
	for _, p := range parts {
		if _, ok := quotaKeys[p.Type]; !ok {
			return invalidRequest("unhandled client quota entity type %q (user, client-id and ip are)", p.Type)
		}
		if seen[p.Type] {
			return invalidRequest("entity type %s is given twice", p.Type)
		}
		seen[p.Type] = true
		if p.Type == quota.IP && p.Name != nil {
			if _, err := netip.ParseAddr(*p.Name); err != nil {
				return invalidRequest("%q is not a valid IP address", *p.Name)
			}
		}
	}
	if seen[quota.IP] && len(parts) > 1 {
		return invalidRequest("an ip entity cannot be combined with user or client-id")
	}
	return nil
}

// checkQuotaOps validates an entry's operations for its entity type.
func checkQuotaOps(typ string, ops []kmsg.AlterClientQuotasRequestEntryOp) error {
	seen := map[string]bool{}
	for _, op := range ops {
		whole, ok := quotaKeys[typ][op.Key]
		switch {
		case !ok:
			return invalidRequest("unknown quota key %q for a %s entity", op.Key, typ)
		case seen[op.Key]:
			return invalidRequest("quota key %s is given twice", op.Key)
		case op.Remove:
		case math.IsNaN(op.Value) || math.IsInf(op.Value, 0) || op.Value <= 0:
			return invalidRequest("quota %s = %v: the value must be positive", op.Key, op.Value)
		case whole && (op.Value != math.Trunc(op.Value) || op.Value > math.MaxInt64):
			return invalidRequest("quota %s = %v: the value must be a whole number", op.Key, op.Value)
		}
		seen[op.Key] = true
	}
	return nil
}

func (b *Broker) handleAlterClientQuotas(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.AlterClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	var cmd cluster.AlterClientQuotas
	var applied []int // the response entries cmd carries
	for _, e := range req.Entries {
		out := kmsg.NewAlterClientQuotasResponseEntry()
		parts := make([]quota.Part, 0, len(e.Entity))
		for _, p := range e.Entity {
			parts = append(parts, quota.Part{Type: p.Type, Name: p.Name})
			oe := kmsg.NewAlterClientQuotasResponseEntryEntity()
			oe.Type, oe.Name = p.Type, p.Name
			out.Entity = append(out.Entity, oe)
		}
		err := checkQuotaEntity(parts)
		if err == nil {
			err = checkQuotaOps(parts[0].Type, e.Ops)
		}
		out.ErrorCode, out.ErrorMessage = errorCode(err)
		resp.Entries = append(resp.Entries, out)
		if err != nil || len(e.Ops) == 0 {
			continue
		}
		alt := cluster.QuotaAlteration{Entity: quota.Key(parts), Set: map[string]float64{}}
		for _, op := range e.Ops {
			if op.Remove {
				alt.Remove = append(alt.Remove, op.Key)
			} else {
				alt.Set[op.Key] = op.Value
			}
		}
		cmd.Entities = append(cmd.Entities, alt)
		applied = append(applied, len(resp.Entries)-1)
	}
	if len(cmd.Entities) > 0 && !req.ValidateOnly {
		if err := b.propose(ctx, cmd); err != nil {
			for _, i := range applied {
				resp.Entries[i].ErrorCode, resp.Entries[i].ErrorMessage = errorCode(err)
			}
		} else {
			b.log.Info("client quotas altered", "entities", len(cmd.Entities))
		}
	}
	return reply{resp: resp}
}

// quotaFilter is a validated DescribeClientQuotas filter component.
type quotaFilter struct {
	typ  string
	kind kmsg.QuotasMatchType // 0 exact, 1 default, 2 any
	name string
}

func parseQuotaFilter(req *kmsg.DescribeClientQuotasRequest) ([]quotaFilter, error) {
	var fs []quotaFilter
	for _, c := range req.Components {
		if _, ok := quotaKeys[c.EntityType]; !ok {
			return nil, invalidRequest("unhandled client quota entity type %q (user, client-id and ip are)", c.EntityType)
		}
		if slices.ContainsFunc(fs, func(f quotaFilter) bool { return f.typ == c.EntityType }) {
			return nil, invalidRequest("entity type %s is filtered twice", c.EntityType)
		}
		f := quotaFilter{typ: c.EntityType, kind: c.MatchType}
		switch c.MatchType {
		case 0:
			if c.Match == nil {
				return nil, invalidRequest("an exact match on %s needs a name", c.EntityType)
			}
			f.name = *c.Match
		case 1, 2:
			if c.Match != nil {
				return nil, invalidRequest("match type %d on %s takes no name", c.MatchType, c.EntityType)
			}
		default:
			return nil, invalidRequest("unknown match type %d", c.MatchType)
		}
		fs = append(fs, f)
	}
	ip := slices.ContainsFunc(fs, func(f quotaFilter) bool { return f.typ == quota.IP })
	if ip && len(fs) > 1 {
		return nil, invalidRequest("an ip filter cannot be combined with user or client-id")
	}
	return fs, nil
}

// quotaMatches reports whether an entity passes the filter.
func quotaMatches(parts []quota.Part, fs []quotaFilter, strict bool) bool {
	if strict && len(parts) != len(fs) {
		return false
	}
	for _, f := range fs {
		i := slices.IndexFunc(parts, func(p quota.Part) bool { return p.Type == f.typ })
		if i < 0 {
			return false
		}
		name := parts[i].Name
		switch {
		case f.kind == 0 && (name == nil || *name != f.name):
			return false
		case f.kind == 1 && name != nil:
			return false
		}
	}
	return true
}

func (b *Broker) handleDescribeClientQuotas(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	fs, err := parseQuotaFilter(req)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err)
		return reply{resp: resp}
	}
	quotas := b.node.State().ClientQuotas
	keys := make([]string, 0, len(quotas))
	for k := range quotas {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts, err := quota.Parse(k)
		if err != nil || !quotaMatches(parts, fs, req.Strict) {
			continue
		}
		e := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, p := range parts {
			pe := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			pe.Type, pe.Name = p.Type, p.Name
			e.Entity = append(e.Entity, pe)
		}
		names := make([]string, 0, len(quotas[k]))
		for n := range quotas[k] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = n, quotas[k][n]
			e.Values = append(e.Values, v)
		}
		resp.Entries = append(resp.Entries, e)
	}
	return reply{resp: resp}
}
