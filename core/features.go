package core

// UpdateFeatures: v0-2, and the features in ApiVersions v3+ (KIP-584).
//
// Behavior: the broker supports metadata.version from 7 (3.3-IV3, the
// oldest Kafka 4 accepts) to 25 (4.0-IV3), finalized at 25 until an
// UpdateFeatures sets another level; ApiVersions v3+ carries the supported
// range, the finalized levels and their epoch (the Raft index of the last
// change, 0 before any), so Kafka's Admin.describeFeatures works. Jocko
// keeps no metadata whose shape depends on metadata.version, so a
// downgrade loses nothing: it needs AllowDowngrade (v0) or an upgrade
// type other than UPGRADE (v1+), as Kafka asks. An unknown feature, a
// level outside the supported range, removing metadata.version or an
// unasked downgrade is INVALID_UPDATE_VERSION, a feature named twice
// INVALID_REQUEST; a request with any error changes nothing (Kafka's
// controller applies updates atomically). Levels are stored through the
// metadata Raft (cluster.UpdateFeatures), forwarded to the controller like
// every metadata change. ValidateOnly (v1+) checks without storing.

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/cluster"
)

func init() { register(kmsg.UpdateFeatures, 0, 2, (*Broker).handleUpdateFeatures) }

// supportedFeature is a feature this broker supports: its level range and
// the level finalized when none was set.
type supportedFeature struct {
	name     string
	min, max int16
	dflt     int16
}

var supportedFeatures = []supportedFeature{
	{name: "metadata.version", min: 7, max: 25, dflt: 25},
	transactionVersionFeature,
}

// transactionVersionFeature is Kafka's transaction.version: 0 and 1 are
// the classic protocol (1 writes flexible __transaction_state values),
// 2 KIP-890 part 2 (an epoch bump per transaction, partitions added by the
// produce itself).
var transactionVersionFeature = supportedFeature{name: "transaction.version", min: 0, max: 2, dflt: 2}

func findFeature(name string) (supportedFeature, bool) {
	i := slices.IndexFunc(supportedFeatures, func(f supportedFeature) bool { return f.name == name })
	if i < 0 {
		return supportedFeature{}, false
	}
	return supportedFeatures[i], true
}

// finalizedLevel is a feature's finalized level in st (0: none).
func finalizedLevel(st *cluster.State, f supportedFeature) int16 {
	if l, ok := st.Features[f.name]; ok {
		return l
	}
	return f.dflt
}

// addFeatures fills ApiVersions v3+'s tagged feature fields.
func addFeatures(st *cluster.State, resp *kmsg.ApiVersionsResponse) {
	resp.FinalizedFeaturesEpoch = st.FeaturesEpoch
	for _, f := range supportedFeatures {
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = f.name, f.min, f.max
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		if l := finalizedLevel(st, f); l > 0 {
			ff := kmsg.NewApiVersionsResponseFinalizedFeature()
			ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = f.name, l, l
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		}
	}
}

func (b *Broker) handleUpdateFeatures(ctx context.Context, r *request) reply {
	req := r.msg.(*kmsg.UpdateFeaturesRequest)
	resp := req.ResponseKind().(*kmsg.UpdateFeaturesResponse)
	st := b.node.State()
	levels := map[string]int16{}
	var first error
	for _, u := range req.FeatureUpdates {
		err := checkFeatureUpdate(st, req.Version, u)
		if _, dup := levels[u.Feature]; dup && err == nil {
			err = codeErr(kerr.InvalidRequest.Code, "feature "+u.Feature+" is updated twice")
		}
		levels[u.Feature] = max(u.MaxVersionLevel, 0)
		if err != nil && first == nil {
			first = err
		}
		res := kmsg.NewUpdateFeaturesResponseResult()
		res.Feature = u.Feature
		res.ErrorCode, res.ErrorMessage = errorCode(err)
		resp.Results = append(resp.Results, res)
	}
	if first == nil && !req.ValidateOnly && len(levels) > 0 {
		if err := b.propose(ctx, cluster.UpdateFeatures{Levels: levels}); err != nil {
			first = err
			for i := range resp.Results {
				resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errorCode(err)
			}
		} else {
			b.log.Info("features updated", "levels", levels)
		}
	}
	if first != nil && req.Version >= 2 {
		resp.ErrorCode, resp.ErrorMessage = errorCode(first)
	}
	return reply{resp: resp}
}

// checkFeatureUpdate validates one update against what this broker
// supports and the finalized level in st.
func checkFeatureUpdate(st *cluster.State, version int16, u kmsg.UpdateFeaturesRequestFeatureUpdate) error {
	invalid := func(format string, args ...any) error {
		return codeErr(kerr.InvalidUpdateVersion.Code, fmt.Sprintf(format, args...))
	}
	f, ok := findFeature(u.Feature)
	if !ok {
		return invalid("feature %q is not supported", u.Feature)
	}
	if u.MaxVersionLevel < 1 && f.min >= 1 {
		return invalid("feature %s cannot be removed", f.name)
	}
	if u.MaxVersionLevel < f.min || u.MaxVersionLevel > f.max {
		return invalid("feature %s: level %d is outside the supported range [%d, %d]", f.name, u.MaxVersionLevel, f.min, f.max)
	}
	downgradeOK := u.AllowDowngrade
	if version >= 1 {
		downgradeOK = u.UpgradeType >= 2
	}
	if cur := finalizedLevel(st, f); u.MaxVersionLevel < cur && !downgradeOK {
		return invalid("feature %s: level %d is below the finalized %d, and a downgrade was not asked for", f.name, u.MaxVersionLevel, cur)
	}
	return nil
}
