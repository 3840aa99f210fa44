// Package simfs is the simulator's file system: an afero.Fs per process
// incarnation over a per-node Disk that survives crashes.
//
// The Disk keeps, per file, the current bytes (what reads see: the page
// cache) apart from the durable bytes (what the last successful Sync made
// durable), and the current directory entries apart from the durable ones
// (a create, rename or remove is durable only after the parent directory is
// synced; jio.SyncDir opens the directory and calls Sync).
//
// A process crash freezes the incarnation (its later calls block forever)
// and keeps the page cache; a machine crash also drops unsynced data, or
// tears it (keeps a random prefix of the unsynced bytes, sometimes followed
// by zeros), per seed. Faults: fsync failure, write failure, disk full,
// slow I/O, a corrupted stored byte, a bit flipped in the synced bytes of a
// partition's segment file (silent media corruption) and, for the
// self-test, a lying fsync.
package simfs

import (
	"math/rand/v2"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jocko/jocko/sim/gate"
	"github.com/jocko/jocko/sim/trace"
)

// CrashKind says what a crash does to unsynced data.
type CrashKind uint8

const (
	// ProcessCrash keeps the page cache: nothing written is lost.
	ProcessCrash CrashKind = iota
	// MachineCrash drops everything not synced (data and directory entries).
	MachineCrash
	// TornCrash is a machine crash that keeps a random prefix of each file's
	// unsynced bytes, sometimes followed by zeros (size updated, data not).
	TornCrash
)

// Fault kinds recorded in the trace.
const (
	faultSyncFail = iota + 1
	faultWriteFail
	faultNoSpace
	faultCorrupt
	faultLie
	faultSetting
	faultWipe
	faultReadFail
	faultBitFlip
)

// Disk is one node's durable storage; it outlives incarnations.
type Disk struct {
	mu   sync.Mutex
	name string
	hid  uint64
	tr   *trace.Trace
	rng  *rand.Rand
	cur  map[string]*inode // entries as the running process sees them
	dur  map[string]*inode // entries that survive a machine crash
	inc  *incarnation
	// frozen, closed while a pause fault lasts, holds every file
	// operation where it starts (Freeze).
	frozen gate.Gate
	gen    int
	used   int64

	syncFail, writeFail, readFail float64
	capacity                      int64 // 0: unlimited
	slow                          time.Duration
	lying                         bool
	syncMin, syncMax              time.Duration // latency of every Sync
	crashHook                     func()        // runs inside crashInc's next Sync, before durability
	crashInc                      *incarnation  // the incarnation crashHook was armed for
}

type incarnation struct {
	gen  int
	dead bool
}

type inode struct {
	dir       bool
	data      []byte // current contents
	durable   []byte // contents as of the last successful Sync
	dirtyFrom int    // lowest offset changed since the last Sync; <= len(durable)
	mtime     time.Time
	// lost are the byte ranges a failed fsync was asked to write: Linux
	// marks such pages clean, so they stay readable in the page cache
	// but never reach the disk, not even with a later successful fsync
	// (PostgreSQL's "fsyncgate"). A sync or crash keeps the old durable
	// bytes there (zeros past the old end).
	lost [][2]int
}

// relose takes [lo, hi), written again (its pages dirty again), out of
// the lost ranges.
func (ino *inode) relose(lo, hi int) {
	if len(ino.lost) == 0 {
		return
	}
	var out [][2]int
	for _, r := range ino.lost {
		if r[1] <= lo || r[0] >= hi {
			out = append(out, r)
			continue
		}
		if r[0] < lo {
			out = append(out, [2]int{r[0], lo})
		}
		if r[1] > hi {
			out = append(out, [2]int{hi, r[1]})
		}
	}
	ino.lost = out
}

// unlose puts the durable bytes of old back over the lost ranges of b.
func (ino *inode) unlose(b, old []byte) []byte {
	for _, r := range ino.lost {
		for i := r[0]; i < r[1] && i < len(b); i++ {
			if i < len(old) {
				b[i] = old[i]
			} else {
				b[i] = 0
			}
		}
	}
	return b
}

// NewDisk returns an empty disk whose root ("/") and the given directories
// exist durably.
func NewDisk(name string, seed uint64, tr *trace.Trace, dirs ...string) *Disk {
	d := &Disk{name: name, hid: trace.Str(name), tr: tr,
		rng: rand.New(rand.NewPCG(seed, trace.Str(name))),
		cur: map[string]*inode{}, dur: map[string]*inode{}}
	root := &inode{dir: true}
	d.cur["/"], d.dur["/"] = root, root
	for _, dir := range dirs {
		p := clean(dir)
		for _, a := range ancestors(p) {
			if d.cur[a] == nil {
				ino := &inode{dir: true}
				d.cur[a], d.dur[a] = ino, ino
			}
		}
	}
	d.inc = &incarnation{}
	return d
}

