package runner

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestScheduleRoundTrip(t *testing.T) {
	steps := []Step{
		{At: Dur(3594656566), Kind: ProcessCrash, Broker: 1, For: Dur(1507038566 * time.Nanosecond)},
		{At: Dur(9 * time.Second), Kind: Reassign, Broker: 2, For: Dur(time.Second), Choices: []int{1, 0, 2}},
	}
	got, err := ParseSchedule(FormatSchedule(steps))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].At != steps[0].At || got[0].For != steps[0].For || !slices.Equal(got[1].Choices, steps[1].Choices) {
		t.Fatalf("round trip: %v, want %v", got, steps)
	}
	if _, err := ParseSchedule([]byte(`[{"at": 5000000, "kind": "pause", "broker": 1, "for": "1s"}]`)); err != nil {
		t.Fatalf("nanoseconds as a number: %v", err)
	}
	if _, err := ParseSchedule([]byte(`[{"at": "1s"}]`)); err == nil {
		t.Fatal("a step without a kind was accepted")
	}
}

// TestChooser: a replayed chooser gives the recorded draws (modulo their
// bound, 0 when missing) and keeps what it gave, as a drawing one does.
func TestChooser(t *testing.T) {
	d := &chooser{rng: rand.New(rand.NewPCG(1, 2))}
	a, b := d.IntN(2), d.IntN(1000)
	r := &chooser{replay: d.made}
	if r.IntN(2) != a || r.IntN(1000) != b || r.IntN(7) != 0 || !slices.Equal(r.made, []int{a, b, 0}) {
		t.Fatalf("replayed %v, drawn %v", r.made, d.made)
	}
	if v := (&chooser{replay: []int{5}}).IntN(2); v != 1 {
		t.Fatalf("an edited choice out of bounds gave %d", v)
	}
}

func TestScheduleArgRoundTrip(t *testing.T) {
	steps := []Step{
		{At: Dur(3594656566), Kind: TornCrash, Broker: 1, For: Dur(1507038566), Choices: []int{0}},
		{At: Dur(9 * time.Second), Kind: Reassign, Broker: 2, For: Dur(time.Second), Choices: []int{1, 0, 2}},
		{At: Dur(12 * time.Second), Kind: Loss, Broker: 3, For: Dur(time.Second)},
	}
	arg := ScheduleArg(steps, false)
	if len(arg) != ScheduleArgSize || len(ScheduleArg(nil, true)) != ScheduleArgSize {
		t.Fatalf("argument lengths %d and %d, want %d", len(arg), len(ScheduleArg(nil, true)), ScheduleArgSize)
	}
	sc, err := DecodeScheduleArg(arg)
	got := sc.Steps
	if err != nil || !sc.Replay {
		t.Fatal(sc.Replay, err)
	}
	if !slices.EqualFunc(got, steps, func(a, b Step) bool {
		return a.At == b.At && a.Kind == b.Kind && a.Broker == b.Broker && a.For == b.For && slices.Equal(a.Choices, b.Choices)
	}) {
		t.Fatalf("round trip: %v, want %v", got, steps)
	}
	if sc, err := DecodeScheduleArg(ScheduleArg(nil, false)); err != nil || !sc.Replay || len(sc.Steps) != 0 {
		t.Fatalf("no step: %+v %v", sc, err)
	}
	if sc, err := DecodeScheduleArg(ScheduleArg(nil, true)); err != nil || sc.Replay {
		t.Fatalf("draw: %+v %v", sc, err)
	}
	if _, err := DecodeScheduleArg("1,pause,1"); err == nil {
		t.Fatal("a short step was accepted")
	}
}
