// Package jio holds the seams between Jocko and the machine: the network
// (listen and dial), the file system (afero.Fs), the clock and randomness.
//
// Nothing in core/, cluster/, storage/ or wire/ touches net, os, time.Now,
// time.Sleep, time.After or the global math/rand directly: they take an Env.
// The real implementations live here; the simulator (sim/) supplies its own
// network and file system, and gets determinism for time and randomness from
// its wasm host. The folder is io/, the package name jio, so that it never
// shadows the standard library's io.
package jio
