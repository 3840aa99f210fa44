package cluster

import (
	"fmt"
	"math"
)

// AlterClientQuotas sets and removes client quota values (KIP-546). Each
// entity is an opaque key the broker builds (core/quota.EntityKey); Set
// gives a key's new value, Remove the keys to drop. The broker validates
// names and values against Kafka's rules; the state machine checks only
// the shape, and applies the whole command or nothing.
type AlterClientQuotas struct {
	Entities []QuotaAlteration
}

// QuotaAlteration is one entity's changes in an AlterClientQuotas.
type QuotaAlteration struct {
	Entity string
	Set    map[string]float64 `json:",omitempty"`
	Remove []string           `json:",omitempty"`
}

func (AlterClientQuotas) commandTag() byte { return tagAlterClientQuotas }

// Limits on what the quota state holds.
const (
	quotaEntitiesMax  = 100_000
	quotaEntityLenMax = 4096
	quotaKeysMax      = 16
)

func applyAlterClientQuotas(s *State, c AlterClientQuotas) (*State, error) {
	next := s.shallowCopy()
	next.ClientQuotas = cloneMap(s.ClientQuotas)
	for _, a := range c.Entities {
		if a.Entity == "" || len(a.Entity) > quotaEntityLenMax {
			return nil, fmt.Errorf("%w: quota entity of %d bytes", ErrBadCommand, len(a.Entity))
		}
		vals := cloneMap(next.ClientQuotas[a.Entity])
		for _, k := range a.Remove {
			delete(vals, k)
		}
		for k, v := range a.Set {
			if k == "" || len(k) > 255 || !(v > 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: quota %q = %v for %q", ErrBadCommand, k, v, a.Entity)
			}
			vals[k] = v
		}
		if len(vals) > quotaKeysMax {
			return nil, fmt.Errorf("%w: %d quota keys for %q, above %d", ErrBadCommand, len(vals), a.Entity, quotaKeysMax)
		}
		if len(vals) == 0 {
			delete(next.ClientQuotas, a.Entity)
		} else {
			next.ClientQuotas[a.Entity] = vals
		}
	}
	if len(next.ClientQuotas) > quotaEntitiesMax {
		return nil, fmt.Errorf("%w: %d quota entities, above %d", ErrBadCommand, len(next.ClientQuotas), quotaEntitiesMax)
	}
	if len(next.ClientQuotas) == 0 {
		next.ClientQuotas = nil
	}
	return next, nil
}
