package raftstore

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/spf13/afero"
)

var testConfiguration = raft.Configuration{Servers: []raft.Server{
	{Suffrage: raft.Voter, ID: "1", Address: "127.0.0.1:9093"},
	{Suffrage: raft.Nonvoter, ID: "2", Address: "127.0.0.1:9094"},
}}

func mustSnapStore(t *testing.T, fs afero.Fs, retain int) *SnapshotStore {
	t.Helper()
	s, err := NewSnapshotStore(fs, "/raft/snapshots", retain)
	if err != nil {
		t.Fatalf("NewSnapshotStore: %v", err)
	}
	return s
}

// writeSnapshot creates, fills and closes a snapshot at index in term.
func writeSnapshot(t *testing.T, s *SnapshotStore, index, term uint64, data []byte) string {
	t.Helper()
	sink, err := s.Create(raft.SnapshotVersionMax, index, term, testConfiguration, index-1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for chunk := range slices.Chunk(data, 7) {
		if _, err := sink.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return sink.ID()
}

func readSnapshot(t *testing.T, s *SnapshotStore, id string) (*raft.SnapshotMeta, []byte) {
	t.Helper()
	meta, rc, err := s.Open(id)
	if err != nil {
		t.Fatalf("Open(%s): %v", id, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return meta, data
}

func TestSnapshotStoreCreateListOpen(t *testing.T) {
	fs := afero.NewMemMapFs()
	s := mustSnapStore(t, fs, 2)
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Fatalf("List on a new store = %v, %v", list, err)
	}
	data := bytes.Repeat([]byte("metadata"), 1000)
	id := writeSnapshot(t, s, 10, 3, data)
	list, err := s.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	m := list[0]
	if m.ID != id || m.Index != 10 || m.Term != 3 || m.Size != int64(len(data)) ||
		m.ConfigurationIndex != 9 || len(m.Configuration.Servers) != 2 || m.Configuration.Servers[1] != testConfiguration.Servers[1] {
		t.Fatalf("meta = %+v", m)
	}
	for _, store := range []*SnapshotStore{s, mustSnapStore(t, fs, 2)} {
		meta, got := readSnapshot(t, store, id)
		if meta.Index != 10 || !bytes.Equal(got, data) {
			t.Fatalf("Open: index %d, %d bytes; expected 10, %d bytes", meta.Index, len(got), len(data))
		}
	}
}

func TestSnapshotStoreRetainsNewestAndOrders(t *testing.T) {
	fs := afero.NewMemMapFs()
	s := mustSnapStore(t, fs, 2)
	writeSnapshot(t, s, 10, 1, []byte("a"))
	writeSnapshot(t, s, 30, 2, []byte("c"))
	writeSnapshot(t, s, 20, 2, []byte("b"))
	newest := writeSnapshot(t, s, 30, 2, []byte("c2")) // same index again: later one wins
	list, _ := s.List()
	var got []string
	for _, m := range list {
		got = append(got, fmt.Sprintf("%d/%d", m.Index, m.Size))
	}
	if strings.Join(got, " ") != "30/2 30/1" || list[0].ID != newest {
		t.Fatalf("List = %v (first %s), expected [30/2 30/1] with %s first", got, list[0].ID, newest)
	}
	files, _ := afero.ReadDir(fs, "/raft/snapshots")
	if len(files) != 4 {
		t.Fatalf("%d files after reaping, expected 4 (2 snapshots x meta+state)", len(files))
	}
	// A reopened store continues the sequence, so ids stay unique.
	again := writeSnapshot(t, mustSnapStore(t, fs, 2), 30, 2, []byte("c3"))
	if again == newest {
		t.Fatalf("reopened store reused id %s", again)
	}
}

func TestSnapshotStoreCancelAndCrashLeaveNothing(t *testing.T) {
	fs := afero.NewMemMapFs()
	s := mustSnapStore(t, fs, 3)
	keep := writeSnapshot(t, s, 5, 1, []byte("kept"))
	sink, err := s.Create(1, 9, 1, testConfiguration, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink.Write([]byte("partial"))
	if err := sink.Cancel(); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write leaves a state file without meta, and a meta.tmp.
	_ = afero.WriteFile(fs, "/raft/snapshots/1-12-99.state", []byte("torn"), 0o644)
	_ = afero.WriteFile(fs, "/raft/snapshots/1-12-99.meta.tmp", []byte("{"), 0o644)
	s2 := mustSnapStore(t, fs, 3)
	list, _ := s2.List()
	if len(list) != 1 || list[0].ID != keep {
		t.Fatalf("List after cancel and crash = %v", list)
	}
	files, _ := afero.ReadDir(fs, "/raft/snapshots")
	if len(files) != 2 {
		t.Fatalf("%d files left, expected 2", len(files))
	}
}

func TestSnapshotStoreOpenChecksData(t *testing.T) {
	fs := afero.NewMemMapFs()
	s := mustSnapStore(t, fs, 1)
	id := writeSnapshot(t, s, 7, 1, []byte("the state machine"))
	path := filepath.Join("/raft/snapshots", id+stateSuffix)
	good, _ := afero.ReadFile(fs, path)
	bad := bytes.Clone(good)
	bad[3] ^= 0x20
	for name, b := range map[string][]byte{"flipped": bad, "short": good[:5], "long": append(bytes.Clone(good), 0)} {
		_ = afero.WriteFile(fs, path, b, 0o644)
		if _, _, err := s.Open(id); err == nil {
			t.Fatalf("%s state passed Open", name)
		}
	}
	for _, id := range []string{"../x", "1-2", "1-2-3/../../4", ""} {
		if _, _, err := s.Open(id); err == nil {
			t.Fatalf("Open(%q) succeeded", id)
		}
	}
}

func TestSnapshotStoreRejectsBadArguments(t *testing.T) {
	fs := afero.NewMemMapFs()
	if _, err := NewSnapshotStore(fs, "/raft/snapshots", 0); err == nil {
		t.Fatal("retain 0 accepted")
	}
	s := mustSnapStore(t, fs, 1)
	if _, err := s.Create(raft.SnapshotVersionMax+1, 1, 1, testConfiguration, 1, nil); err == nil {
		t.Fatal("unsupported snapshot version accepted")
	}
}
