package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// A fault schedule is the list of faults a run's nemesis executed, in
// order: when each was due, what it was, which broker it hit, how long it
// lasted, and the random choices the fault itself made. Every run returns
// the one it executed (Result.Schedule); Options.Schedule replays one
// instead of drawing faults from the seed (the workload, the network and
// the swarm settings still come from the seed). Replaying a run's own
// schedule unchanged is the same execution (the same hash). Steps are
// independent of each other: At is measured from the start of the fault
// phase, not from the previous fault, so dropping a step (by hand or by a
// shrinker) leaves the others where they were; a step due before the
// previous one has healed runs as soon as it has.

// Step is one fault of a schedule.
type Step struct {
	// At is when the fault is due, from the start of the fault phase.
	At Dur `json:"at"`
	// Kind is the fault; any kind of the menu, whatever the scenario's.
	Kind FaultKind `json:"kind"`
	// Broker is the ID of the broker it hits (crash-all and
	// rolling-restart hit every broker; minority-crash adds more).
	Broker int32 `json:"broker"`
	// For is how long the fault lasts before it is healed.
	For Dur `json:"for"`
	// Choices are the fault's own random draws, in order, each below the
	// bound the fault drew it from: machine-crash and torn-crash [0: crash
	// inside the next fsync, 1: at once]; disk-full [bytes left free];
	// slow-disk [delay in ms - 1]; crash-all [per broker 0: machine, 1:
	// torn]; reassign [partition, replica slot, index of the new broker
	// among those outside]; bit-flip [segment file among the candidates
	// sorted by path, byte, bit] (none if no file had a synced byte). A
	// replayed value is taken modulo its bound; a missing one is 0.
	Choices []int `json:"choices,omitempty"`
}

// Dur is a time.Duration written as its string ("1.507038566s"), exact to
// the nanosecond; a number is read as nanoseconds.
type Dur time.Duration

// MarshalJSON writes d as a duration string.
func (d Dur) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string or a number of nanoseconds.
func (d *Dur) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] != '"' {
		var ns int64
		if err := json.Unmarshal(b, &ns); err != nil {
			return err
		}
		*d = Dur(ns)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Dur(v)
	return err
}

func (s Step) String() string {
	return fmt.Sprintf("at %v %s on broker %d for %v choices %v", time.Duration(s.At), s.Kind, s.Broker, time.Duration(s.For), s.Choices)
}

// ParseSchedule reads a schedule (a JSON array of steps).
func ParseSchedule(b []byte) ([]Step, error) {
	var steps []Step
	if err := json.Unmarshal(b, &steps); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	for i, s := range steps {
		if s.Kind == "" {
			return nil, fmt.Errorf("schedule: step %d has no kind", i)
		}
	}
	return steps, nil
}

// FormatSchedule writes steps as a JSON array, one step a line, for
// editing by hand.
func FormatSchedule(steps []Step) []byte {
	var b strings.Builder
	b.WriteString("[")
	for i, s := range steps {
		line, _ := json.Marshal(s)
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  ")
		b.Write(line)
	}
	b.WriteString("\n]\n")
	return []byte(b.String())
}

// The program's -schedule argument. The run is a function of what the
// program allocates, not only of what it computes: the Go runtime's
// collector and scheduler interleave goroutines differently when the heap
// differs by a few bytes (and the runtime allocates the argument buffer
// itself), and encoding/json creates maps, each of which draws from the
// runtime's random stream that the run shares. So the host always passes
// the argument, padded to a multiple of ScheduleArgSize ("draw" when the
// faults come from the seed), and the program decodes it with strconv
// alone into buffers sized by the argument's length: a replay of a run's
// own schedule allocates what the run did.

// ScheduleArgSize is what the -schedule argument is padded to (a multiple
// of it); a schedule longer than that (hundreds of faults) still replays,
// but not as the same execution as the run that drew it.
const ScheduleArgSize = 16 << 10

