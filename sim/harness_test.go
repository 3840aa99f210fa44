//go:build !wasip1

package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jocko/jocko/sim/check"
	"github.com/jocko/jocko/sim/runner"
	"github.com/jocko/jocko/sim/trace"
)

var (
	flagSeeds    = flag.Int("seeds", 8, "seeds per scenario")
	flagFirst    = flag.Uint64("first-seed", 1, "first seed of the seed set")
	flagSeed     = flag.Uint64("seed", 0, "run only this seed, with a full trace written to a file")
	flagScenario = flag.String("scenario", "", "run only this scenario (default: the default set)")
	flagBug      = flag.String("bug", "", "switch on broken variants (comma-separated) in TestSim")
	flagDouble   = flag.Int("double-every", 4, "run every Nth seed twice and compare hashes (0: never)")
	flagWall     = flag.Duration("wall", 10*time.Minute, "wall-clock limit per run")
	flagParallel = flag.Int("parallel-runs", runtime.NumCPU(), "runs at once")
	flagMem      = flag.Int("mem-budget", 3072, "fail a run whose wasm memory grows past this many MiB (wasm32 stops at 4096)")
	flagSchedule = flag.String("schedule", "", "replay the fault schedule in this file (as a failing run writes it) instead of drawing faults from the seed")
	flagTrim     = flag.String("trim", "", "run the scenario trimmed, as the shrinker prints it: producers=N,consumers=N,txn-producers=N,group-members=N,duration=D")
	flagSwarm    = flag.Bool("swarm", true, "each seed runs its swarm variant of the scenario (a subset of the fault menu and drawn settings); false: every seed runs the scenario as written")
)

var (
	hostOnce sync.Once
	host     *Host
	hostErr  error
	runSlots chan struct{}
)

// getHost builds and compiles the simulator once per test process.
func getHost(t *testing.T) *Host {
	t.Helper()
	hostOnce.Do(func() {
		runSlots = make(chan struct{}, max(1, *flagParallel))
		ctx := context.Background()
		wd, _ := os.Getwd()
		start := time.Now()
		var path string
		if path, hostErr = Build(ctx, filepath.Dir(wd), filepath.Join(CacheDir(), "bin")); hostErr != nil {
			return
		}
		built := time.Since(start)
		wasm, err := os.ReadFile(path)
		if err != nil {
			hostErr = err
			return
		}
		host, hostErr = NewHost(ctx, wasm, filepath.Join(CacheDir(), "compiled"))
		fmt.Printf("sim: built in %v, compiled in %v (cache %s)\n", built.Round(time.Millisecond),
			(time.Since(start) - built).Round(time.Millisecond), CacheDir())
	})
	if hostErr != nil {
		t.Fatal(hostErr)
	}
	return host
}

// outcome is one run as the host saw it.
type outcome struct {
	res     runner.Result
	exit    int
	virt    time.Duration
	wall    time.Duration
	err     error
	stderr  string
	events  []trace.Event  // with watch.events
	buggify map[string]int // BUGGIFY firings by site
	memory  uint32         // the program's largest linear memory
}

func (o outcome) failed() bool { return o.err != nil || o.exit != 0 || !o.res.OK }

// watch says what the host keeps of a run. It never changes the run: the
// program gets the same arguments and environment either way.
type watch struct {
	trace  bool // write the text trace to tracePath
	events bool // keep the event list
}

var (
	memoMu sync.Mutex
	memo   = map[string]*memoEntry{}
)

type memoEntry struct {
	once sync.Once
	o    outcome
}

// runMemo is runOne shared between tests: TestSim and TestSelfTest ask for
// the same correct-broker runs, which then cost one execution.
func runMemo(t *testing.T, scenario string, seed uint64, bugs string, swarm bool) outcome {
	key := fmt.Sprintf("%s/%d/%s/%v/%s/%s", scenario, seed, bugs, swarm, scheduleArg(t), *flagTrim)
	memoMu.Lock()
	e := memo[key]
	if e == nil {
		e = &memoEntry{}
		memo[key] = e
	}
	memoMu.Unlock()
	e.once.Do(func() { e.o = runOne(t, scenario, seed, bugs, swarm, watch{}) })
	return e.o
}

var (
	schedOnce sync.Once
	schedArg  string
	schedErr  error
)

