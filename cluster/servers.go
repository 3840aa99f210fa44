package cluster

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/raft"

	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/storage/raftstore"
)

// Server is one member of the Raft configuration.
type Server struct {
	ID      int32
	Addr    string
	Voter   bool // false: a nonvoter, which receives the log but does not vote
	Staging bool // being promoted (hashicorp/raft's Staging suffrage)
}

// Servers returns the latest Raft configuration this node knows, by node
// ID.
func (n *Node) Servers() (map[int32]Server, error) {
	r := n.raft.Load()
	if r == nil {
		return nil, ErrNotRunning
	}
	f := r.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, raftErr(err)
	}
	out := map[int32]Server{}
	for _, s := range f.Configuration().Servers {
		if id, ok := parseServerID(s.ID); ok {
			out[id] = Server{ID: id, Addr: string(s.Address), Voter: s.Suffrage == raft.Voter, Staging: s.Suffrage == raft.Staging}
		}
	}
	return out, nil
}

// TransferLeadership hands raft leadership to another up-to-date voter.
// Leader only.
func (n *Node) TransferLeadership(ctx context.Context) error {
	r, err := n.leaderRaft()
	if err != nil {
		return err
	}
	_, err = await(ctx, func() (any, error) { return nil, r.LeadershipTransfer().Error() })
	return raftErr(err)
}

// HasState reports whether dataDir (a Node's DataDir) holds Raft state: a
// node that has none has never been part of a cluster, or lost its disk.
func HasState(env jio.Env, dataDir string) (bool, error) {
	env = env.Defaults()
	if _, err := env.FS.Stat(dataDir); err != nil {
		return false, nil
	}
	if _, err := env.FS.Stat(filepath.Join(dataDir, observerStateFile)); err == nil {
		return true, nil // an observer's pulled metadata
	}
	logs, err := raftstore.NewLogStore(env.FS, filepath.Join(dataDir, "log"))
	if err != nil {
		return false, fmt.Errorf("cluster: open raft log: %w", err)
	}
	defer logs.Close()
	stable, err := raftstore.NewStableStore(env.FS, filepath.Join(dataDir, "stable"))
	if err != nil {
		return false, fmt.Errorf("cluster: open raft stable store: %w", err)
	}
	snaps, err := raftstore.NewSnapshotStore(env.FS, filepath.Join(dataDir, "snapshots"), snapshotsRetainedDefault)
	if err != nil {
		return false, fmt.Errorf("cluster: open raft snapshots: %w", err)
	}
	return raft.HasExistingState(logs, stable, snaps)
}
