package main

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// finalizedMetadataVersion asks ApiVersions v3 (KIP-584's tagged fields)
// for the finalized metadata.version, its epoch and the supported range.
func finalizedMetadataVersion(t *testing.T, ctx context.Context, p *proc) (level int16, epoch int64, min, max int16) {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "jocko-test", "1"
	resp, err := req.RequestWith(ctx, p.client(t))
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions v3: %v, error %d", err, resp.ErrorCode)
	}
	for _, f := range resp.FinalizedFeatures {
		if f.Name == "metadata.version" {
			level = f.MaxVersionLevel
		}
	}
	for _, f := range resp.SupportedFeatures {
		if f.Name == "metadata.version" {
			min, max = f.MinVersion, f.MaxVersion
		}
	}
	return level, resp.FinalizedFeaturesEpoch, min, max
}

// TestE2EFeatures (KIP-584, UpdateFeatures v2 through kadm, ApiVersions
// v3): metadata.version is supported from 7 to 25 and finalized at 25; a
// downgrade needs a downgrade upgrade type, an unknown feature or a level
// out of range is INVALID_UPDATE_VERSION, ValidateOnly stores nothing, and
// a stored level moves the features epoch and survives a restart.
func TestE2EFeatures(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	ctx := testCtx(t)
	adm := b.admin(t)
	if level, epoch, lo, hi := finalizedMetadataVersion(t, ctx, b); level != 25 || epoch != 0 || lo != 7 || hi != 25 {
		t.Fatalf("metadata.version finalized %d epoch %d supported [%d, %d], want 25, 0, [7, 25]", level, epoch, lo, hi)
	}
	update := func(validateOnly bool, u kadm.FeatureUpdate) error {
		res, err := adm.UpdateFeatures(ctx, validateOnly, u)
		if err != nil {
			return err
		}
		return res.Error()
	}
	if err := update(false, kadm.FeatureUpdate{Feature: "metadata.version", MaxVersionLevel: 21, UpgradeType: 1}); !errors.Is(err, kerr.InvalidUpdateVersion) {
		t.Fatalf("downgrade as an upgrade: %v, want INVALID_UPDATE_VERSION", err)
	}
	if err := update(false, kadm.FeatureUpdate{Feature: "metadata.version", MaxVersionLevel: 26, UpgradeType: 1}); !errors.Is(err, kerr.InvalidUpdateVersion) {
		t.Fatalf("level above the supported range: %v, want INVALID_UPDATE_VERSION", err)
	}
	if err := update(false, kadm.FeatureUpdate{Feature: "no.such.feature", MaxVersionLevel: 1, UpgradeType: 1}); !errors.Is(err, kerr.InvalidUpdateVersion) {
		t.Fatalf("unknown feature: %v, want INVALID_UPDATE_VERSION", err)
	}
	if err := update(true, kadm.FeatureUpdate{Feature: "metadata.version", MaxVersionLevel: 21, UpgradeType: 2}); err != nil {
		t.Fatalf("validate-only downgrade: %v", err)
	}
	if level, epoch, _, _ := finalizedMetadataVersion(t, ctx, b); level != 25 || epoch != 0 {
		t.Fatalf("after a validate-only update: finalized %d epoch %d, want 25 and 0", level, epoch)
	}
	if err := update(false, kadm.FeatureUpdate{Feature: "metadata.version", MaxVersionLevel: 21, UpgradeType: 2}); err != nil {
		t.Fatalf("safe downgrade: %v", err)
	}
	level, epoch, _, _ := finalizedMetadataVersion(t, ctx, b)
	if level != 21 || epoch <= 0 {
		t.Fatalf("after the downgrade: finalized %d epoch %d, want 21 and an epoch above 0", level, epoch)
	}
	b.stop()
	b.restart()
	if l, e, _, _ := finalizedMetadataVersion(t, ctx, b); l != 21 || e != epoch {
		t.Fatalf("after a restart: finalized %d epoch %d, want 21 and %d", l, e, epoch)
	}
}
