package cluster

import (
	"bytes"
	"errors"
	"maps"
	"testing"
)

// TestAlterClientQuotas (KIP-546): values are set and removed per entity,
// an entity with no values left is gone, a bad value rejects the whole
// command without changing the state, and the quotas survive a snapshot
// round trip and a command round trip.
func TestAlterClientQuotas(t *testing.T) {
	t.Parallel()
	s := NewState()
	next, err := ApplyCommand(s, 3, AlterClientQuotas{Entities: []QuotaAlteration{
		{Entity: "a", Set: map[string]float64{"producer_byte_rate": 100, "consumer_byte_rate": 200}},
		{Entity: "b", Set: map[string]float64{"producer_byte_rate": 5}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(next.ClientQuotas) != 2 || next.ClientQuotas["a"]["consumer_byte_rate"] != 200 || s.ClientQuotas != nil {
		t.Fatalf("quotas %v (old state %v)", next.ClientQuotas, s.ClientQuotas)
	}
	next, err = ApplyCommand(next, 4, AlterClientQuotas{Entities: []QuotaAlteration{
		{Entity: "a", Remove: []string{"consumer_byte_rate"}},
		{Entity: "b", Remove: []string{"producer_byte_rate"}},
	}})
	if err != nil || !maps.Equal(next.ClientQuotas["a"], map[string]float64{"producer_byte_rate": 100}) || next.ClientQuotas["b"] != nil {
		t.Fatalf("after removing: %v, %v", next.ClientQuotas, err)
	}
	bad := AlterClientQuotas{Entities: []QuotaAlteration{
		{Entity: "c", Set: map[string]float64{"producer_byte_rate": 1}},
		{Entity: "a", Set: map[string]float64{"producer_byte_rate": -1}},
	}}
	if got, err := ApplyCommand(next, 5, bad); !errors.Is(err, ErrBadCommand) || got != next || next.ClientQuotas["c"] != nil {
		t.Fatalf("negative value: %v", err)
	}
	enc, err := encodeState(next)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeState(bytes.NewReader(enc))
	if err != nil || len(back.ClientQuotas) != 1 || back.ClientQuotas["a"]["producer_byte_rate"] != 100 {
		t.Fatalf("after a snapshot: %v, %v", back.ClientQuotas, err)
	}
	cmd, err := EncodeCommand(AlterClientQuotas{Entities: []QuotaAlteration{{Entity: "x", Set: map[string]float64{"k": 1.5}}}})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := DecodeCommand(cmd); err != nil || dec.(AlterClientQuotas).Entities[0].Set["k"] != 1.5 {
		t.Fatalf("command round trip: %v %v", dec, err)
	}
}
