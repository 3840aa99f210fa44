// Command wasm is the simulator program: one scenario, one seed, the whole
// cluster and its clients in one process. Built with GOOS=wasip1 GOARCH=wasm
// and run under wazero by `go test ./sim`, whose host makes time virtual and
// randomness seeded, so the run is a pure function of (binary, seed). It also
// builds natively (then it is not deterministic, but -race works).
//
// It prints one JSON result line on stdout. -trace writes a text trace to
// stderr; -events prints the compact event list after the result, one
// "E at kind a b c" line per event, for divergence reports.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/jocko/jocko/scenarios"
	"github.com/jocko/jocko/sim/runner"
)

func main() {
	name := flag.String("scenario", "single-crash", "scenario name")
	seed := flag.Uint64("seed", 1, "seed")
	bugs := flag.String("bug", "", "comma-separated broken variants to switch on")
	tr := flag.Bool("trace", false, "write a text trace to stderr")
	events := flag.Bool("events", false, "print the compact event list after the result")
	flag.Parse()
	sc, ok := scenarios.Get(*name)
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown scenario %q (have %s)\n", *name, strings.Join(scenarios.Names(), ", "))
		os.Exit(2)
	}
	opt := runner.Options{Seed: *seed, KeepEvents: *events}
	if *bugs != "" {
		opt.Bugs = strings.Split(*bugs, ",")
	}
	if *tr {
		opt.Trace = os.Stderr
	}
	res, evs := runner.RunWithEvents(sc, opt)
	line, err := json.Marshal(res)
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(append(line, '\n'))
	if *events {
		w := newLineWriter(os.Stdout)
		for _, e := range evs {
			w.printf("E %d %d %d %d %d\n", e.At, e.Kind, e.A, e.B, e.C)
		}
		w.flush()
	}
	os.Exit(0)
}
