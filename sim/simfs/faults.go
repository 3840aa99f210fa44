package simfs

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/sim/trace"
)

// SetSyncFail makes each Sync fail (EIO, data stays unsynced) with probability p.
func (d *Disk) SetSyncFail(p float64) { d.set(func() { d.syncFail = p }, 1, p) }

// SetWriteFail makes each write fail (EIO, nothing written) with probability p.
func (d *Disk) SetWriteFail(p float64) { d.set(func() { d.writeFail = p }, 2, p) }

// SetReadFail makes each read fail (EIO, nothing read) with probability p.
func (d *Disk) SetReadFail(p float64) { d.set(func() { d.readFail = p }, 7, p) }

// SetCapacity limits the bytes all files may hold; writes beyond it fail with
// ENOSPC. Zero removes the limit.
func (d *Disk) SetCapacity(bytes int64) { d.set(func() { d.capacity = bytes }, 3, float64(bytes)) }

// SetSlow makes every operation take between dur and 2*dur of (virtual) time.
func (d *Disk) SetSlow(dur time.Duration) { d.set(func() { d.slow = dur }, 4, float64(dur)) }

// SetLyingFsync makes Sync report success without making anything durable
// (file data and directory entries alike). For the simulator's self-test.
func (d *Disk) SetLyingFsync(on bool) {
	v := 0.0
	if on {
		v = 1
	}
	d.set(func() { d.lying = on }, 5, v)
}

// Heal removes every fault setting (capacity limits included).
func (d *Disk) Heal() {
	d.set(func() { d.syncFail, d.writeFail, d.readFail, d.capacity, d.slow = 0, 0, 0, 0, 0 }, 6, 0)
}

// Used returns the bytes currently held by files.
func (d *Disk) Used() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.used
}

func (d *Disk) set(f func(), what uint64, v float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f()
	d.tr.Record(trace.FSFault, d.hid, faultSetting, what<<56|uint64(v*1e6)&(1<<56-1))
}

// Corrupt flips one bit of one stored byte of a random non-empty file, in
// the page cache and on disk alike (bit rot). It returns the file and offset,
// or "" if there is no file to corrupt.
func (d *Disk) Corrupt() (string, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var files []string
	for p, ino := range d.cur {
		if !ino.dir && len(ino.durable) > 0 {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return "", 0
	}
	sort.Strings(files)
	p := files[d.rng.IntN(len(files))]
	ino := d.cur[p]
	off := d.rng.IntN(len(ino.durable))
	bit := byte(1) << d.rng.IntN(8)
	ino.durable[off] ^= bit
	if off < len(ino.data) {
		ino.data[off] ^= bit
	}
	d.tr.Record(trace.FSFault, d.hid, faultCorrupt, trace.Str(p)^uint64(off))
	return p, off
}

// sleep applies slow I/O; call without the lock held.
// Freeze stops every file operation of the running process where it
// starts, until Thaw (a pause fault: the process is stopped, SIGSTOP).
func (d *Disk) Freeze() { d.frozen.Close() }

// Thaw lets frozen file operations go on.
func (d *Disk) Thaw() { d.frozen.Open() }

func (d *Disk) sleep() {
	d.frozen.Wait()
	d.mu.Lock()
	s := d.slow
	var extra time.Duration
	if s > 0 {
		extra = time.Duration(d.rng.Int64N(int64(s)))
	}
	d.mu.Unlock()
	if s > 0 {
		time.Sleep(s + extra)
	}
}

// failLocked draws whether an operation with failure probability p fails.
func (d *Disk) failLocked(p float64) bool {
	return p > 0 && d.rng.Float64() < p
}

// SetSyncLatency makes every Sync take between min and max of (virtual)
// time; data becomes durable at the end of it. Without latency a crash can
// never land while an fsync is in flight.
func (d *Disk) SetSyncLatency(min, max time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.syncMin, d.syncMax = min, max
}

// CrashDuringNextSync arms fn to run inside the next Sync of the current
// incarnation, after its latency and before anything becomes durable; fn is
// expected to crash the node (the Sync then never returns). nil disarms.
// The hook is aimed at the incarnation running now: once it is dead, no
// later incarnation's Sync fires it (it could fire while the next one is
// still being booted, with its launcher holding the locks fn needs).
func (d *Disk) CrashDuringNextSync(fn func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.crashHook, d.crashInc = fn, d.inc
}

func (d *Disk) syncLatencyLocked() time.Duration {
	lat := d.syncMin
	if span := d.syncMax - d.syncMin; span > 0 {
		lat += time.Duration(d.rng.Int64N(int64(span)))
	}
	return lat
}

// DiskSpace implements jio.DiskSpacer: the capacity SetCapacity gave the
// disk and what its files leave of it (Total 0: no capacity set).
func (fs *FS) DiskSpace(string) (jio.DiskSpace, error) {
	fs.lock()
	defer fs.unlock()
	d := fs.d
	if d.capacity <= 0 {
		return jio.DiskSpace{}, nil
	}
	return jio.DiskSpace{Total: d.capacity, Free: max(0, d.capacity-d.used)}, nil
}

// BitFlip is one bit FlipSyncedBit flipped.
type BitFlip struct {
	Path string // the segment file
	Off  int    // the byte's position in it
	Bit  uint8  // which bit of it (0: the least significant)
}

func (f BitFlip) String() string { return fmt.Sprintf("%s byte %d bit %d", f.Path, f.Off, f.Bit) }

// FlipSyncedBit flips one bit of one synced byte of a partition's segment
// file under root (root/<topic>-<partition>/*.log: not the metadata Raft's
// files, not index files), as silent media corruption does: the byte is
// wrong on disk, so it is wrong in what later reads return and in what
// survives any crash (current and durable contents alike), and stays so
// until the file is written over there. The byte is drawn from the file's
// clean synced prefix, the bytes that are durable and have not been
// written since the last sync (a dirty page would be written over the
// flip at the next sync). Only files with such bytes are candidates.
//
// draw(n) gives each choice in [0, n): the file among the candidates
// (sorted by path), the byte, the bit; nil draws from the disk's rng. It
// reports false, flipping nothing, when no file qualifies. The flip is
// recorded in the trace, naming file, position and bit.
func (d *Disk) FlipSyncedBit(root string, draw func(n int) int) (BitFlip, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if draw == nil {
		draw = d.rng.IntN
	}
	root = clean(root)
	var files []string
	for p, ino := range d.cur {
		if !ino.dir && isSegmentFile(root, p) && cleanSynced(ino) > 0 {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return BitFlip{}, false
	}
	sort.Strings(files)
	p := files[draw(len(files))]
	ino := d.cur[p]
	f := BitFlip{Path: p, Off: draw(cleanSynced(ino)), Bit: uint8(draw(8))}
	ino.durable[f.Off] ^= 1 << f.Bit
	ino.data[f.Off] ^= 1 << f.Bit
	d.tr.Record(trace.FSFault, d.hid, faultBitFlip, trace.Str(f.String()))
	return f, true
}

// cleanSynced is the length of ino's prefix that is durable and unchanged
// since the last sync (below dirtyFrom, where no lost range lies either).
func cleanSynced(ino *inode) int {
	return max(0, min(len(ino.durable), len(ino.data), ino.dirtyFrom))
}

// isSegmentFile reports whether p is a partition log segment,
// root/<topic>-<partition>/<name>.log.
func isSegmentFile(root, p string) bool {
	dir := path.Dir(p)
	if path.Dir(dir) != root || path.Ext(p) != ".log" {
		return false
	}
	name := path.Base(dir)
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return false
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