// scheduleArg is the -schedule file's schedule as the program's argument
// ("" without -schedule): the program cannot read host files.
func scheduleArg(t *testing.T) string {
	schedOnce.Do(func() {
		if *flagSchedule == "" {
			return
		}
		var b []byte
		if b, schedErr = os.ReadFile(*flagSchedule); schedErr != nil {
			return
		}
		var steps []runner.Step
		if steps, schedErr = runner.ParseSchedule(b); schedErr == nil {
			schedArg = runner.ScheduleArg(steps, false)
		}
	})
	if schedErr != nil {
		t.Fatalf("-schedule: %v", schedErr)
	}
	return schedArg
}

// runArgs are the program's arguments for (scenario, seed, bugs, swarm,
// schedule): the only input besides the binary and the seed.
func runArgs(scenario string, seed uint64, bugs string, swarm bool, schedule string) []string {
	return runArgsTrim(scenario, seed, bugs, swarm, schedule, "")
}

// runArgsTrim is runArgs with a -trim argument (the shrinker's; "":
// none, and no argument, so that untrimmed runs stay the executions
// their seeds name).
func runArgsTrim(scenario string, seed uint64, bugs string, swarm bool, schedule, trim string) []string {
	args := []string{"-scenario", scenario, "-seed", fmt.Sprint(seed)}
	if trim != "" {
		args = append(args, "-trim", trim)
	}
	if bugs != "" {
		args = append(args, "-bug", bugs)
	}
	if !swarm {
		args = append(args, "-swarm=false")
	}
	if schedule == "" {
		schedule = runner.ScheduleArg(nil, true)
	}
	// Always passed, padded: a replayed schedule must not change what the
	// program allocates (runner.ScheduleArg).
	return append(args, "-schedule", schedule)
}

// runOne executes one (scenario, seed, bugs, swarm) run, with the
// -schedule file's faults if one is given.
func runOne(t *testing.T, scenario string, seed uint64, bugs string, swarm bool, w watch) outcome {
	return runTrimmed(t, scenario, seed, bugs, swarm, scheduleArg(t), *flagTrim, w)
}

// runSched is runOne replaying schedule (runner.ScheduleArg's form; "":
// faults drawn from the seed).
func runSched(t *testing.T, scenario string, seed uint64, bugs string, swarm bool, schedule string, w watch) outcome {
	return runTrimmed(t, scenario, seed, bugs, swarm, schedule, "", w)
}

// runTrimmed is runSched with the scenario trimmed (runner.ParseTrim's
// form; "": as written).
func runTrimmed(t *testing.T, scenario string, seed uint64, bugs string, swarm bool, schedule, trim string, w watch) outcome {
	h := getHost(t)
	runSlots <- struct{}{}
	defer func() { <-runSlots }()
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 64 << 10}
	spec := RunSpec{Seed: seed, Args: runArgsTrim(scenario, seed, bugs, swarm, schedule, trim), Stdout: &stdout, Stderr: stderr, Events: w.events}
	if w.trace {
		f, err := os.Create(tracePath(scenario, seed, bugs))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		spec.Trace = f
	}
	ctx, cancel := context.WithTimeout(context.Background(), *flagWall)
	defer cancel()
	start := time.Now()
	rr, err := h.Run(ctx, spec)
	o := outcome{exit: rr.Exit, virt: rr.Virtual, wall: time.Since(start), err: err, stderr: stderr.String(),
		events: rr.Events, buggify: rr.Buggify, memory: rr.Memory}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 256<<20) // a not-linearizable run carries porcupine's input
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "{") {
			if jerr := json.Unmarshal([]byte(line), &o.res); jerr != nil && o.err == nil {
				o.err = jerr
			}
		}
	}
	if o.res.Hash == "" && o.err == nil {
		o.err = fmt.Errorf("no result line (exit %d)", rr.Exit)
	}
	if mib := int(rr.Memory >> 20); mib > *flagMem && o.err == nil {
		o.err = fmt.Errorf("wasm memory grew to %d MiB, over the %d MiB budget (-mem-budget)", mib, *flagMem)
	}
	return o
}

func tracePath(scenario string, seed uint64, bugs string) string {
	return tmpPath("trace", scenario, seed, bugs, ".log")
}

// schedulePath is where a run's fault schedule is written (with -schedule,
// the executed one goes beside the input, never over it).
func schedulePath(scenario string, seed uint64, bugs string) string {
	if *flagSchedule != "" {
		return tmpPath("schedule", scenario, seed, bugs, "-replayed.json")
	}
	return tmpPath("schedule", scenario, seed, bugs, ".json")
}

