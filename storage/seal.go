package storage

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/spf13/afero"

	jio "github.com/jocko/jocko/io"
)

// sealJob is what is left of sealing a segment once the log has moved on
// to the next one, done by the Syncs that follow, outside mu, in two
// stages:
//
//  1. syncLog: fsync the .log. Durability needs it: the durable end passes
//     the segment's end only after it (or after an fsync of the handle
//     while the segment was active, which is the same file).
//  2. sealIndex: append the two seal entries (max timestamp, its batch)
//     and (max timestamp, end) to the time index, fsync both indexes and
//     close the handles. Only the next Open needs it: a seal on disk lets
//     Open trust a sealed segment without a scan, which is why it is
//     written only once the .log is durable; a segment left without one
//     (a crash between the stages) is CRC-scanned at Open.
//
// The job owns the segment's write handles. Jobs in the queue
// (Log.sealing) are run, finished and dropped only with the log's opMu
// held, so never under an fsync of their handles; logSynced is guarded by
// opMu too. A job taken out of the queue (takeSealsOf) belongs to whoever
// took it.
type sealJob struct {
	seg       *segment
	w, wi, wt afero.File
	seal      []byte // the two seal entries
	next      int64  // the segment's end offset
	logSynced bool   // stage 1 is done
	txn       txnSeal
}

// detach seals the active segment in memory: it writes out the index
// entries still in memory (no fsync), makes the segment read-only (its
// index is read from the files from now on) and hands its write handles
// to the returned job. The caller holds the log's mu exclusively.
func (s *segment) detach() (*sealJob, error) {
	if err := s.flushIndex(); err != nil {
		return nil, err
	}
	seal := appendTimeEntry(nil, s.maxTs, s.maxTsRel)
	seal = appendTimeEntry(seal, s.maxTs, uint32(s.next-s.base))
	txn := txnSeal{index: encodeAborted(s.aborted), open: encodeOpen(s.txnEnd), had: s.txnFiles}
	s.txnFiles = s.txnFiles || len(txn.index)+len(txn.open) > 0
	j := &sealJob{seg: s, w: s.w, wi: s.wi, wt: s.wt, seal: seal, next: s.next, txn: txn}
	s.w, s.wi, s.wt = nil, nil, nil
	s.nIndex = len(s.entries)
	s.entries, s.persisted = nil, 0
	return j, nil
}

// syncLog is stage 1.
func (j *sealJob) syncLog() error {
	if err := j.w.Sync(); err != nil {
		return fmt.Errorf("sealing segment %d: %w", j.seg.base, err)
	}
	j.logSynced = true
	return nil
}

// sealIndex is stage 2; it closes the handles, also after an error.
func (j *sealJob) sealIndex() error {
	// The transaction files first: the seal vouches for them.
	err := j.txn.write(j.seg)
	if err == nil {
		_, err = j.wt.Write(j.seal)
	}
	if err == nil {
		err = parallel([]func() error{j.wi.Sync, j.wt.Sync})
	}
	if err != nil {
		err = fmt.Errorf("sealing segment %d: %w", j.seg.base, err)
	}
	return errors.Join(err, j.drop())
}

// finish runs what is left of both stages, in order.
func (j *sealJob) finish() error {
	if !j.logSynced {
		if err := j.syncLog(); err != nil {
			return errors.Join(err, j.drop())
		}
	}
	return j.sealIndex()
}

// drop closes the job's handles without finishing it: the segment is
// gone, or the log failed or is being removed.
func (j *sealJob) drop() error {
	return errors.Join(j.w.Close(), j.wi.Close(), j.wt.Close())
}

// seal makes the active segment durable and read-only at once: detach and
// finish (Open's recovery, which runs before anything else can).
func (s *segment) seal() error {
	j, err := s.detach()
	if err != nil {
		return err
	}
	return j.finish()
}

