package core

// ApiVersions: v0-4
//
// Behavior: the table is built from every registered handler. A request with
// a version newer than v4 (or one that does not parse) is answered with a v0
// response carrying UNSUPPORTED_VERSION and the table, as KIP-511 asks, so
// the client retries with a version we serve. v3+ carries the supported
// and finalized features (features.go). Produce is advertised from v0
// although v0-2 are rejected (KAFKA-18659).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiVersionsKey = int16(kmsg.ApiVersions)

func init() { register(kmsg.ApiVersions, 0, 4, (*Broker).handleApiVersions) }

func (b *Broker) handleApiVersions(_ context.Context, r *request) reply {
	req := r.msg.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = apiVersionsTable()
	if req.Version >= 3 {
		addFeatures(b.node.State(), resp) // features.go
	}
	return reply{resp: resp}
}

func (b *Broker) apiVersionsUnsupported() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = apiVersionsTable()
	return resp
}

func apiVersionsTable() []kmsg.ApiVersionsResponseApiKey {
	var keys []kmsg.ApiVersionsResponseApiKey
	for _, a := range sortedAPIs() {
		if a.internal {
			continue
		}
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey = a.key
		k.MinVersion = a.advertisedMin
		k.MaxVersion = a.max
		keys = append(keys, k)
	}
	return keys
}
