package raftstore

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/spf13/afero"

	jio "github.com/jocko/jocko/io"
)

var _ raft.SnapshotStore = (*SnapshotStore)(nil)

const (
	stateSuffix = ".state"
	metaSuffix  = ".meta"
)

// SnapshotStore is a raft.SnapshotStore of flat files in one directory.
// Snapshot id "T-I-S" (term, index, a sequence number) is the pair of files
// id.state (the FSM's bytes) and id.meta (JSON: raft.SnapshotMeta plus the
// CRC32C of the state). The state is written and fsynced first, then the
// meta is written atomically (temporary file, fsync, rename, directory
// fsync): a snapshot exists exactly when its meta file does, so a crash at
// any point leaves either the whole snapshot or none. Open checks the size
// and CRC before handing the data to raft. Only the newest retain
// snapshots are kept.
type SnapshotStore struct {
	fs     afero.Fs
	dir    string
	retain int

	mu  sync.Mutex
	seq uint64 // next sequence number for ids
}

// snapshotMeta is the content of an id.meta file.
type snapshotMeta struct {
	raft.SnapshotMeta
	CRC uint32
	Seq uint64
}

// NewSnapshotStore opens the store in dir, removing leftovers of snapshots
// that were never completed. retain must be at least 1.
func NewSnapshotStore(fs afero.Fs, dir string, retain int) (*SnapshotStore, error) {
	if retain < 1 {
		return nil, fmt.Errorf("raftstore: must retain at least one snapshot, got %d", retain)
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftstore: create snapshot dir: %w", err)
	}
	s := &SnapshotStore{fs: fs, dir: dir, retain: retain}
	metas, err := s.list()
	if err != nil {
		return nil, err
	}
	for _, m := range metas {
		s.seq = max(s.seq, m.Seq+1)
	}
	if err := s.removeOrphans(metas); err != nil {
		return nil, err
	}
	return s, nil
}

// Create implements raft.SnapshotStore.
func (s *SnapshotStore) Create(version raft.SnapshotVersion, index, term uint64,
	configuration raft.Configuration, configurationIndex uint64, _ raft.Transport) (raft.SnapshotSink, error) {
	if version < raft.SnapshotVersionMin || version > raft.SnapshotVersionMax {
		return nil, fmt.Errorf("raftstore: unsupported snapshot version %d", version)
	}
	s.mu.Lock()
	seq := s.seq
	s.seq++
	s.mu.Unlock()
	id := fmt.Sprintf("%d-%d-%d", term, index, seq)
	path := filepath.Join(s.dir, id+stateSuffix)
	f, err := s.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("raftstore: create snapshot %s: %w", path, err)
	}
	sink := &snapshotSink{
		store: s,
		f:     f,
		crc:   crc32.New(castagnoli),
		meta: snapshotMeta{SnapshotMeta: raft.SnapshotMeta{
			Version:            version,
			ID:                 id,
			Index:              index,
			Term:               term,
			Configuration:      configuration,
			ConfigurationIndex: configurationIndex,
		}, Seq: seq},
	}
	sink.w = bufio.NewWriter(io.MultiWriter(f, sink.crc))
	return sink, nil
}

// List implements raft.SnapshotStore: complete snapshots, newest first.
func (s *SnapshotStore) List() ([]*raft.SnapshotMeta, error) {
	metas, err := s.list()
	if err != nil {
		return nil, err
	}
	out := make([]*raft.SnapshotMeta, len(metas))
	for i, m := range metas {
		out[i] = &m.SnapshotMeta
	}
	return out, nil
}

// Open implements raft.SnapshotStore. The state's size and CRC are checked
// before Open returns, so a damaged snapshot is an error here rather than
// half way through a restore.
func (s *SnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	if _, ok := parseSnapshotID(id); !ok {
		return nil, nil, fmt.Errorf("raftstore: bad snapshot id %q", id)
	}
	m, err := s.readMeta(id)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(s.dir, id+stateSuffix)
	f, err := s.fs.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("raftstore: open snapshot %s: %w", path, err)
	}
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, f)
	if err == nil && (n != m.Size || h.Sum32() != m.CRC) {
		err = fmt.Errorf("raftstore: snapshot %s: %d bytes with crc %08x, meta says %d bytes with crc %08x",
			id, n, h.Sum32(), m.Size, m.CRC)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return &m.SnapshotMeta, f, nil
}

