package cluster

import "math"

// QuorumInfo is what this node knows of the metadata Raft group right now:
// what Kafka's DescribeQuorum reports of the KRaft quorum.
type QuorumInfo struct {
	// LeaderID is the Raft leader (the controller), -1 when none is known.
	LeaderID int32
	// Term is the current Raft term, KRaft's leader epoch (capped at the
	// largest int32 Kafka's field holds).
	Term int32
	// LastIndex is the index of this node's last Raft log entry: its log
	// end offset, less one.
	LastIndex uint64
	// CommitIndex is the highest entry this node knows to be committed:
	// the quorum's high watermark as this node sees it.
	CommitIndex uint64
	// Voters are the voters of the latest Raft configuration, by node ID,
	// with their Raft addresses.
	Voters map[int32]string
	// IsLeader says this node leads, so LastIndex and CommitIndex are the
	// leader's own.
	IsLeader bool
}

// QuorumInfo reports this node's view of the Raft group.
func (n *Node) QuorumInfo() (QuorumInfo, error) {
	r := n.raft.Load()
	if r == nil {
		return QuorumInfo{}, ErrNotRunning
	}
	voters, err := n.Voters()
	if err != nil {
		return QuorumInfo{}, err
	}
	q := QuorumInfo{LeaderID: -1, Voters: voters, LastIndex: r.LastIndex(), CommitIndex: r.CommitIndex()}
	if id, ok := n.LeaderID(); ok {
		q.LeaderID = id
	}
	q.IsLeader = n.IsLeader()
	q.Term = int32(min(r.CurrentTerm(), math.MaxInt32))
	return q, nil
}
