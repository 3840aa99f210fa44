package quota

import (
	"reflect"
	"testing"
)

func str(s string) *string { return &s }

// TestKeyRoundTrip: keys are canonical (sorted by type) and parse back,
// names with commas, quotes and "<default>" included.
func TestKeyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, parts := range [][]Part{
		{{Type: User, Name: str("a,b=\"c\"")}, {Type: ClientID, Name: nil}},
		{{Type: ClientID, Name: str("<default>")}},
		{{Type: IP, Name: nil}},
		{{Type: User, Name: str("")}},
	} {
		k := Key(parts)
		back, err := Parse(k)
		if err != nil {
			t.Fatalf("%q: %v", k, err)
		}
		if Key(back) != k || len(back) != len(parts) {
			t.Fatalf("%q parsed to %+v", k, back)
		}
	}
	if got := Key([]Part{{Type: User, Name: nil}, {Type: ClientID, Name: str("x")}}); got != `client-id="x",user=<default>` {
		t.Fatalf("key = %s", got)
	}
	for _, bad := range []string{"", "user", "user=x", "user=\"x\",", "=\"x\""} {
		if _, err := Parse(bad); err == nil {
			t.Fatalf("%q parsed", bad)
		}
	}
}

// TestResolvePrecedence walks Kafka's eight levels from the most specific
// down, removing each in turn, and checks which sensor each shares.
func TestResolvePrecedence(t *testing.T) {
	t.Parallel()
	u, c := str(Anonymous), str("X")
	levels := [][]Part{
		{{User, u}, {ClientID, c}},
		{{User, u}, {ClientID, nil}},
		{{User, u}},
		{{User, nil}, {ClientID, c}},
		{{User, nil}, {ClientID, nil}},
		{{User, nil}},
		{{ClientID, c}},
		{{ClientID, nil}},
	}
	wantSensor := []string{
		`client-id="X",user="ANONYMOUS"`, `client-id="X",user="ANONYMOUS"`, `user="ANONYMOUS"`,
		`client-id="X",user="ANONYMOUS"`, `client-id="X",user="ANONYMOUS"`, `user="ANONYMOUS"`,
		`client-id="X"`, `client-id="X"`,
	}
	quotas := map[string]map[string]float64{}
	for i, l := range levels {
		quotas[Key(l)] = map[string]float64{ProducerByteRate: float64(i + 1)}
	}
	quotas[`client-id="X",user="ANONYMOUS"`][ConsumerByteRate] = 99
	for i := range levels {
		got := Resolve(quotas, Anonymous, "X", ProducerByteRate)
		want := Resolved{Bound: float64(i + 1), Sensor: ProducerByteRate + "|" + wantSensor[i]}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("level %d: %+v, want %+v", i, got, want)
		}
		delete(quotas, Key(levels[i]))
	}
	if got := Resolve(quotas, Anonymous, "X", ProducerByteRate); got != (Resolved{}) {
		t.Fatalf("no quota left: %+v", got)
	}
}

// TestSensorsShareByEntity: two client IDs under a default client-id
// quota are counted apart; under a user quota together.
func TestSensorsShareByEntity(t *testing.T) {
	t.Parallel()
	var s Sensors
	q := map[string]map[string]float64{Key([]Part{{ClientID, nil}}): {ProducerByteRate: 100}}
	a, b := Resolve(q, Anonymous, "a", ProducerByteRate), Resolve(q, Anonymous, "b", ProducerByteRate)
	if got := s.Record(a, 1500, 0); got != 5000 { // 150 B/s over 10 s: 0.5 * 10000 ms
		t.Fatalf("a throttled %d, want 5000", got)
	}
	if got := s.Record(b, 900, 0); got != 0 {
		t.Fatalf("b throttled %d for a's bytes", got)
	}
	q = map[string]map[string]float64{Key([]Part{{User, nil}}): {ProducerByteRate: 100}}
	a, b = Resolve(q, Anonymous, "a", ProducerByteRate), Resolve(q, Anonymous, "b", ProducerByteRate)
	s.Record(a, 900, 0)
	if got := s.Record(b, 900, 0); got != 8000 { // 180 B/s: 0.8 * 10000
		t.Fatalf("b throttled %d, want 8000", got)
	}
	s.Unrecord(b, 900, 0)
	if got := s.Record(b, 0, 0); got != 0 {
		t.Fatalf("after unrecord: %d", got)
	}
	if s.Len() != 3 {
		t.Fatalf("%d sensors", s.Len())
	}
}
