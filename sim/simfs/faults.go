package simfs

import (
	"sort"
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
func (d *Disk) sleep() {
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
