package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// ErrNotRunning is returned by a Node that is not running raft.
var ErrNotRunning = errors.New("cluster: node not running")

// Propose replicates cmd and waits until it is applied, returning the state
// machine's verdict (nil or one of the Err* values). Only the leader
// proposes: elsewhere the error wraps ErrNotLeader, as it does when
// leadership is lost while waiting (the command may or may not have been
// applied then). If ctx ends first, Propose returns ctx's error and the
// command may still be applied.
func (n *Node) Propose(ctx context.Context, cmd Command) error {
	data, err := EncodeCommand(cmd)
	if err != nil {
		return err
	}
	_, err = n.ProposeEncoded(ctx, data)
	return err
}

// ProposeEncoded is Propose for a command already encoded (EncodeCommand),
// as forwarded by another broker. It also returns the Raft index the
// command was applied at (valid whenever the FSM saw the command, whatever
// its verdict), so that the proposer can wait until its own copy of the
// metadata has applied it.
func (n *Node) ProposeEncoded(ctx context.Context, data []byte) (uint64, error) {
	if _, err := DecodeCommand(data); err != nil {
		return 0, err
	}
	r, err := n.leaderRaft()
	if err != nil {
		return 0, err
	}
	type applied struct {
		index uint64
		res   any
	}
	res, err := await(ctx, func() (any, error) {
		f := r.Apply(data, 0)
		if err := f.Error(); err != nil {
			return nil, err
		}
		return applied{f.Index(), f.Response()}, nil
	})
	if err != nil {
		return 0, raftErr(err)
	}
	a := res.(applied)
	if err, ok := a.res.(error); ok {
		return a.index, err
	}
	return a.index, nil
}

// AddVoter adds node id at raft address addr as a voter (or updates its
// address). Leader only.
func (n *Node) AddVoter(ctx context.Context, id int32, addr string) error {
	r, err := n.leaderRaft()
	if err != nil {
		return err
	}
	_, err = await(ctx, func() (any, error) {
		return nil, r.AddVoter(serverID(id), raft.ServerAddress(addr), 0, 0).Error()
	})
	return raftErr(err)
}

// RemoveServer removes node id from the raft configuration. Leader only.
func (n *Node) RemoveServer(ctx context.Context, id int32) error {
	r, err := n.leaderRaft()
	if err != nil {
		return err
	}
	_, err = await(ctx, func() (any, error) {
		return nil, r.RemoveServer(serverID(id), 0, 0).Error()
	})
	return raftErr(err)
}

// Voters returns the voters of the latest raft configuration this node
// knows, by node ID, with their raft addresses.
func (n *Node) Voters() (map[int32]string, error) {
	servers, err := n.Servers()
	if err != nil {
		return nil, err
	}
	out := map[int32]string{}
	for id, s := range servers {
		if s.Voter {
			out[id] = s.Addr
		}
	}
	return out, nil
}

// Snapshot makes raft take a snapshot now and compact its log.
func (n *Node) Snapshot() error {
	r := n.raft.Load()
	if r == nil {
		return ErrNotRunning
	}
	return raftErr(r.Snapshot().Error())
}

func (n *Node) leaderRaft() (*raft.Raft, error) {
	r := n.raft.Load()
	if r == nil {
		return nil, ErrNotRunning
	}
	if r.State() != raft.Leader {
		if id, ok := n.LeaderID(); ok {
			return nil, fmt.Errorf("%w: node %d leads", ErrNotLeader, id)
		}
		return nil, fmt.Errorf("%w: no leader known", ErrNotLeader)
	}
	return r, nil
}

// raftErr maps raft's leadership errors to ErrNotLeader.
func raftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	return fmt.Errorf("cluster: raft: %w", err)
}

// await runs fn, which blocks on a raft future, and returns its result or
// ctx's error, whichever comes first. raft answers every future, at the
// latest when it shuts down, so fn's goroutine always ends.
func await(ctx context.Context, fn func() (any, error)) (any, error) {
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case res := <-done:
		return res.v, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
