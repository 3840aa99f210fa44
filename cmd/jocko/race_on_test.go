//go:build race

package main

// raceEnabled makes the end-to-end tests build the broker with -race too, so
// `go test -race` finds data races in the broker process.
const raceEnabled = true
