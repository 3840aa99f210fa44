package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/spf13/afero"

	jio "github.com/jocko/jocko/io"
)

var _ raft.StableStore = (*StableStore)(nil)

// stableMagic starts a stable store file; the format is
//
//	magic "JRSS1\n", count uint32, count x (keyLen uint32, key, valLen uint32, val),
//	crc uint32 (CRC32C of everything before it)
//
// with keys in ascending order, all integers big endian.
var stableMagic = []byte("JRSS1\n")

// stableKeysMax bounds the number of keys; raft uses three.
const stableKeysMax = 1 << 16

// StableStore is a raft.StableStore that keeps its few keys in memory and
// rewrites the whole file atomically (jio.WriteFileAtomic) on every Set, so
// a Set is durable when it returns. Uint64 values are stored as 8 bytes big
// endian under the same key space.
type StableStore struct {
	fs   afero.Fs
	path string

	mu sync.Mutex
	kv map[string][]byte
}

// NewStableStore opens the store at path, creating its directory if needed.
// A missing file is an empty store; a corrupt one is an error.
func NewStableStore(fs afero.Fs, path string) (*StableStore, error) {
	if err := fs.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("raftstore: create dir for %s: %w", path, err)
	}
	s := &StableStore{fs: fs, path: path, kv: map[string][]byte{}}
	data, err := afero.ReadFile(fs, path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("raftstore: read %s: %w", path, err)
	}
	if s.kv, err = decodeStable(data); err != nil {
		return nil, fmt.Errorf("raftstore: %s: %w", path, err)
	}
	return s, nil
}

// Set implements raft.StableStore; it is durable when it returns nil.
func (s *StableStore) Set(key, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(key)
	old, had := s.kv[k]
	s.kv[k] = append([]byte{}, val...)
	if err := jio.WriteFileAtomic(s.fs, s.path, encodeStable(s.kv)); err != nil {
		if had {
			s.kv[k] = old
		} else {
			delete(s.kv, k)
		}
		return fmt.Errorf("raftstore: write %s: %w", s.path, err)
	}
	return nil
}

// Get implements raft.StableStore: the value, or nil and no error when the
// key was never set (raft treats both nil error and "not found" alike).
func (s *StableStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.kv[string(key)]), nil
}

// SetUint64 implements raft.StableStore.
func (s *StableStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore: 0 and no error for a missing key.
func (s *StableStore) GetUint64(key []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[string(key)]
	if !ok {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("raftstore: key %q holds %d bytes, not a uint64", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func encodeStable(kv map[string][]byte) []byte {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := append([]byte(nil), stableMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(kv[k])))
		b = append(b, kv[k]...)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeStable(b []byte) (map[string][]byte, error) {
	if len(b) < len(stableMagic)+8 || !bytes.HasPrefix(b, stableMagic) {
		return nil, errors.New("not a stable store file")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errors.New("stable store checksum mismatch")
	}
	rest := body[len(stableMagic):]
	n := binary.BigEndian.Uint32(rest)
	if n > stableKeysMax {
		return nil, fmt.Errorf("stable store claims %d keys", n)
	}
	rest = rest[4:]
	kv := make(map[string][]byte, n)
	for range n {
		var k, v []byte
		var err error
		if k, rest, err = takeBytes(rest); err != nil {
			return nil, err
		}
		if v, rest, err = takeBytes(rest); err != nil {
			return nil, err
		}
		if v == nil {
			v = []byte{}
		}
		kv[string(k)] = v
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("stable store has %d trailing bytes", len(rest))
	}
	return kv, nil
}
