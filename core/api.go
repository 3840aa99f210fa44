package core

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// api is one Kafka API the broker serves: its version range and handler.
// Each handler file registers its own API in an init function, so the
// ApiVersions table is built from the handlers that exist and cannot drift.
type api struct {
	key      int16
	min, max int16
	// advertisedMin, if below min, is advertised but rejected: Produce
	// v0-2 (KAFKA-18659, librdkafka turns compression off otherwise).
	advertisedMin int16
	// internal APIs are those brokers send each other (Envelope for
	// forwarded commands, replication and the broker session): served, but
	// not advertised to clients in ApiVersions.
	internal bool
	fn       func(b *Broker, ctx context.Context, r *request) reply
}

var apis = map[int16]api{}

func register(key kmsg.Key, min, max int16, fn func(b *Broker, ctx context.Context, r *request) reply) {
	if _, dup := apis[int16(key)]; dup {
		panic("core: api registered twice: " + key.Name())
	}
	apis[int16(key)] = api{key: int16(key), min: min, max: max, advertisedMin: min, fn: fn}
}

// registerInternal registers an API that only brokers send each other.
func registerInternal(key kmsg.Key, min, max int16, fn func(b *Broker, ctx context.Context, r *request) reply) {
	register(key, min, max, fn)
	a := apis[int16(key)]
	a.internal = true
	apis[int16(key)] = a
}

// sortedAPIs lists the served APIs by key.
func sortedAPIs() []api {
	out := make([]api, 0, len(apis))
	for _, a := range apis {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}