// ScheduleArg returns steps as the program's -schedule argument
// ("AT,KIND,BROKER,FOR,C/C/...;..." with times in nanoseconds, "none"
// for no fault), padded; draw (nil steps with draw true) asks for faults
// drawn from the seed.
func ScheduleArg(steps []Step, draw bool) string {
	var b strings.Builder
	if draw {
		b.WriteString("draw")
	} else if len(steps) == 0 {
		b.WriteString("none")
	}
	for i, s := range steps {
		if i > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, "%d,%s,%d,%d,", int64(s.At), s.Kind, s.Broker, int64(s.For))
		for j, c := range s.Choices {
			if j > 0 {
				b.WriteByte('/')
			}
			b.WriteString(strconv.Itoa(c))
		}
	}
	n := b.Len()
	b.WriteString(strings.Repeat(" ", (n/ScheduleArgSize+1)*ScheduleArgSize-n))
	return b.String()
}

// Schedule is a decoded -schedule argument (Options.Schedule).
type Schedule struct {
	Replay bool   // run Steps instead of drawing faults from the seed
	Steps  []Step // the faults to run
	pool   []int  // the Choices' storage, kept alive in every run alike
}

// DecodeScheduleArg reads ScheduleArg's form: Replay false for "draw" (or
// nothing). What it allocates, and keeps alive, depends on the argument's
// length alone.
func DecodeScheduleArg(arg string) (Schedule, error) {
	sc := Schedule{Steps: make([]Step, 0, len(arg)/8+1), pool: make([]int, 0, len(arg)/2+1)}
	steps, err := sc.decode(strings.TrimRight(arg, " "))
	if err != nil {
		return Schedule{}, err
	}
	sc.Steps = steps
	return sc, nil
}

func (sc *Schedule) decode(arg string) ([]Step, error) {
	steps, choices := sc.Steps, sc.pool
	switch arg {
	case "draw", "":
		return steps, nil
	case "none":
		sc.Replay = true
		return steps, nil
	}
	sc.Replay = true
	for i := 0; arg != ""; i++ {
		part := arg
		if j := strings.IndexByte(arg, ';'); j >= 0 {
			part, arg = arg[:j], arg[j+1:]
		} else {
			arg = ""
		}
		var f [5]string
		rest := part
		for k := range f {
			if j := strings.IndexByte(rest, ','); j >= 0 && k < 4 {
				f[k], rest = rest[:j], rest[j+1:]
			} else if k == 4 {
				f[k] = rest
			} else {
				return nil, fmt.Errorf("schedule step %d: %q: want AT,KIND,BROKER,FOR,CHOICES", i, part)
			}
		}
		at, err1 := strconv.ParseInt(f[0], 10, 64)
		broker, err2 := strconv.ParseInt(f[2], 10, 32)
		dur, err3 := strconv.ParseInt(f[3], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil || f[1] == "" {
			return nil, fmt.Errorf("schedule step %d: %q: %v", i, part, err)
		}
		s := Step{At: Dur(at), Kind: FaultKind(f[1]), Broker: int32(broker), For: Dur(dur)}
		from := len(choices)
		for c := f[4]; c != ""; {
			v := c
			if j := strings.IndexByte(c, '/'); j >= 0 {
				v, c = c[:j], c[j+1:]
			} else {
				c = ""
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("schedule step %d: choice %q: %v", i, v, err)
			}
			choices = append(choices, n)
		}
		if len(choices) > from {
			s.Choices = choices[from:len(choices):len(choices)]
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// chooser gives a fault its random draws: from the nemesis' stream when
// faults are drawn, from the step's Choices when a schedule is replayed.
// Either way it keeps what it gave (the executed step's Choices), so both
// modes do the same work.
type chooser struct {
	rng    *rand.Rand
	replay []int // nil: draw
	made   []int
}

func (c *chooser) IntN(n int) int {
	var v int
	switch {
	case c.replay == nil:
		v = c.rng.IntN(n)
	case len(c.made) < len(c.replay):
		v = c.replay[len(c.made)] % n
		if v < 0 {
			v += n
		}
	}
	c.made = append(c.made, v)
	return v
}

func (c *chooser) Int32N(n int32) int32 { return int32(c.IntN(int(n))) }