// parallel runs tasks at once (fsyncs of different files: the disk
// flushes them together) and returns their errors joined. The first runs
// on the caller's goroutine; the others end before it returns.
func parallel(tasks []func() error) error {
	if len(tasks) == 1 {
		return tasks[0]()
	}
	errs := make([]error, len(tasks))
	var wg sync.WaitGroup
	for i, t := range tasks[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i+1] = t()
		}()
	}
	errs[0] = tasks[0]()
	wg.Wait()
	return errors.Join(errs...)
}

// The queue of seal jobs (Log.sealing).

// queueSeal queues a rolled segment's job. The caller holds mu.
func (l *Log) queueSeal(j *sealJob) {
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	l.sealing = append(l.sealing, j)
}

// sealsPending returns how many rolled segments wait for their seal.
func (l *Log) sealsPending() int {
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	return len(l.sealing)
}

// pendingSeals returns the seal jobs queued so far and whether the
// directory needs a sync, clearing the latter. The caller holds opMu, and
// mu to take them at the same instant as the log end.
func (l *Log) pendingSeals() ([]*sealJob, bool) {
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	dir := l.dirDirty
	l.dirDirty = false
	return slices.Clone(l.sealing), dir
}

// sealIdle seals the indexes (stage 2) of rolled segments whose .logs are
// durable when the log is idle (nothing appended since the last Sync):
// otherwise that waits for the Sync of the next append, and a crash
// meanwhile leaves them to be scanned at Open. Retention calls it; on a
// busy log the next Sync does it anyway.
func (l *Log) sealIdle() error {
	if l.sealsPending() == 0 || l.durable.Load() < l.end.Load() {
		return nil
	}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	if l.closed.Load() || l.failed() != nil {
		return nil
	}
	durable := l.durable.Load()
	l.sealMu.Lock()
	var jobs []*sealJob
	var tasks []func() error
	for _, j := range l.sealing {
		if j.logSynced || durable >= j.next {
			j.logSynced = true
			jobs = append(jobs, j)
			tasks = append(tasks, j.sealIndex)
		}
	}
	l.sealMu.Unlock()
	if len(tasks) == 0 {
		return nil
	}
	err := parallel(tasks)
	l.forgetSeals(jobs) // sealIndex closed their handles, also on an error
	if err != nil {
		return l.fail(err)
	}
	return nil
}

// finishAllSeals finishes every pending seal job and syncs the directory
// if a roll created a file (TruncateTo, before it cuts sealed segments;
// Close). A failure is sticky. The caller holds opMu.
func (l *Log) finishAllSeals() error {
	jobs, dir := l.pendingSeals()
	var err error
	done := jobs
	for i, j := range jobs {
		if err = j.finish(); err != nil {
			done = jobs[:i+1] // finish closed its handles; Close drops the rest
			break
		}
	}
	l.forgetSeals(done)
	if err == nil && dir {
		err = jio.SyncDir(l.fs, l.dir)
	}
	if err != nil {
		return l.fail(err)
	}
	return nil
}

// forgetSeals removes jobs from the queue. The caller holds opMu.
func (l *Log) forgetSeals(jobs []*sealJob) {
	if len(jobs) == 0 {
		return
	}
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	l.sealing = slices.DeleteFunc(l.sealing, func(j *sealJob) bool { return slices.Contains(jobs, j) })
}

// takeSeals empties the queue and returns what was in it.
func (l *Log) takeSeals() []*sealJob {
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	jobs := l.sealing
	l.sealing = nil
	return jobs
}

// takeSealsOf takes the jobs of segs out of the queue (retention,
// DeleteBefore: the segments are being deleted). The caller holds opMu.
func (l *Log) takeSealsOf(segs []*segment) []*sealJob {
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	var taken []*sealJob
	l.sealing = slices.DeleteFunc(l.sealing, func(j *sealJob) bool {
		if slices.Contains(segs, j.seg) {
			taken = append(taken, j)
			return true
		}
		return false
	})
	return taken
}
