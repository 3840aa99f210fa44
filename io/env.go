package jio

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/spf13/afero"
)

// Network is how Jocko reaches other machines. Listeners and connections are
// the standard library's interfaces so that any Kafka client library, and
// hashicorp/raft's transport, can run over it unchanged.
type Network interface {
	// Listen announces on a TCP address such as "127.0.0.1:9092" or ":0".
	Listen(ctx context.Context, addr string) (net.Listener, error)
	// DialContext connects to addr; network is "tcp" (the argument exists
	// so that the method value fits kgo.Dialer and net.Dialer alike).
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Env is everything the broker needs from the machine. A zero field means
// "use the real one" after Defaults.
type Env struct {
	Net   Network
	FS    afero.Fs
	Clock clock.Clock
	Rand  *Rand
	Log   *slog.Logger
}

// Defaults fills unset fields with the real machine: TCP, the OS file system,
// the wall clock, a time-seeded random source and the default logger.
func (e Env) Defaults() Env {
	if e.Net == nil {
		e.Net = OSNetwork{}
	}
	if e.FS == nil {
		e.FS = afero.NewOsFs()
	}
	if e.Clock == nil {
		e.Clock = clock.New()
	}
	if e.Rand == nil {
		e.Rand = NewRand(uint64(time.Now().UnixNano()))
	}
	if e.Log == nil {
		e.Log = slog.Default()
	}
	return e
}

// OSNetwork is the real TCP network.
type OSNetwork struct{}

// Listen implements Network.
func (OSNetwork) Listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", addr)
}

// DialContext implements Network.
func (OSNetwork) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Rand is a goroutine-safe seeded random source. Under the simulator the
// seed comes from the run's seed, so every draw replays.
type Rand struct {
	mu sync.Mutex
	r  *rand.Rand
}

// NewRand returns a source seeded with seed.
func NewRand(seed uint64) *Rand {
	return &Rand{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Uint64 returns a uniformly distributed 64-bit value.
func (r *Rand) Uint64() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.r.Uint64()
}

// IntN returns a value in [0, n); n must be positive.
func (r *Rand) IntN(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.r.IntN(n)
}

// Int64N returns a value in [0, n); n must be positive.
func (r *Rand) Int64N(n int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.r.Int64N(n)
}

// Read fills p with random bytes; it never fails.
func (r *Rand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range p {
		p[i] = byte(r.r.Uint64())
	}
	return len(p), nil
}

// UUID returns a random version-4 UUID (used for topic IDs).
func (r *Rand) UUID() [16]byte {
	var u [16]byte
	for {
		_, _ = r.Read(u[:])
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		if u != ([16]byte{}) {
			return u
		}
	}
}
