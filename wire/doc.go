// Package wire is Jocko's Kafka wire layer: size-prefixed frames, request
// and response headers around kmsg message bodies, and magic v2 record
// batches (parsing, validation, building and compression).
//
// It is pure: no network, files, clock or global randomness, so it builds
// for GOOS=wasip1 and runs unchanged inside the simulator. Every decoder a
// peer can reach (ReadFrame, ParseRequest, ValidateBatches, Records) is
// fuzzed and must return an error, never panic, on any input.
package wire
