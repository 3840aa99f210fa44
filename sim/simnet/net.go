// Package simnet is an in-memory network for the simulator. Hosts are names
// ("n1", "c1"), not IP addresses. Every host incarnation gets a jio.Network
// whose listeners and connections are real net.Listener / net.Conn values
// with deadlines; time is whatever the time package says, which under the
// wasm host is the virtual clock.
//
// Per directed link: a latency drawn from the seed, per-segment jitter, FIFO
// delivery, a bounded window (writers block when it is full), optional loss
// (the connection is reset) and partitions that either reset connections
// (Drop) or hold data until healed (Hold). Crash freezes an incarnation: its
// peers see resets, dials to it are refused, nothing it sent is delivered and
// every later call it makes blocks forever.
package simnet

import (
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/sim/trace"
)

// Mode is what a partition does to traffic on a directed link.
type Mode uint8

const (
	// Open passes traffic.
	Open Mode = iota
	// Drop resets connections on the link and fails dials across it.
	Drop
	// Hold keeps data (and dials) in flight until the link heals.
	Hold
)

// Config shapes the network. Zero fields get defaults from withDefaults.
type Config struct {
	Seed           uint64
	LatencyMin     time.Duration // base one-way latency of a link, drawn in [Min, Max]
	LatencyMax     time.Duration
	Jitter         time.Duration // extra per segment, drawn in [0, Jitter)
	WindowBytes    int           // unread + in-flight bytes per direction
	SegmentBytes   int           // largest segment a write is cut into
	Backlog        int           // pending connections per listener
	ConnectTimeout time.Duration // how long a dial across a Drop partition hangs
	Trace          *trace.Trace
}

func (c Config) withDefaults() Config {
	if c.LatencyMax == 0 {
		c.LatencyMin, c.LatencyMax = 200*time.Microsecond, 2*time.Millisecond
	}
	if c.LatencyMin > c.LatencyMax {
		c.LatencyMin = c.LatencyMax
	}
	if c.WindowBytes == 0 {
		c.WindowBytes = 256 << 10
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = 64 << 10
	}
	if c.Backlog == 0 {
		c.Backlog = 128
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = time.Second
	}
	return c
}

// Net is the whole simulated network.
type Net struct {
	cfg    Config
	tr     *trace.Trace
	mu     sync.Mutex
	rng    *rand.Rand
	hosts  map[string]*host
	links  map[linkKey]*link
	held   map[*pipe]bool
	connID uint64
	sig    chan struct{} // closed and replaced when links heal or hosts change
}

type linkKey struct{ from, to string }

type link struct {
	latency time.Duration
	mode    Mode
	loss    float64 // probability a delivery resets the connection
	extra   time.Duration
}

type host struct {
	name     string
	id       uint64 // trace.Str(name)
	inc      *incarnation
	gen      int
	nextPort int
}

type incarnation struct {
	host      *host
	gen       int
	dead      bool
	silent    bool // died without a word (CrashSilent): peers learn it by timeout
	listeners map[int]*listener
	ends      map[uint64]*endpoint
}

// New returns an empty network.
func New(cfg Config) *Net {
	cfg = cfg.withDefaults()
	return &Net{
		cfg:   cfg,
		tr:    cfg.Trace,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed5eed5eed5eed)),
		hosts: map[string]*host{},
		links: map[linkKey]*link{},
		held:  map[*pipe]bool{},
		sig:   make(chan struct{}),
	}
}

// broadcastLocked wakes everything waiting for a link or host change.
func (n *Net) broadcastLocked() {
	close(n.sig)
	n.sig = make(chan struct{})
}

// Node returns the network as seen by the current incarnation of host name,
// creating the host on first use.
func (n *Net) Node(name string) *Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.hostLocked(name)
	return &Node{net: n, inc: h.inc}
}

var _ jio.Network = (*Node)(nil)

func (n *Net) hostLocked(name string) *host {
	h := n.hosts[name]
	if h == nil {
		h = &host{name: name, id: trace.Str(name), nextPort: 40000}
		h.inc = newIncarnation(h, 0)
		n.hosts[name] = h
		n.tr.Record(trace.NodeStart, h.id, 0, 1)
	}
	return h
}

func newIncarnation(h *host, gen int) *incarnation {
	return &incarnation{host: h, gen: gen, listeners: map[int]*listener{}, ends: map[uint64]*endpoint{}}
}

// linkLocked returns the directed link, drawing its latency on first use.
func (n *Net) linkLocked(from, to string) *link {
	k := linkKey{from, to}
	l := n.links[k]
	if l == nil {
		span := int64(n.cfg.LatencyMax - n.cfg.LatencyMin)
		lat := n.cfg.LatencyMin
		if span > 0 {
			lat += time.Duration(n.rng.Int64N(span + 1))
		}
		if from == to {
			lat = n.cfg.LatencyMin / 4
		}
		l = &link{latency: lat}
		n.links[k] = l
	}
	return l
}

// delayLocked is the one-way delay of the next segment on a link.
func (n *Net) delayLocked(l *link) time.Duration {
	d := l.latency + l.extra
	if n.cfg.Jitter > 0 {
		d += time.Duration(n.rng.Int64N(int64(n.cfg.Jitter)))
	}
	return d
}

