// Command wasm is the simulator program: one scenario, one seed, the whole
// cluster and its clients in one process. Built with GOOS=wasip1 GOARCH=wasm
// and run under wazero by `go test ./sim`, whose host makes time virtual and
// randomness seeded, so the run is a pure function of (binary, seed,
// arguments). It imports the host's "jocko" module (sim/trace), so it runs
// only under sim.Host. It also builds natively (then it is not
// deterministic, but -race works).
//
// It prints one JSON result line on stdout. Under the simulator every event
// and log line goes to the host, which writes the text trace or keeps the
// event list when asked (the program does not know, so observing cannot
// change the run). Natively, -trace writes the text trace to stderr.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/jocko/jocko/scenarios"
	"github.com/jocko/jocko/sim/runner"
)

func main() {
	// Heap-profile sampling draws from the runtime's random stream at
	// allocation-dependent points; nothing here reads the profile.
	runtime.MemProfileRate = 0
	name := flag.String("scenario", "single-crash", "scenario name")
	seed := flag.Uint64("seed", 1, "seed")
	bugs := flag.String("bug", "", "comma-separated broken variants to switch on")
	tr := flag.Bool("trace", false, "native runs: write a text trace to stderr")
	swarm := flag.Bool("swarm", true, "run the seed's swarm variant (a subset of the fault menu, drawn settings); false: the scenario as written")
	schedule := flag.String("schedule", "", "a fault schedule to replay instead of drawing faults from the seed, in runner.ScheduleArg's form (\"draw\": draw them)")
	trim := flag.String("trim", "", "shrink the scenario (runner.ParseTrim): producers=N,consumers=N,txn-producers=N,group-members=N,duration=D")
	flag.Parse()
	sc, ok := scenarios.Get(*name)
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown scenario %q (have %s)\n", *name, strings.Join(scenarios.Names(), ", "))
		os.Exit(2)
	}
	opt := runner.Options{Seed: *seed, NoSwarm: !*swarm}
	// Decoded in every run alike (see runner.ScheduleArg).
	sched, err := runner.DecodeScheduleArg(*schedule)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	opt.Schedule = sched
	if opt.Trim, err = runner.ParseTrim(*trim); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *bugs != "" {
		opt.Bugs = strings.Split(*bugs, ",")
	}
	if *tr {
		opt.Trace = os.Stderr
	}
	res := runner.Run(sc, opt)
	line, err := json.Marshal(res)
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(append(line, '\n'))
	os.Exit(0)
}
