package core

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	jio "github.com/jocko/jocko/io"
)

// Disk-full protection (as Redpanda's storage_min_free_bytes): while the
// data directory's file system has less free space than
// log.disk.free.min.bytes, or than log.disk.free.min.percent of its
// capacity, produce is refused with KAFKA_STORAGE_ERROR, which clients
// retry. Fetch, replication, offset commits and the metadata log go on:
// the reserve is there for them. Produce resumes by itself once space
// returns (retention, deleted topics, an operator). A write that still
// meets a full disk is recovered in place (storage.ErrNoSpace) and makes
// the guard look again at once.

// diskCheckEvery is how stale the guard's view of free space may be; a
// statfs costs about a microsecond, so the produce path may ask that often.
const diskCheckEvery = 250 * time.Millisecond

// defaultReserveShare: the built-in log.disk.free.min.bytes is at most
// 1/defaultReserveShare of the file system.
const defaultReserveShare = 20

// errDiskFull refuses a produce while the disk is below its reserve.
var errDiskFull = errors.New("disk space below the reserve")

// diskGuard is the broker's view of its data directory's free space.
type diskGuard struct {
	// okUntil is the Unix nanosecond up to which produce may go on without
	// a new read (0: read now): the produce path's lock-free check while
	// there is room.
	okUntil atomic.Int64
	mu      sync.Mutex // guards refusal and serializes the reads
	refusal error      // why produce is refused; nil while there is room
}

// refuseForDisk returns why a produce must be refused now (wrapping
// errDiskFull), or nil. While there is room it reads the file system's
// space at most every diskCheckEvery; while it refuses, at every produce
// (so produce resumes as soon as space returns or the reserve is
// lowered). It logs when produce stops and when it resumes.
func (b *Broker) refuseForDisk() error {
	g := &b.disk
	now := b.env.Clock.Now().UnixNano()
	if now < g.okUntil.Load() {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	was := g.refusal
	g.refusal = b.diskRefusal()
	if g.refusal == nil {
		g.okUntil.Store(now + int64(diskCheckEvery))
	}
	switch {
	case g.refusal != nil && was == nil:
		b.log.Warn("refusing produce: disk space low; produce resumes by itself when space returns (lower retention, delete topics or free space on the file system)", "reason", g.refusal, "data_dir", b.cfg.DataDir)
	case g.refusal == nil && was != nil:
		b.log.Info("disk space recovered: accepting produce again", "data_dir", b.cfg.DataDir)
	}
	return g.refusal
}

// diskRefusal reads the file system's space and compares it with the
// reserve settings.
func (b *Broker) diskRefusal() error {
	st := b.node.State()
	mb, src := b.brokerSetting(st, "log.disk.free.min.bytes")
	minBytes, _ := strconv.ParseInt(mb, 10, 64)
	v, _ := b.brokerSetting(st, "log.disk.free.min.percent")
	minPct, _ := strconv.ParseFloat(v, 64)
	if minBytes <= 0 && minPct <= 0 {
		return nil
	}
	ds, err := jio.DiskSpaceOf(b.env.FS, b.cfg.DataDir)
	if err != nil || ds.Total <= 0 {
		return nil // capacity unknown: nothing to hold produce back for
	}
	if src == sourceDefault {
		// Nobody chose the reserve: on a small file system (a test
		// volume, a small container disk) 128 MiB would refuse every
		// produce, so the default is at most a twentieth of it.
		minBytes = min(minBytes, ds.Total/defaultReserveShare)
	}
	if ds.Free < minBytes {
		return fmt.Errorf("%w: %d bytes free of %d, under log.disk.free.min.bytes=%d", errDiskFull, ds.Free, ds.Total, minBytes)
	}
	if pct := 100 * float64(ds.Free) / float64(ds.Total); pct < minPct {
		return fmt.Errorf("%w: %.2f%% free (%d of %d bytes), under log.disk.free.min.percent=%s", errDiskFull, pct, ds.Free, ds.Total, v)
	}
	return nil
}

// noteNoSpace is told that a write met a full file system: the next
// produce reads the free space again.
func (b *Broker) noteNoSpace() {
	b.disk.okUntil.Store(0)
}
