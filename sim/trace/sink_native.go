//go:build !wasip1

package trace

import (
	"fmt"
	"sync"
)

// A native run writes its trace straight to a writer (nil: nowhere).
type sink struct {
	mu sync.Mutex // serialises writes to w
	w  interface{ Write([]byte) (int, error) }
}

// names maps string hashes seen to their strings, for printing fields in words.
var (
	namesMu sync.Mutex // guards names
	names   = map[uint64]string{}
)

func newSink(w interface{ Write([]byte) (int, error) }) *sink { return &sink{w: w} }

func (s *sink) logging() bool { return s != nil && s.w != nil }

func (s *sink) event(e Event) {
	if !s.logging() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, "T %s\n", Format(e, lookup))
}

func (s *sink) log(p []byte) {
	if !s.logging() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.Write(p)
}

func nameOf(h uint64, s string) {
	namesMu.Lock()
	names[h] = s
	namesMu.Unlock()
}

func lookup(h uint64) (string, bool) {
	namesMu.Lock()
	defer namesMu.Unlock()
	s, ok := names[h]
	return s, ok
}
