// Package trace records what happens in a simulation run and folds every
// event into a cheap 64-bit hash (FNV-1a over binary fields). Two runs of the
// same binary and seed must produce the same hash; the harness compares them.
//
// Observation must not change the run: under the simulator (GOOS=wasip1)
// every event, log line and string name is handed to the host through
// imported functions (sink_wasip1.go), always, whether or not anyone keeps
// them, so the program allocates the same bytes and draws the same random
// numbers with or without -trace and -events. The host decodes them after
// the fact (sim.Host). A native build (sink_native.go) writes them to an
// io.Writer instead; native runs are not deterministic anyway.
package trace

import (
	"fmt"
	"sync"
	"time"
)

// Kind names an event type; its value is part of the hash, so only append.
type Kind uint8

// Event kinds. A, B, C in Event mean what the comment says.
const (
	NetDial    Kind = iota + 1 // src host, dst host, conn id
	NetAccept                  // dst host, conn id, 0
	NetDeliver                 // conn id, bytes, first bytes of the segment
	NetReset                   // conn id, reason, 0
	NetFin                     // conn id, 0, 0
	NetRefused                 // src host, dst host, port
	NetBlock                   // from host, to host, mode
	NetHeal                    // from host, to host, 0
	NodeCrash                  // host, incarnation, machine(1)/process(0)
	NodeStart                  // host, incarnation, 0
	FSSync                     // host, path, durable length
	FSSyncDir                  // host, dir, entries
	FSFault                    // host, fault kind, path or detail
	ClientOp                   // process, op kind, value/offset
	ClientRes                  // process, op kind, result
	Nemesis                    // fault kind, target, detail
	Phase                      // phase number, 0, 0
	Note                       // free-form hashed value
	Buggify                    // site name, 0, 0
)

var kindNames = [...]string{"?", "net.dial", "net.accept", "net.deliver", "net.reset",
	"net.fin", "net.refused", "net.block", "net.heal", "node.crash", "node.start",
	"fs.sync", "fs.syncdir", "fs.fault", "client.op", "client.res", "nemesis",
	"phase", "note", "buggify"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

// Event is one recorded step: virtual time since the run began, kind and
// three fields.
type Event struct {
	At      int64
	Kind    Kind
	A, B, C uint64
}

func (e Event) String() string {
	return fmt.Sprintf("t=%d %s %#x %#x %#x", e.At, e.Kind, e.A, e.B, e.C)
}

const (
	offset64 = 14695981039346656037
	prime64  = 1099511628211
)

// Trace accumulates the hash. A nil *Trace ignores every call.
type Trace struct {
	epoch time.Time
	out   *sink // where events and log lines go (see sink_*.go)

	mu  sync.Mutex // guards h, n and buf
	h   uint64
	n   uint64
	buf []byte // Logf's reused line buffer
}

// New returns a trace. Natively, text (when non-nil) gets one line per event
// and log line; under the simulator the host decides what to keep.
func New(text interface{ Write([]byte) (int, error) }) *Trace {
	return &Trace{h: offset64, epoch: time.Now(), out: newSink(text), buf: make([]byte, 0, 512)}
}

// Record folds one event into the hash and hands it to the observer.
func (t *Trace) Record(k Kind, a, b, c uint64) {
	if t == nil {
		return
	}
	at := int64(time.Since(t.epoch))
	t.mu.Lock()
	h := t.h
	h = mix(h, uint64(at))
	h = (h ^ uint64(k)) * prime64
	h = mix(h, a)
	h = mix(h, b)
	h = mix(h, c)
	t.h = h
	t.n++
	t.mu.Unlock()
	t.out.event(Event{At: at, Kind: k, A: a, B: b, C: c})
}

// Logf writes a free-form line to the observer (not hashed). Under the
// simulator the line is always formatted, kept or not, so that tracing does
// not change what the program allocates.
func (t *Trace) Logf(format string, args ...any) {
	if t == nil || !t.out.logging() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = fmt.Appendf(t.buf[:0], format, args...)
	t.buf = append(t.buf, '\n')
	t.out.log(t.buf)
}

// LogWriter is an io.Writer for whole log lines (a slog handler's output):
// each Write goes to the observer like a Logf line.
func (t *Trace) LogWriter() interface{ Write([]byte) (int, error) } { return logWriter{t} }

type logWriter struct{ t *Trace }

func (w logWriter) Write(p []byte) (int, error) {
	if w.t != nil {
		w.t.out.log(p)
	}
	return len(p), nil
}

// Hash returns the hash of everything recorded so far.
func (t *Trace) Hash() uint64 {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.h
}

// Count returns the number of events recorded.
func (t *Trace) Count() uint64 {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

func mix(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h = (h ^ (v & 0xff)) * prime64
		v >>= 8
	}
	return h
}

// Str hashes a string (host names, paths, fault kinds) into a field value
// and tells the observer the name, so that traces can print it in words.
func Str(s string) uint64 {
	h := uint64(offset64)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * prime64
	}
	nameOf(h, s)
	return h
}

// Bytes8 packs up to the first 8 bytes of b into a field value.
func Bytes8(b []byte) uint64 {
	var v uint64
	for i := 0; i < len(b) && i < 8; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v
}