// Mount returns the file system of a new incarnation; the previous one, if
// still alive, is crashed as a process crash first.
func (d *Disk) Mount() *FS {
	d.Crash(ProcessCrash)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	d.inc = &incarnation{gen: d.gen}
	return &FS{d: d, inc: d.inc}
}

// Crash freezes the current incarnation and applies kind to unsynced data.
func (d *Disk) Crash(kind CrashKind) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inc.dead = true
	if kind == ProcessCrash {
		return
	}
	d.tr.Record(trace.NodeCrash, d.hid, uint64(d.gen), uint64(kind))
	cur := map[string]*inode{}
	for _, p := range sortedPaths(d.dur) {
		if p != "/" && cur[parent(p)] == nil {
			continue // its directory entry was never made durable
		}
		ino := d.dur[p]
		cur[p] = ino
		if !ino.dir {
			d.crashInode(ino, kind)
		}
	}
	d.cur = cur
	d.used = 0
	for _, ino := range cur {
		d.used += int64(len(ino.data))
	}
}

func (d *Disk) crashInode(ino *inode, kind CrashKind) {
	kept := append([]byte(nil), ino.durable...)
	if kind == TornCrash && len(ino.data) > ino.dirtyFrom {
		region := ino.data[ino.dirtyFrom:]
		k := d.rng.IntN(len(region) + 1)
		kept = writeAt(kept, region[:k], ino.dirtyFrom)
		if d.rng.IntN(2) == 0 && k < len(region) {
			z := d.rng.IntN(len(region)-k) + 1
			kept = writeAt(kept, make([]byte, z), ino.dirtyFrom+k)
		}
		kept = ino.unlose(kept, ino.durable)
	}
	ino.lost = nil
	ino.data = kept
	ino.durable = append([]byte(nil), kept...)
	ino.dirtyFrom = len(kept)
}

// sync makes an inode's current bytes durable.
func (ino *inode) sync() {
	from := min(ino.dirtyFrom, len(ino.durable))
	if len(ino.lost) > 0 {
		old := ino.durable
		ino.durable = ino.unlose(append(append([]byte(nil), old[:from]...), ino.data[from:]...), old)
		ino.lost = nil
	} else {
		ino.durable = append(ino.durable[:from], ino.data[from:]...)
	}
	ino.dirtyFrom = len(ino.durable)
}

// syncDirLocked makes the entries directly under dir durable.
func (d *Disk) syncDirLocked(dir string) int {
	n := 0
	for _, p := range unionPaths(d.cur, d.dur) {
		if p == "/" || parent(p) != dir {
			continue
		}
		if ino := d.cur[p]; ino != nil {
			d.dur[p] = ino
		} else {
			delete(d.dur, p)
		}
		n++
	}
	return n
}

func writeAt(b, p []byte, off int) []byte {
	if end := off + len(p); end > len(b) {
		b = append(b, make([]byte, end-len(b))...)
	}
	copy(b[off:], p)
	return b
}

func clean(p string) string { return path.Clean("/" + strings.ReplaceAll(p, "\\", "/")) }

func parent(p string) string { return path.Dir(p) }

// ancestors lists p's ancestors and p itself, root first, without "/".
func ancestors(p string) []string {
	var out []string
	for q := p; q != "/"; q = path.Dir(q) {
		out = append(out, q)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func sortedPaths(m map[string]*inode) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out) // a parent sorts before its children
	return out
}

func unionPaths(a, b map[string]*inode) []string {
	seen := make(map[string]*inode, len(a)+len(b))
	for p, v := range a {
		seen[p] = v
	}
	for p, v := range b {
		seen[p] = v
	}
	return sortedPaths(seen)
}

// Wipe crashes the current incarnation and loses everything on the disk
// (an operator's rm -rf, a replaced drive) but the given directories, which
// are left empty.
func (d *Disk) Wipe(keep ...string) {
	d.Crash(MachineCrash)
	d.mu.Lock()
	defer d.mu.Unlock()
	root := &inode{dir: true}
	d.cur, d.dur, d.used = map[string]*inode{"/": root}, map[string]*inode{"/": root}, 0
	for _, dir := range keep {
		for _, a := range ancestors(clean(dir)) {
			if d.cur[a] == nil {
				ino := &inode{dir: true}
				d.cur[a], d.dur[a] = ino, ino
			}
		}
	}
	d.tr.Record(trace.FSFault, d.hid, faultWipe, 0)
}
