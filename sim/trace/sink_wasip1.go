//go:build wasip1

package trace

import "unsafe"

// Under the simulator the observer is the host (sim.Host's "jocko" module).
// These calls allocate nothing and are made on every event whether or not
// the host keeps it, so observing never changes the run.

//go:wasmimport jocko event
func hostEvent(at int64, kind uint32, a, b, c uint64)

//go:wasmimport jocko log
func hostLog(p unsafe.Pointer, n uint32)

//go:wasmimport jocko name
func hostName(h uint64, p unsafe.Pointer, n uint32)

type sink struct{}

func newSink(interface{ Write([]byte) (int, error) }) *sink { return &sink{} }

func (*sink) logging() bool { return true }

func (*sink) event(e Event) { hostEvent(e.At, uint32(e.Kind), e.A, e.B, e.C) }

func (*sink) log(p []byte) {
	if len(p) > 0 {
		hostLog(unsafe.Pointer(&p[0]), uint32(len(p)))
	}
}

func nameOf(h uint64, s string) {
	if len(s) > 0 {
		hostName(h, unsafe.Pointer(unsafe.StringData(s)), uint32(len(s)))
	}
}
