package replica

import (
	"fmt"
	"slices"
)

// EpochEntry is one entry of a leader-epoch cache: a leader epoch and the
// offset of its first record (for the current leader, the log end when the
// epoch began). A cache lists entries in increasing epoch and start offset.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// Undefined is OffsetForLeaderEpoch's "unknown" for an epoch or an offset
// (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET).
const Undefined = -1

// LatestEpoch is the epoch of the last entry, or ok false for an empty
// cache.
func LatestEpoch(local []EpochEntry) (epoch int32, ok bool) {
	if len(local) == 0 {
		return Undefined, false
	}
	return local[len(local)-1].Epoch, true
}

// TruncateEpochs drops the entries that start at or after offset, as a
// truncated log's cache does (Kafka's truncateFromEnd).
func TruncateEpochs(local []EpochEntry, offset int64) []EpochEntry {
	k := len(local)
	for k > 0 && local[k-1].StartOffset >= offset {
		k--
	}
	return slices.Clone(local[:k])
}

// endOffsetFor is Kafka's LeaderEpochFileCache.endOffsetFor: the largest
// epoch at most requested, and the end offset of requested (the start of
// the first later epoch, or logEnd for the latest epoch).
func endOffsetFor(entries []EpochEntry, requested int32, logEnd int64) (int32, int64) {
	latest, ok := LatestEpoch(entries)
	switch {
	case requested == Undefined:
		return Undefined, Undefined
	case ok && latest == requested:
		return requested, logEnd
	}
	higher := slices.IndexFunc(entries, func(e EpochEntry) bool { return e.Epoch > requested })
	switch {
	case higher < 0:
		return Undefined, Undefined // above every epoch known
	case higher == 0:
		// Below every epoch known: the first later epoch's start, which
		// is where the follower can begin replicating.
		return requested, entries[0].StartOffset
	default:
		return entries[higher-1].Epoch, entries[higher].StartOffset
	}
}

// TruncationStep applies one OffsetForLeaderEpoch answer (Kafka's
// getOffsetTruncationState). local is the follower's epoch cache, localEnd
// its log end, hw its high watermark; the leader answered leaderEpoch and
// leaderEnd for the follower's latest epoch. It returns the offset to
// truncate to (never above localEnd) and whether that is final. When it is
// not, the leader answered an epoch the follower does not have: truncate to
// offset, drop the cache entries from there (TruncateEpochs) and ask again
// for the new latest epoch.
func TruncationStep(local []EpochEntry, localEnd, hw int64, leaderEpoch int32, leaderEnd int64) (offset int64, done bool) {
	switch {
	case leaderEnd == Undefined:
		// The leader knows no end for the epoch: back to the high watermark.
		return min(hw, localEnd), true
	case leaderEpoch == Undefined:
		// OffsetForLeaderEpoch v0, which carries no epoch.
		return min(leaderEnd, localEnd), true
	}
	epoch, end := endOffsetFor(local, leaderEpoch, localEnd)
	switch {
	case end == Undefined:
		// The leader answered an epoch above all of ours: its offset.
		return min(leaderEnd, localEnd), true
	case epoch != leaderEpoch:
		// We lack the leader's epoch: cut back to the end of our largest
		// epoch below it, and ask about that one (KIP-279).
		return min(end, localEnd), false
	default:
		return min(end, leaderEnd, localEnd), true
	}
}

// Truncation is the offset a follower truncates its log to before fetching
// from a new leader (KIP-101, KIP-279). ask sends OffsetForLeaderEpoch for
// one epoch and returns the leader's answer (Undefined for unknown). A
// follower with an empty epoch cache truncates to its high watermark
// without asking. Truncate the log and the cache (TruncateEpochs) to the
// result; it is never above localEnd.
func Truncation(local []EpochEntry, localEnd, hw int64, ask func(epoch int32) (leaderEpoch int32, leaderEnd int64, err error)) (int64, error) {
	// Each round that is not final drops at least the latest epoch, so
	// len(local)+1 rounds always suffice.
	for range len(local) + 1 {
		asked, ok := LatestEpoch(local)
		if !ok {
			return min(hw, localEnd), nil
		}
		leaderEpoch, leaderEnd, err := ask(asked)
		if err != nil {
			return 0, err
		}
		offset, done := TruncationStep(local, localEnd, hw, leaderEpoch, leaderEnd)
		if done {
			return offset, nil
		}
		local = TruncateEpochs(local, offset)
		localEnd = offset
	}
	panic(fmt.Sprintf("replica: truncation of %d epochs did not converge", len(local)))
}
