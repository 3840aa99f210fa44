package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/spf13/afero"

	"github.com/jocko/jocko/cluster"
	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/wire"
)

// snapshots are a partition's producer-state snapshot files
// (producer_snapshot.go has their format). One is taken after each segment
// roll and at a clean shutdown; opening loads the newest one at or below
// the recovered log end and replays the batch headers after it, so a
// restart reads what came after the last snapshot instead of the whole log.
//
// A snapshot at offset X must describe the log's first X offsets as they
// are: the log below X never changes except by truncation, which deletes
// the snapshots above its cut (durably, before the log may grow again) and
// moves gen, so that a snapshot encoded before it is never written after
// it. A snapshot above the recovered log end (the crash lost the tail it
// describes) is deleted at open.
type snapshots struct {
	dir string // the partition's directory

	// mu guards offs, gen and closed, and the snapshot files themselves:
	// whoever writes or deletes one holds it. Lock order: the partition's
	// mu, then this one.
	mu     sync.Mutex
	offs   []int64 // offsets of the snapshot files, ascending
	gen    uint64  // moved by truncation, which also holds the partition's mu (so either lock reads it)
	closed bool    // the partition is closing or deleted: write nothing more

	pending atomic.Bool // a roll's snapshot is scheduled and not yet started
}

// producerExpirationMs is producer.id.expiration.ms.
func (b *Broker) producerExpirationMs() int64 {
	var st *cluster.State
	if b.node != nil {
		st = b.node.State()
	}
	return b.brokerInt(st, "producer.id.expiration.ms")
}

// listSnapshots finds the snapshot files in the partition's directory.
func (p *partition) listSnapshots() error {
	infos, err := afero.ReadDir(p.b.env.FS, p.snap.dir)
	if err != nil {
		return err
	}
	p.snap.mu.Lock()
	defer p.snap.mu.Unlock()
	p.snap.offs = p.snap.offs[:0]
	for _, fi := range infos {
		if off, ok := parseSnapshotName(fi.Name()); ok && !fi.IsDir() {
			p.snap.offs = append(p.snap.offs, off)
		}
	}
	slices.Sort(p.snap.offs)
	return nil
}

// snapshotRolled is the log's roll hook: it schedules a snapshot of the
// producer table, as Kafka takes one at each roll. The hook runs under the
// log's lock, often inside an append that holds the partition's mu, so a
// goroutine takes it (Run owns it, through spawn); one that is scheduled
// and not started yet covers later rolls too.
func (p *partition) snapshotRolled(int64) {
	if !p.snap.pending.CompareAndSwap(false, true) {
		return
	}
	p.b.spawn(func(context.Context) {
		p.snap.pending.Store(false)
		if err := p.takeSnapshot(); err != nil {
			p.b.log.Warn("producer snapshot", "topic", p.topic, "partition", p.index, "err", err)
		}
	})
}

// takeSnapshot writes the producer table as it stands at the log end,
// unless a snapshot of that offset exists. Expired producers are dropped
// from the table first, so the file and the table agree.
func (p *partition) takeSnapshot() error {
	now, exp := p.b.env.Clock.Now().UnixMilli(), p.b.producerExpirationMs()
	p.mu.Lock()
	if p.err() != nil {
		p.mu.Unlock()
		return nil
	}
	off, gen := p.log.EndOffset(), p.snap.gen
	p.producers.expire(now, exp)
	data, err := encodeSnapshot(off, &p.producers)
	p.mu.Unlock()
	if err != nil {
		return err
	}
	p.snap.mu.Lock()
	defer p.snap.mu.Unlock()
	if p.snap.closed || gen != p.snap.gen || slices.Contains(p.snap.offs, off) {
		return nil
	}
	// Temporary file, fsync, rename, directory fsync: a crash leaves the
	// old set of snapshots or the new one, never a torn file under a
	// snapshot's name (a leftover .tmp is removed by storage.Open).
	if err := jio.WriteFileAtomic(p.b.env.FS, filepath.Join(p.snap.dir, snapshotName(off)), data); err != nil {
		return err
	}
	i, _ := slices.BinarySearch(p.snap.offs, off)
	p.snap.offs = slices.Insert(p.snap.offs, i, off)
	return nil
}

// closeSnapshots writes the clean-shutdown snapshot when snapshot is set,
// then stops further snapshots: the partition is being closed (or
// deleted, when snapshot is false).
func (p *partition) closeSnapshots(snapshot bool) {
	if snapshot {
		if err := p.takeSnapshot(); err != nil {
			p.b.log.Warn("producer snapshot at shutdown", "topic", p.topic, "partition", p.index, "err", err)
		}
	}
	p.snap.mu.Lock()
	p.snap.closed = true
	p.snap.mu.Unlock()
}

