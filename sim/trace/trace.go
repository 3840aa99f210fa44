// Package trace records what happens in a simulation run and folds every
// event into a cheap 64-bit hash (FNV-1a over binary fields). Two runs of the
// same binary and seed must produce the same hash; the harness compares them.
//
// The hot path (Record) does no formatting and no allocation beyond the
// optional compact event list kept for divergence reports. A text trace is
// written only when a writer is set (the -trace flag).
package trace

import (
	"fmt"
	"io"
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
)

var kindNames = [...]string{"?", "net.dial", "net.accept", "net.deliver", "net.reset",
	"net.fin", "net.refused", "net.block", "net.heal", "node.crash", "node.start",
	"fs.sync", "fs.syncdir", "fs.fault", "client.op", "client.res", "nemesis",
	"phase", "note"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

// Event is one recorded step: virtual time, kind and three fields.
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
	mu        sync.Mutex
	h         uint64
	n         uint64
	epoch     time.Time
	keep      bool
	eventsMax int
	events    []Event
	text      io.Writer
}

// New returns a trace. keepEvents keeps a compact list of up to eventsMax
// events (for divergence reports); text, when non-nil, gets one line per event.
func New(keepEvents bool, eventsMax int, text io.Writer) *Trace {
	return &Trace{h: offset64, epoch: time.Now(), keep: keepEvents, eventsMax: eventsMax, text: text}
}

// Record folds one event into the hash.
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
	if t.keep && len(t.events) < t.eventsMax {
		t.events = append(t.events, Event{At: at, Kind: k, A: a, B: b, C: c})
	}
	w := t.text
	t.mu.Unlock()
	if w != nil {
		fmt.Fprintf(w, "T %s\n", Event{At: at, Kind: k, A: a, B: b, C: c})
	}
}

// Logf writes a free-form line to the text trace only (not hashed).
func (t *Trace) Logf(format string, args ...any) {
	if t == nil || t.text == nil {
		return
	}
	fmt.Fprintf(t.text, "L %d "+format+"\n", append([]any{int64(time.Since(t.epoch))}, args...)...)
}

// Verbose reports whether a text trace is being written.
func (t *Trace) Verbose() bool { return t != nil && t.text != nil }

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

// Events returns the kept events.
func (t *Trace) Events() []Event {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Event(nil), t.events...)
}

func mix(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h = (h ^ (v & 0xff)) * prime64
		v >>= 8
	}
	return h
}

// Str hashes a string (host names, paths) into a field value.
func Str(s string) uint64 {
	h := uint64(offset64)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * prime64
	}
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
