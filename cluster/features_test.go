package cluster

import (
	"bytes"
	"errors"
	"maps"
	"testing"
)

// TestUpdateFeatures (KIP-584): levels are set and finalized at 0 (kept:
// a level of 0 is not the default level of a feature never set), the
// epoch is the command's Raft index, a bad level is rejected without
// changing the state, and the levels survive a snapshot round trip.
func TestUpdateFeatures(t *testing.T) {
	s := NewState()
	next, err := ApplyCommand(s, 7, UpdateFeatures{Levels: map[string]int16{"metadata.version": 25, "x": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(next.Features, map[string]int16{"metadata.version": 25, "x": 1}) || next.FeaturesEpoch != 7 || s.Features != nil {
		t.Fatalf("features %v epoch %d (old state %v)", next.Features, next.FeaturesEpoch, s.Features)
	}
	next, err = ApplyCommand(next, 9, UpdateFeatures{Levels: map[string]int16{"x": 0}})
	if err != nil || !maps.Equal(next.Features, map[string]int16{"metadata.version": 25, "x": 0}) || next.FeaturesEpoch != 9 {
		t.Fatalf("after setting x to 0: %v epoch %d, %v", next.Features, next.FeaturesEpoch, err)
	}
	if got, err := ApplyCommand(next, 10, UpdateFeatures{Levels: map[string]int16{"y": -1}}); !errors.Is(err, ErrBadCommand) || got != next {
		t.Fatalf("negative level: %v", err)
	}
	enc, err := encodeState(next)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeState(bytes.NewReader(enc))
	if err != nil || !maps.Equal(back.Features, next.Features) || back.FeaturesEpoch != 9 {
		t.Fatalf("after a snapshot: %v epoch %d, %v", back.Features, back.FeaturesEpoch, err)
	}
	cmd, err := EncodeCommand(UpdateFeatures{Levels: map[string]int16{"metadata.version": 21}})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := DecodeCommand(cmd); err != nil || dec.(UpdateFeatures).Levels["metadata.version"] != 21 {
		t.Fatalf("command round trip: %v %v", dec, err)
	}
}
