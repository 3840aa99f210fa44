package raftstore

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/spf13/afero"
)

func TestStableStoreSetGetPersist(t *testing.T) {
	fs := afero.NewMemMapFs()
	s, err := NewStableStore(fs, "/raft/stable")
	if err != nil {
		t.Fatal(err)
	}
	// Missing keys: what raft's InmemStore and the interface doc promise.
	if v, err := s.Get([]byte("missing")); err != nil || v != nil {
		t.Fatalf("Get(missing) = %q, %v; expected nil, nil", v, err)
	}
	if v, err := s.GetUint64([]byte("missing")); err != nil || v != 0 {
		t.Fatalf("GetUint64(missing) = %d, %v; expected 0, nil", v, err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("node-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 1<<40+7); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 1<<40+8); err != nil {
		t.Fatal(err)
	}
	v, _ := s.Get([]byte("LastVoteCand"))
	v[0] = 'X' // callers may not alias the store's copy
	for _, store := range []*StableStore{s, mustStable(t, fs)} {
		if v, err := store.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-1" {
			t.Fatalf("Get = %q, %v", v, err)
		}
		if v, err := store.Get([]byte("empty")); err != nil || v == nil || len(v) != 0 {
			t.Fatalf("Get(empty) = %#v, %v; expected an empty, non-nil value", v, err)
		}
		if v, err := store.GetUint64([]byte("CurrentTerm")); err != nil || v != 1<<40+8 {
			t.Fatalf("GetUint64 = %d, %v", v, err)
		}
	}
	if _, err := s.GetUint64([]byte("LastVoteCand")); err == nil {
		t.Fatal("GetUint64 of a 6-byte value succeeded")
	}
}

func mustStable(t *testing.T, fs afero.Fs) *StableStore {
	t.Helper()
	s, err := NewStableStore(fs, "/raft/stable")
	if err != nil {
		t.Fatalf("NewStableStore: %v", err)
	}
	return s
}

func TestStableStoreCorruptFileIsAnError(t *testing.T) {
	fs := afero.NewMemMapFs()
	s := mustStable(t, fs)
	if err := s.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	b, _ := afero.ReadFile(fs, "/raft/stable")
	for i := range b {
		bad := bytes.Clone(b)
		bad[i] ^= 0x01
		_ = afero.WriteFile(fs, "/raft/stable", bad, 0o644)
		if _, err := NewStableStore(fs, "/raft/stable"); err == nil {
			t.Fatalf("flipped bit in byte %d went unnoticed", i)
		}
	}
	for cut := range b {
		_ = afero.WriteFile(fs, "/raft/stable", b[:cut], 0o644)
		if _, err := NewStableStore(fs, "/raft/stable"); err == nil {
			t.Fatalf("file cut to %d bytes went unnoticed", cut)
		}
	}
}

func TestStableStoreFailedSetChangesNothing(t *testing.T) {
	var fail atomic.Bool
	mem := afero.NewMemMapFs()
	s, err := NewStableStore(syncFailFs{mem, &fail}, "/raft/stable")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if err := s.SetUint64([]byte("CurrentTerm"), 2); err == nil {
		t.Fatal("Set succeeded although fsync failed")
	}
	if err := s.Set([]byte("new"), []byte("x")); err == nil {
		t.Fatal("Set succeeded although fsync failed")
	}
	if v, _ := s.GetUint64([]byte("CurrentTerm")); v != 1 {
		t.Fatalf("failed Set is visible: %d", v)
	}
	if v, _ := s.Get([]byte("new")); v != nil {
		t.Fatalf("failed Set of a new key is visible: %q", v)
	}
	if v, _ := mustStable(t, mem).GetUint64([]byte("CurrentTerm")); v != 1 {
		t.Fatalf("on disk after failed Set: %d", v)
	}
}
