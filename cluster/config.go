package cluster

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	jio "github.com/jocko/jocko/io"
)

// Config configures a Node. Zero timing fields take the defaults below,
// which suit a small metadata quorum on a LAN and let a single node elect
// itself within about a second.
type Config struct {
	// NodeID is this node's ID, the broker ID; raft's server ID is its
	// decimal string.
	NodeID int32
	// RaftAddr is the address to listen on for raft, e.g. "127.0.0.1:9093"
	// or ":0".
	RaftAddr string
	// AdvertiseRaftAddr is the address peers dial; the default is the
	// address actually bound.
	AdvertiseRaftAddr string
	// Listener, when set, is the raft listener to serve on (already bound
	// by the caller, who needed the address before the node ID was known);
	// RaftAddr is then ignored.
	Listener net.Listener
	// DataDir holds the raft log, stable store and snapshots.
	DataDir string
	// Env supplies the file system, network, clock and logger.
	Env jio.Env
	// Bootstrap makes a node without any raft state bootstrap a cluster
	// with itself as the only voter. It is ignored when state exists.
	Bootstrap bool
	// Voters, when set, makes a node without any raft state bootstrap the
	// cluster with exactly these voters (node ID -> raft address; this node
	// among them). Every initial voter is given the same set: hashicorp/raft
	// lets them all bootstrap the same configuration. Ignored when state
	// exists.
	Voters map[int32]string
	// Pull, when set, keeps this node's metadata current while raft does
	// not (it is not a Raft member, or hears from no leader): it asks the
	// controller for what is new (see observer.go).
	Pull PullFunc
	// CountLeaderChanges counts the leader changes this node sees, for
	// RaftStats (a raft observer; off in the simulator, where nothing
	// reads it).
	CountLeaderChanges bool

	HeartbeatTimeout   time.Duration // default 500ms
	ElectionTimeout    time.Duration // default 500ms
	LeaderLeaseTimeout time.Duration // default 250ms, at most HeartbeatTimeout
	CommitTimeout      time.Duration // default 20ms
	SnapshotInterval   time.Duration // how often to check for a snapshot; default 2m
	SnapshotThreshold  uint64        // entries since the last snapshot that trigger one; default 8192
	TrailingLogs       uint64        // entries kept after a snapshot; default 10240
	SnapshotsRetained  int           // snapshots kept on disk; default 2
}

// Defaults returned by Config.withDefaults.
const (
	heartbeatTimeoutDefault   = 500 * time.Millisecond
	electionTimeoutDefault    = 500 * time.Millisecond
	leaderLeaseTimeoutDefault = 250 * time.Millisecond
	commitTimeoutDefault      = 20 * time.Millisecond
	snapshotIntervalDefault   = 2 * time.Minute
	snapshotThresholdDefault  = 8192
	trailingLogsDefault       = 10240
	snapshotsRetainedDefault  = 2
)

func (c Config) withDefaults() (Config, error) {
	if c.NodeID < 0 {
		return c, fmt.Errorf("cluster: node ID %d is negative", c.NodeID)
	}
	if c.DataDir == "" {
		return c, errors.New("cluster: no data directory")
	}
	if c.RaftAddr == "" && c.Listener == nil {
		return c, errors.New("cluster: no raft address")
	}
	if _, ok := c.Voters[c.NodeID]; len(c.Voters) > 0 && !ok {
		return c, fmt.Errorf("cluster: node %d is not among the initial voters", c.NodeID)
	}
	c.Env = c.Env.Defaults()
	setDefault(&c.HeartbeatTimeout, heartbeatTimeoutDefault)
	setDefault(&c.ElectionTimeout, electionTimeoutDefault)
	setDefault(&c.LeaderLeaseTimeout, min(leaderLeaseTimeoutDefault, c.HeartbeatTimeout))
	setDefault(&c.CommitTimeout, commitTimeoutDefault)
	setDefault(&c.SnapshotInterval, snapshotIntervalDefault)
	setDefault(&c.SnapshotThreshold, snapshotThresholdDefault)
	setDefault(&c.TrailingLogs, trailingLogsDefault)
	setDefault(&c.SnapshotsRetained, snapshotsRetainedDefault)
	return c, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// raftConfig builds hashicorp/raft's configuration.
func (c Config) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = serverID(c.NodeID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.CommitTimeout = c.CommitTimeout
	rc.SnapshotInterval = c.SnapshotInterval
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.TrailingLogs = c.TrailingLogs
	rc.Logger = newRaftLogger(c.Env.Log)
	rc.NoSnapshotRestoreOnStart = false
	return rc
}

func serverID(id int32) raft.ServerID { return raft.ServerID(strconv.FormatInt(int64(id), 10)) }

func parseServerID(id raft.ServerID) (int32, bool) {
	n, err := strconv.ParseInt(string(id), 10, 32)
	return int32(n), err == nil
}