// writeSchedule writes the run's executed fault schedule to its file and
// says where, the faults one a line.
func writeSchedule(scenario string, seed uint64, bugs string, r runner.Result) string {
	path := schedulePath(scenario, seed, bugs)
	if err := os.WriteFile(path, runner.FormatSchedule(r.Schedule), 0o644); err != nil {
		return fmt.Sprintf("schedule: writing %s: %v", path, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "schedule: %s (%d faults; edit it and replay with -schedule=%s)", path, len(r.Schedule), path)
	for _, s := range r.Schedule {
		fmt.Fprintf(&b, "\n    %s", s)
	}
	return b.String()
}

// porcupinePath is where a not-linearizable run's visualisation goes.
func porcupinePath(scenario string, seed uint64, bugs string) string {
	return tmpPath("porcupine", scenario, seed, bugs, ".html")
}

// tmpPath is $TMPDIR/sim-WHAT-SCENARIO-SEED[-BUGS]EXT.
func tmpPath(what, scenario string, seed uint64, bugs, ext string) string {
	name := fmt.Sprintf("sim-%s-%s-%d", what, scenario, seed)
	if bugs != "" {
		name += "-" + strings.ReplaceAll(bugs, ",", "+")
	}
	return filepath.Join(os.TempDir(), name+ext)
}

func replayCmd(scenario string, seed uint64, bugs string, swarm bool) string {
	cmd := fmt.Sprintf("go test ./sim -run TestSim -seed=%d -scenario=%s -v", seed, scenario)
	if bugs != "" {
		cmd += " -bug=" + bugs
	}
	if !swarm {
		cmd += " -swarm=false"
	}
	if *flagSchedule != "" {
		cmd += " -schedule=" + *flagSchedule
	}
	if *flagTrim != "" {
		cmd += " -trim=" + *flagTrim
	}
	return cmd
}

// report prints the per-run line and, on failure, what broke and how to replay.
func report(t *testing.T, scenario string, seed uint64, bugs string, swarm bool, o outcome) string {
	r := o.res
	line := fmt.Sprintf("seed=%d scenario=%s hash=%s ok=%v virt=%.1fs wall=%.1fs events=%d acked=%d faults=%d mem=%dMiB heap=%dMiB goroutines=%d",
		seed, scenario, r.Hash, !o.failed(), o.virt.Seconds(), o.wall.Seconds(), r.Events, r.Stats.Acked, r.Stats.Faults,
		o.memory>>20, r.HeapBytes>>20, r.Goroutines)
	if r.Stats.Txns > 0 {
		line += fmt.Sprintf(" txns=%d/%d txn_read=%d", r.Stats.TxnOK, r.Stats.Txns, r.Stats.TxnRead)
	}
	if bugs != "" {
		line += " bugs=" + bugs
	}
	if len(r.Swarm) > 0 {
		line += " swarm=" + strings.Join(r.Swarm, ",")
	}
	fmt.Println(line)
	if !o.failed() {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "FAIL seed=%d scenario=%s", seed, scenario)
	if bugs != "" {
		fmt.Fprintf(&b, " bugs=%s", bugs)
	}
	if o.err != nil {
		fmt.Fprintf(&b, "\n  error: %v (exit %d)", o.err, o.exit)
	}
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "\n  violation: %s", v)
	}
	if o.res.Hash == "" && o.stderr != "" {
		fmt.Fprintf(&b, "\n  stderr tail:\n%s", indent(lastLines(o.stderr, 30)))
	}
	if len(r.Porcupine) > 0 {
		// The program found a partition not linearizable and handed back
		// porcupine's input: check it again here and draw it.
		path := porcupinePath(scenario, seed, bugs)
		if res, err := check.VisualizePath(r.Porcupine, path); err != nil {
			fmt.Fprintf(&b, "\n  porcupine: writing %s: %v", path, err)
		} else {
			fmt.Fprintf(&b, "\n  porcupine: %s (%d operations, %s on the host)", path, len(r.Porcupine), res)
		}
	}
	if o.res.Hash != "" {
		fmt.Fprintf(&b, "\n  %s", writeSchedule(scenario, seed, bugs, r))
	}
	fmt.Fprintf(&b, "\n  replay: %s", replayCmd(scenario, seed, bugs, swarm))
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
