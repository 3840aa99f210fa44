package quota

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Entity types (Kafka's ClientQuotaEntity).
const (
	User     = "user"
	ClientID = "client-id"
	IP       = "ip"
)

// Quota keys (Kafka's QuotaConfigs).
const (
	ProducerByteRate       = "producer_byte_rate"
	ConsumerByteRate       = "consumer_byte_rate"
	RequestPercentage      = "request_percentage"
	ControllerMutationRate = "controller_mutation_rate"
	ConnectionCreationRate = "connection_creation_rate"
)

// Anonymous is the principal of every client: Jocko has no authentication.
const Anonymous = "ANONYMOUS"

// Part is one component of an entity: its type and name, nil for the
// default entity of that type.
type Part struct {
	Type string
	Name *string
}

const defaultName = "<default>"

// Key is the canonical form parts are stored under: sorted by type, each
// type=name with the name quoted, or type=<default>.
func Key(parts []Part) string {
	parts = slices.Clone(parts)
	slices.SortFunc(parts, func(a, b Part) int { return strings.Compare(a.Type, b.Type) })
	var sb strings.Builder
	for i, p := range parts {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(p.Type)
		sb.WriteByte('=')
		if p.Name == nil {
			sb.WriteString(defaultName)
		} else {
			sb.WriteString(strconv.Quote(*p.Name))
		}
	}
	return sb.String()
}

var errBadKey = errors.New("quota: malformed entity key")

// Parse is the inverse of Key.
func Parse(key string) ([]Part, error) {
	var parts []Part
	for rest := key; rest != ""; {
		typ, after, ok := strings.Cut(rest, "=")
		if !ok || typ == "" {
			return nil, errBadKey
		}
		p := Part{Type: typ}
		if strings.HasPrefix(after, defaultName) {
			rest = after[len(defaultName):]
		} else {
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				return nil, errBadKey
			}
			name, _ := strconv.Unquote(q)
			p.Name, rest = &name, after[len(q):]
		}
		parts = append(parts, p)
		if rest != "" {
			if rest[0] != ',' || len(rest) == 1 {
				return nil, errBadKey
			}
			rest = rest[1:]
		}
	}
	if len(parts) == 0 {
		return nil, errBadKey
	}
	return parts, nil
}

// Resolved is the quota that applies to a client and the sensor it is
// counted in: clients whose quota comes from the same entity share a
// sensor when that entity names no client ID (a user's quota covers all
// its clients), and each client ID has its own otherwise.
type Resolved struct {
	Bound  float64
	Sensor string // the sensor's key; "" when no quota applies
}

// Resolve finds the value of quota key k for (user, clientID) in quotas
// with Kafka's precedence (DefaultQuotaCallback):
//
//	/config/users/<user>/clients/<client-id>
//	/config/users/<user>/clients/<default>
//	/config/users/<user>
//	/config/users/<default>/clients/<client-id>
//	/config/users/<default>/clients/<default>
//	/config/users/<default>
//	/config/clients/<client-id>
//	/config/clients/<default>
func Resolve(quotas map[string]map[string]float64, user, clientID, k string) Resolved {
	if len(quotas) == 0 {
		return Resolved{}
	}
	u, c := &user, &clientID
	type cand struct {
		user, client *string
		hasU, hasC   bool
	}
	for _, cd := range []cand{
		{u, c, true, true}, {u, nil, true, true}, {u, nil, true, false},
		{nil, c, true, true}, {nil, nil, true, true}, {nil, nil, true, false},
		{nil, c, false, true}, {nil, nil, false, true},
	} {
		var parts []Part
		if cd.hasU {
			parts = append(parts, Part{Type: User, Name: cd.user})
		}
		if cd.hasC {
			parts = append(parts, Part{Type: ClientID, Name: cd.client})
		}
		v, ok := quotas[Key(parts)][k]
		if !ok {
			continue
		}
		// The sensor is per the names the matched entity covers.
		var tags []Part
		if cd.hasU {
			tags = append(tags, Part{Type: User, Name: u})
		}
		if cd.hasC {
			tags = append(tags, Part{Type: ClientID, Name: c})
		}
		return Resolved{Bound: v, Sensor: k + "|" + Key(tags)}
	}
	return Resolved{}
}