// loadProducers rebuilds the producer table: from the newest snapshot at
// or below the log end that passes its checks (a corrupt one is deleted
// and the next older tried; with none, from the log start), then the
// headers of the batches after it, then expiry. Snapshots above the log
// end are deleted first. The caller holds p.mu, or p is not yet shared.
func (p *partition) loadProducers() error {
	end := p.log.EndOffset()
	p.snap.mu.Lock()
	err := p.removeSnapshotsLocked(func(off int64) bool { return off > end }, true)
	offs := slices.Clone(p.snap.offs)
	p.snap.mu.Unlock()
	if err != nil {
		return err
	}
	var st producerState
	from := p.log.StartOffset()
	for i := len(offs) - 1; i >= 0; i-- {
		s, err := p.readSnapshot(offs[i])
		if err == nil {
			st, from = s, offs[i]
			break
		}
		p.b.log.Warn("producer snapshot unusable, trying an older one", "topic", p.topic, "partition", p.index,
			"offset", offs[i], "err", err)
		if errors.Is(err, errSnapshotCorrupt) {
			p.snap.mu.Lock()
			err = p.removeSnapshotsLocked(func(off int64) bool { return off == offs[i] }, false)
			p.snap.mu.Unlock()
			if err != nil {
				return err
			}
		}
	}
	err = p.log.BatchHeaders(from, func(h wire.BatchHeader) error {
		if h.BaseOffset >= from { // a snapshot's offset is a batch boundary
			recordHeader(&st, h)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay producer state from offset %d: %w", from, err)
	}
	st.expire(p.b.env.Clock.Now().UnixMilli(), p.b.producerExpirationMs())
	p.producers = st
	return nil
}

// readSnapshot reads and checks the snapshot at off.
func (p *partition) readSnapshot(off int64) (producerState, error) {
	f, err := p.b.env.FS.Open(filepath.Join(p.snap.dir, snapshotName(off)))
	if err != nil {
		return producerState{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return producerState{}, err
	}
	if fi.Size() > snapshotBytesMax {
		return producerState{}, fmt.Errorf("%w: %d bytes", errSnapshotCorrupt, fi.Size())
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return producerState{}, err
	}
	return decodeSnapshot(b, off)
}

// removeSnapshotsLocked deletes the snapshots del picks, then fsyncs the
// directory if durable is set. snap.mu is held.
func (p *partition) removeSnapshotsLocked(del func(int64) bool, durable bool) error {
	fs, kept, removed := p.b.env.FS, p.snap.offs[:0], false
	var err error
	for _, off := range p.snap.offs {
		if !del(off) || err != nil {
			kept = append(kept, off)
			continue
		}
		if rerr := fs.Remove(filepath.Join(p.snap.dir, snapshotName(off))); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
			kept = append(kept, off)
			continue
		}
		removed = true
	}
	p.snap.offs = kept
	if err == nil && removed && durable {
		err = jio.SyncDir(fs, p.snap.dir)
	}
	return err
}

// producersTruncated rebuilds the producer table after the log was cut at
// offset (a follower matching its leader). p.mu is held. Snapshots above
// the cut describe batches that are gone: they are deleted, and the table
// comes from an older snapshot and the log after it. A cut below the log
// start emptied the log: the table starts empty with no snapshot, as
// Kafka's truncateFullyAndStartAt.
func (p *partition) producersTruncated(offset int64, full bool) error {
	p.snap.mu.Lock()
	p.snap.gen++
	var err error
	if full {
		err = p.removeSnapshotsLocked(func(int64) bool { return true }, true)
	}
	p.snap.mu.Unlock()
	if err != nil {
		return err
	}
	p.producers = producerState{}
	return p.loadProducers()
}

// pruneSnapshots deletes the snapshots below the log start, all but the
// newest (which may lie below it after DeleteRecords): retention deleted
// the segments they came after. Not fsynced: one that comes back after a
// crash is pruned again.
func (p *partition) pruneSnapshots() error {
	start := p.log.StartOffset()
	p.snap.mu.Lock()
	defer p.snap.mu.Unlock()
	if len(p.snap.offs) < 2 {
		return nil
	}
	newest := p.snap.offs[len(p.snap.offs)-1]
	return p.removeSnapshotsLocked(func(off int64) bool { return off < start && off != newest }, false)
}

// expireProducers forgets the producers idle for producer.id.expiration.ms
// (run with retention, every log.retention.check.interval.ms).
func (p *partition) expireProducers() int {
	now, exp := p.b.env.Clock.Now().UnixMilli(), p.b.producerExpirationMs()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.producers.expire(now, exp)
}

// recordProducer remembers an idempotent batch stored at base in the
// producer table (follower appends). p.mu is held.
func (p *partition) recordProducer(h wire.BatchHeader, base int64) {
	h.BaseOffset = base
	recordHeader(&p.producers, h)
}

// recordHeader remembers the batch with header h, as stored, in s if it
// is idempotent, and a transaction marker's epoch and time (its
// coordinator epoch is in the record, which the scan does not read).
func recordHeader(s *producerState, h wire.BatchHeader) {
	if h.Control() && h.ProducerID >= 0 {
		s.marker(h.ProducerID, h.ProducerEpoch, -1, h.MaxTimestamp)
		return
	}
	if h.ProducerID >= 0 && h.BaseSequence >= 0 {
		s.record(h.ProducerID, h.ProducerEpoch, producerBatch{
			firstSeq: h.BaseSequence, lastSeq: lastSeqOf(h.BaseSequence, h.LastOffsetDelta+1),
			firstOffset: h.BaseOffset, lastOffset: h.BaseOffset + int64(h.LastOffsetDelta),
			maxTs: h.MaxTimestamp,
		})
	}
}

// storedMaxTimestamp is the MaxTimestamp of a batch as the log stores it
// (after a LogAppendTime rewrite).
func storedMaxTimestamp(batch []byte) int64 {
	h, _ := wire.ParseBatchHeader(batch)
	return h.MaxTimestamp
}
