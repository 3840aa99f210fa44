// Package sim is Jocko's deterministic simulator. The whole cluster and its
// franz-go clients run as one GOOS=wasip1 program (sim/wasm) under wazero,
// whose host feeds a seeded random source and a virtual clock that moves only
// when every goroutine is idle; a run is a pure function of (binary, seed).
//
// `go test ./sim` builds the program, compiles it once (with an on-disk
// compilation cache) and runs seeds of every default scenario in parallel;
// see SIMULATION.md. The pieces: simnet (network), simfs (disk), check
// (checkers), runner (cluster, workload, nemesis), trace (the run's hash),
// and the scenarios in ../scenarios.
package sim
