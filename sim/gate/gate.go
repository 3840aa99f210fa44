// Package gate is the simulator's pause switch: a Gate, once closed, holds
// every caller of Wait until it is opened again. A pause fault closes the
// gates of a machine's clock and disk, as SIGSTOP stops a process.
package gate

import "sync/atomic"

// Gate is open when made. Its methods are safe for concurrent use.
type Gate struct {
	closed atomic.Pointer[chan struct{}] // closed (the channel) when the gate opens again; nil while open
}

// Close closes the gate; closing a closed gate does nothing.
func (g *Gate) Close() {
	ch := make(chan struct{})
	g.closed.CompareAndSwap(nil, &ch)
}

// Open opens the gate and lets every waiter go; opening an open gate does
// nothing.
func (g *Gate) Open() {
	if ch := g.closed.Swap(nil); ch != nil {
		close(*ch)
	}
}

// Wait returns at once while the gate is open, and once it opens
// otherwise.
func (g *Gate) Wait() {
	if ch := g.closed.Load(); ch != nil {
		<-*ch
	}
}
