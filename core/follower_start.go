package core

import (
	"errors"

	"github.com/jocko/jocko/storage"
)

// A follower's log start follows its leader's (KIP-107): the leader sends
// its log start offset in every Fetch response, and the follower moves its
// own up to it, durably, as Kafka's ReplicaFetcherThread does with
// maybeIncrementLogStartOffset. So records deleted on the leader
// (DeleteRecords, retention) are deleted on every replica and stay deleted
// after a failover or a restart. Both helpers are called by the fetcher
// (fetcher.go, apply).

// followLeaderStart moves the log start up to the leader's, but never past
// the local log end (what a follower holds below it is a prefix of the
// leader's log, so it may go).
func (p *partition) followLeaderStart(leaderStart int64) {
	start := min(leaderStart, p.log.EndOffset())
	if start <= p.log.StartOffset() {
		return
	}
	if err := p.log.DeleteBefore(start); err != nil {
		if !errors.Is(err, storage.ErrNoSpace) {
			p.fail(err)
		} // a full disk moved nothing: the next fetch tries again
		return
	}
	p.b.log.Debug("log start follows the leader", "topic", p.topic, "partition", p.index, "log_start", start)
}

// restartAtLeaderStart empties a follower whose log ends below the
// leader's log start (it holds nothing the leader still has) and restarts
// it there, with an empty producer table, as Kafka's
// truncateFullyAndStartAt. It reports whether it did.
func (p *partition) restartAtLeaderStart(leaderStart int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	from := p.log.EndOffset()
	if leaderStart <= from {
		return false
	}
	if err := p.log.RestartAt(leaderStart); err != nil {
		p.fail(err)
		return false
	}
	p.advanceHW(leaderStart)
	if err := p.producersTruncated(leaderStart, true); err != nil {
		p.fail(err)
		return false
	}
	p.b.log.Info("restarted below the leader's log start", "topic", p.topic, "partition", p.index, "from", from, "log_start", leaderStart)
	return true
}