// list reads every meta file and sorts newest first (index, then term,
// then sequence). Unreadable meta files are skipped: such a snapshot is not
// usable, and raft falls back to an older one.
func (s *SnapshotStore) list() ([]*snapshotMeta, error) {
	infos, err := afero.ReadDir(s.fs, s.dir)
	if err != nil {
		return nil, fmt.Errorf("raftstore: list %s: %w", s.dir, err)
	}
	var metas []*snapshotMeta
	for _, fi := range infos {
		id, ok := strings.CutSuffix(fi.Name(), metaSuffix)
		if !ok {
			continue
		}
		if _, ok := parseSnapshotID(id); !ok {
			continue
		}
		if m, err := s.readMeta(id); err == nil {
			metas = append(metas, m)
		}
	}
	sort.Slice(metas, func(i, j int) bool {
		a, b := metas[i], metas[j]
		if a.Index != b.Index {
			return a.Index > b.Index
		}
		if a.Term != b.Term {
			return a.Term > b.Term
		}
		return a.Seq > b.Seq
	})
	return metas, nil
}

func (s *SnapshotStore) readMeta(id string) (*snapshotMeta, error) {
	path := filepath.Join(s.dir, id+metaSuffix)
	data, err := afero.ReadFile(s.fs, path)
	if err != nil {
		return nil, fmt.Errorf("raftstore: read %s: %w", path, err)
	}
	var m snapshotMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("raftstore: decode %s: %w", path, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("raftstore: %s names snapshot %q", path, m.ID)
	}
	return &m, nil
}

// parseSnapshotID returns the sequence number of a "term-index-seq" id.
func parseSnapshotID(id string) (uint64, bool) {
	var term, index, seq uint64
	if _, err := fmt.Sscanf(id, "%d-%d-%d", &term, &index, &seq); err != nil {
		return 0, false
	}
	return seq, fmt.Sprintf("%d-%d-%d", term, index, seq) == id
}

// removeOrphans deletes state files without a meta file and temporary
// files: the remains of snapshots cut short by a crash or a Cancel.
func (s *SnapshotStore) removeOrphans(metas []*snapshotMeta) error {
	live := make(map[string]bool, len(metas))
	for _, m := range metas {
		live[m.ID] = true
	}
	infos, err := afero.ReadDir(s.fs, s.dir)
	if err != nil {
		return fmt.Errorf("raftstore: list %s: %w", s.dir, err)
	}
	for _, fi := range infos {
		name := fi.Name()
		id, isState := strings.CutSuffix(name, stateSuffix)
		if (isState && !live[id]) || strings.HasSuffix(name, ".tmp") {
			if err := s.fs.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("raftstore: remove %s: %w", name, err)
			}
		}
	}
	return nil
}

// reap removes all but the newest retain snapshots, meta file first so a
// crash never leaves a meta without its state.
func (s *SnapshotStore) reap() error {
	metas, err := s.list()
	if err != nil {
		return err
	}
	for i := s.retain; i < len(metas); i++ {
		for _, suffix := range []string{metaSuffix, stateSuffix} {
			path := filepath.Join(s.dir, metas[i].ID+suffix)
			if err := s.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("raftstore: reap %s: %w", path, err)
			}
		}
	}
	return nil
}

// snapshotSink receives one snapshot's bytes from raft.
type snapshotSink struct {
	store *SnapshotStore
	meta  snapshotMeta
	f     afero.File
	crc   hash.Hash32
	w     *bufio.Writer
	done  bool
}

// ID implements raft.SnapshotSink.
func (k *snapshotSink) ID() string { return k.meta.ID }

// Write implements raft.SnapshotSink.
func (k *snapshotSink) Write(p []byte) (int, error) {
	n, err := k.w.Write(p)
	k.meta.Size += int64(n)
	return n, err
}

// Close implements raft.SnapshotSink: it makes the snapshot durable and
// visible, then reaps old ones. On failure the partial snapshot is removed.
func (k *snapshotSink) Close() error {
	if k.done {
		return nil
	}
	k.done = true
	if err := k.finish(); err != nil {
		k.discard()
		return err
	}
	return k.store.reap()
}

func (k *snapshotSink) finish() error {
	err := k.w.Flush()
	if err == nil {
		err = k.f.Sync()
	}
	if cerr := k.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("raftstore: write snapshot %s: %w", k.meta.ID, err)
	}
	k.meta.CRC = k.crc.Sum32()
	data, err := json.Marshal(&k.meta)
	if err != nil {
		return fmt.Errorf("raftstore: encode snapshot meta: %w", err)
	}
	path := filepath.Join(k.store.dir, k.meta.ID+metaSuffix)
	if err := jio.WriteFileAtomic(k.store.fs, path, data); err != nil {
		return fmt.Errorf("raftstore: write %s: %w", path, err)
	}
	return nil
}

// Cancel implements raft.SnapshotSink: the partial snapshot is removed.
func (k *snapshotSink) Cancel() error {
	if k.done {
		return nil
	}
	k.done = true
	k.f.Close()
	return k.discard()
}

func (k *snapshotSink) discard() error {
	path := filepath.Join(k.store.dir, k.meta.ID+stateSuffix)
	if err := k.store.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("raftstore: remove %s: %w", path, err)
	}
	return nil
}