// Crash kills the current incarnation of host: listeners vanish, every
// connection is reset for its peers, undelivered data it sent is dropped,
// and all its later calls block forever. A no-op if already dead.
func (n *Net) Crash(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.hostLocked(name)
	inc := h.inc
	if inc.dead {
		return
	}
	inc.dead = true
	n.tr.Record(trace.NodeCrash, h.id, uint64(inc.gen), 0)
	for _, port := range sortedPorts(inc.listeners) {
		inc.listeners[port].closeLocked()
	}
	for _, id := range sortedIDs(inc.ends) {
		inc.ends[id].resetLocked(resetCrash)
	}
	n.broadcastLocked()
}

// CrashSilent kills the current incarnation of host as a power cut or a
// cable pulled does: no reset reaches its peers. Its listeners vanish, but
// dials to it hang until the connect timeout (nothing answers); its open
// connections stay open for their peers, who get nothing more from it and
// whose writes pile up unanswered until their own timeouts. When the host
// comes back (Restart) those connections are reset, as a rebooted host
// answers a segment of a connection it does not know. A no-op if already
// dead.
func (n *Net) CrashSilent(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.hostLocked(name)
	inc := h.inc
	if inc.dead {
		return
	}
	inc.dead, inc.silent = true, true
	n.tr.Record(trace.NodeCrash, h.id, uint64(inc.gen), 1)
	for _, port := range sortedPorts(inc.listeners) {
		inc.listeners[port].closeLocked()
	}
	n.broadcastLocked()
}

// Restart gives host a new live incarnation (crashing the old one first if
// it is still alive) and returns its network.
func (n *Net) Restart(name string) *Node {
	n.Crash(name)
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.hostLocked(name)
	if old := h.inc; old.silent {
		for _, id := range sortedIDs(old.ends) {
			old.ends[id].resetLocked(resetCrash)
		}
		old.silent = false
	}
	h.gen++
	h.inc = newIncarnation(h, h.gen)
	n.tr.Record(trace.NodeStart, h.id, uint64(h.gen), 0)
	n.broadcastLocked()
	return &Node{net: n, inc: h.inc}
}

// Block partitions the directed link from -> to with mode (Drop or Hold).
// Drop resets every connection between the two hosts at once.
func (n *Net) Block(from, to string, mode Mode) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.linkLocked(from, to)
	l.mode = mode
	n.tr.Record(trace.NetBlock, trace.Str(from), trace.Str(to), uint64(mode))
	if mode == Drop {
		n.resetBetweenLocked(from, to)
	}
}

// Heal opens the directed link and releases data held on it.
func (n *Net) Heal(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.healLocked(from, to)
}

func (n *Net) healLocked(from, to string) {
	l := n.linkLocked(from, to)
	if l.mode == Open {
		return
	}
	l.mode = Open
	n.tr.Record(trace.NetHeal, trace.Str(from), trace.Str(to), 0)
	for _, p := range n.sortedHeldLocked() {
		if p.from == from && p.to == to {
			delete(n.held, p)
			p.armLocked(n.delayLocked(l))
		}
	}
	n.broadcastLocked() // dials waiting on a Hold partition re-check
}

// HealAll opens every link and clears loss and extra delay.
func (n *Net) HealAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, k := range n.sortedLinksLocked() {
		n.links[k].loss, n.links[k].extra = 0, 0
		n.healLocked(k.from, k.to)
	}
}

// Isolate blocks all traffic between host and every other known host, both ways.
func (n *Net) Isolate(name string, mode Mode) {
	for _, other := range n.Hosts() {
		if other != name {
			n.Block(name, other, mode)
			n.Block(other, name, mode)
		}
	}
}

// SetLoss makes each delivery on from -> to reset its connection with
// probability p, and adds extra delay; zero values restore the link.
func (n *Net) SetLoss(from, to string, p float64, extra time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.linkLocked(from, to)
	l.loss, l.extra = p, extra
}

// Hosts returns the known host names, sorted.
func (n *Net) Hosts() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, h := range n.sortedHostsLocked() {
		out = append(out, h.name)
	}
	return out
}

func (n *Net) resetBetweenLocked(a, b string) {
	for _, name := range []string{a, b} {
		h := n.hosts[name]
		if h == nil {
			continue
		}
		for _, id := range sortedIDs(h.inc.ends) {
			e := h.inc.ends[id]
			if e.peerHost == a || e.peerHost == b {
				if e.peerHost != name || a == b {
					e.resetLocked(resetPartition)
				}
			}
		}
	}
}

func (n *Net) sortedHostsLocked() []*host {
	names := make([]string, 0, len(n.hosts))
	for name := range n.hosts {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]*host, len(names))
	for i, name := range names {
		out[i] = n.hosts[name]
	}
	return out
}

func (n *Net) sortedLinksLocked() []linkKey {
	keys := make([]linkKey, 0, len(n.links))
	for k := range n.links {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].from != keys[j].from {
			return keys[i].from < keys[j].from
		}
		return keys[i].to < keys[j].to
	})
	return keys
}

func (n *Net) sortedHeldLocked() []*pipe {
	out := make([]*pipe, 0, len(n.held))
	for p := range n.held {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func sortedPorts(m map[int]*listener) []int {
	out := make([]int, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

func sortedIDs(m map[uint64]*endpoint) []uint64 {
	out := make([]uint64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
