package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"github.com/spf13/afero"

	jio "github.com/jocko/jocko/io"
)

// Observers. Only a few brokers vote in the metadata Raft group; the others
// are not Raft members (so that a hundred brokers cost the leader no more
// than three): they pull the metadata from the controller, as KRaft's
// brokers fetch the metadata log. A pull asks for what follows the
// observer's applied index and gets the committed commands after it, or,
// when the controller's log no longer holds them, a snapshot of the whole
// state. The controller answers once there is something new or a wait has
// passed (a long poll). An observer keeps its last state in its data
// directory, so that a restart starts from it.
//
// Every node runs raft (idle while it is in no configuration), so that the
// controller can promote an observer to voter by adding it; a node pulls
// whenever raft does not feed it: it is in no configuration, or has not
// heard from a leader for observeAfterSilence (a voter that was removed
// while it was away never learns it from raft). Entries arriving both ways
// are the same committed log, and the state machine skips what it has.

// MetadataEntry is one committed command of the metadata log.
type MetadataEntry struct {
	Index uint64 `json:"i"`
	Data  []byte `json:"d"`
}

// MetadataChunk is the controller's answer to a pull.
type MetadataChunk struct {
	Leader int32 `json:"leader"` // the controller that answered
	// Snapshot is the whole state (encoded as in Raft snapshots), sent when
	// the entries asked for are no longer in the log, or From was 0.
	Snapshot []byte          `json:"snapshot,omitempty"`
	Entries  []MetadataEntry `json:"entries,omitempty"`
	// UpTo is the controller's applied index when it answered: an
	// observer that has applied it has caught up.
	UpTo uint64 `json:"up_to"`
}

// PullFunc asks the controller for the metadata after index from. It may
// wait for news (a long poll); ctx bounds it.
type PullFunc func(ctx context.Context, from uint64) (MetadataChunk, error)

// Observer timings.
const (
	observeAfterSilence = 2 * time.Second        // raft silent this long: pull
	observeIdleCheck    = 500 * time.Millisecond // how often a fed member re-checks
	observeBackoffMax   = 2 * time.Second
	observerSaveEvery   = time.Second // persist the state at most this often
	maxChunkEntries     = 4096
)

// observerStateFile keeps an observer's last pulled state, in DataDir.
const observerStateFile = "observer.state"

// MetadataSince answers a pull on the leader: the commands after from, or
// a snapshot, once the state has moved past from or wait has passed.
func (n *Node) MetadataSince(ctx context.Context, from uint64, wait time.Duration) (MetadataChunk, error) {
	if _, err := n.leaderRaft(); err != nil {
		return MetadataChunk{}, err
	}
	t := n.cfg.Env.Clock.Timer(wait)
	defer t.Stop()
	for {
		ch := n.fsm.Changed()
		if n.fsm.State().AppliedIndex > from {
			break
		}
		select {
		case <-ctx.Done():
			return MetadataChunk{}, ctx.Err()
		case <-t.C:
			return MetadataChunk{Leader: n.cfg.NodeID, UpTo: n.fsm.State().AppliedIndex}, nil
		case <-ch:
		}
	}
	st := n.fsm.State()
	chunk := MetadataChunk{Leader: n.cfg.NodeID, UpTo: st.AppliedIndex}
	first, err := n.logs.FirstIndex()
	if from == 0 || err != nil || first == 0 || from+1 < first {
		chunk.Snapshot, err = encodeState(st)
		return chunk, err
	}
	for i := from + 1; i <= st.AppliedIndex && len(chunk.Entries) < maxChunkEntries; i++ {
		var l raft.Log
		if err := n.logs.GetLog(i, &l); err != nil {
			// Compacted meanwhile: the snapshot covers it.
			chunk.Entries = nil
			chunk.Snapshot, err = encodeState(st)
			return chunk, err
		}
		if l.Type == raft.LogCommand {
			chunk.Entries = append(chunk.Entries, MetadataEntry{Index: l.Index, Data: l.Data})
		}
	}
	return chunk, nil
}

// applyChunk applies a pull's answer.
func (n *Node) applyChunk(c MetadataChunk) error {
	if c.Snapshot != nil {
		s, err := decodeState(bytes.NewReader(c.Snapshot))
		if err != nil {
			return err
		}
		n.fsm.restore(s)
	}
	for _, e := range c.Entries {
		n.fsm.Apply(&raft.Log{Index: e.Index, Type: raft.LogCommand, Data: e.Data})
	}
	if c.Leader > 0 {
		n.leaderHint.Store(c.Leader)
	}
	return nil
}

// needsPull reports whether raft does not feed this node: it is not the
// leader, and either it is in no configuration it knows of or it has not
// heard from a leader lately. (LastContact alone is not enough: raft also
// sets it when it grants a vote.)
func (n *Node) needsPull(r *raft.Raft) bool {
	if r.State() == raft.Leader {
		return false
	}
	if addr, _ := r.LeaderWithID(); addr == "" || n.cfg.Env.Clock.Since(r.LastContact()) > observeAfterSilence {
		return true
	}
	f := r.GetConfiguration()
	if f.Error() != nil {
		return true
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == serverID(n.cfg.NodeID) {
			return false
		}
	}
	return true
}

// observe is the observer's loop, owned by Run.
func (n *Node) observe(ctx context.Context, r *raft.Raft) {
	backoff := 50 * time.Millisecond
	var lastSave time.Time
	var saved uint64
	for ctx.Err() == nil {
		if !n.needsPull(r) {
			n.leaderHint.Store(0)
			n.sleep(ctx, observeIdleCheck)
			continue
		}
		c, err := n.cfg.Pull(ctx, n.fsm.State().AppliedIndex)
		if err == nil {
			err = n.applyChunk(c)
		}
		if err != nil {
			if ctx.Err() == nil {
				n.cfg.Env.Log.Debug("metadata pull failed", "err", err)
			}
			n.leaderHint.Store(0)
			n.sleep(ctx, backoff)
			backoff = min(2*backoff, observeBackoffMax)
			continue
		}
		backoff = 50 * time.Millisecond
		st := n.fsm.State()
		n.cfg.Env.Log.Debug("metadata pulled", "leader", c.Leader, "applied", st.AppliedIndex, "up_to", c.UpTo, "entries", len(c.Entries), "snapshot", c.Snapshot != nil)
		if st.AppliedIndex >= c.UpTo {
			n.readyOnce.Do(func() { close(n.ready) })
		}
		if now := n.cfg.Env.Clock.Now(); st.AppliedIndex != saved && now.Sub(lastSave) >= observerSaveEvery {
			if err := saveObserverState(n.cfg.Env.FS, n.cfg.DataDir, st); err != nil {
				n.cfg.Env.Log.Warn("saving pulled metadata", "err", err)
			} else {
				lastSave, saved = now, st.AppliedIndex
			}
		}
	}
}

func (n *Node) sleep(ctx context.Context, d time.Duration) {
	t := n.cfg.Env.Clock.Timer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func saveObserverState(fs afero.Fs, dir string, st *State) error {
	b, err := encodeState(st)
	if err != nil {
		return err
	}
	return jio.WriteFileAtomic(fs, filepath.Join(dir, observerStateFile), b)
}

// loadObserverState reads the state an observer saved, if any.
func loadObserverState(fs afero.Fs, dir string) (*State, error) {
	b, err := afero.ReadFile(fs, filepath.Join(dir, observerStateFile))
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	s, err := decodeState(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("cluster: %s: %w", observerStateFile, err)
	}
	return s, nil
}
