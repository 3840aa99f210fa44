package core

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jocko/jocko/core/replica"
	"github.com/jocko/jocko/io/buggify"
	"github.com/jocko/jocko/storage"
)

// truncate brings each partition's log to a prefix of the leader's before
// it fetches (KIP-101, KIP-279): it asks the leader for the end of its
// latest local epoch, truncates, and asks again while the leader knows an
// older epoch only.
func (f *fetcher) truncate(ctx context.Context, conn *peerConn, parts []followState) error {
	for _, s := range parts {
		p := s.p
		local := replicaEpochs(p.log.Epochs())
		ask := func(epoch int32) (int32, int64, error) {
			return f.askEpochEnd(ctx, conn, s, epoch)
		}
		off, err := replica.Truncation(local, p.log.EndOffset(), p.highWatermark(), ask)
		if err != nil {
			return err
		}
		if buggify.Broken(buggify.SkipTruncation) {
			off = p.log.EndOffset()
		}
		if off < p.log.EndOffset() {
			p.b.log.Info("truncating to the leader's log", "topic", p.topic, "partition", p.index, "leader", f.leader,
				"epoch", s.epoch, "from", p.log.EndOffset(), "to", off)
		}
		if err := p.truncateTo(off); err != nil {
			return err
		}
		f.truncated(p, s.epoch)
	}
	return nil
}

// askEpochEnd sends OffsetForLeaderEpoch for one partition and epoch.
func (f *fetcher) askEpochEnd(ctx context.Context, conn *peerConn, s followState, epoch int32) (int32, int64, error) {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.SetVersion(4)
	req.ReplicaID = f.b.cfg.NodeID
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = s.p.topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = s.p.index, s.epoch, epoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := conn.do(ctx, f.b.env.Clock.Now(), req)
	if err != nil {
		return 0, 0, err
	}
	r := resp.(*kmsg.OffsetForLeaderEpochResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		return 0, 0, fmt.Errorf("OffsetForLeaderEpoch: broker %d answered %d topics", f.leader, len(r.Topics))
	}
	pr := r.Topics[0].Partitions[0]
	if pr.ErrorCode != 0 {
		return 0, 0, fmt.Errorf("OffsetForLeaderEpoch %s-%d: %w", s.p.topic, s.p.index, kerr.ErrorForCode(pr.ErrorCode))
	}
	return pr.LeaderEpoch, pr.EndOffset, nil
}

func replicaEpochs(es []storage.EpochEntry) []replica.EpochEntry {
	out := make([]replica.EpochEntry, len(es))
	for i, e := range es {
		out[i] = replica.EpochEntry{Epoch: e.Epoch, StartOffset: e.StartOffset}
	}
	return out
}

// truncateTo cuts the log at offset (a follower matching its new leader)
// and rebuilds the producer table from what is left, as Kafka does: from
// the newest producer snapshot at or below the cut and the batches after
// it (producersTruncated).
func (p *partition) truncateTo(offset int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	end := p.log.EndOffset()
	if offset > end {
		return nil
	}
	full := offset < p.log.StartOffset()
	p.lowerHW(offset)
	// At the end too: the log drops a leader-epoch entry this broker
	// recorded as a leader but never wrote in.
	if err := p.log.TruncateTo(offset); err != nil {
		p.fail(err)
		return err
	}
	return p.truncatedLocked(offset, end, full)
}

// truncateCorrupt cuts the log at the bad batch ce names (corrupt.go) and
// rebuilds the producer table as truncateTo does; it returns where the log
// now ends.
func (p *partition) truncateCorrupt(ce *storage.CorruptError) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	end := p.log.EndOffset()
	full := ce.Offset < p.log.StartOffset()
	p.lowerHW(ce.Offset) // the cut is at or below the bad batch
	offset, err := p.log.TruncateCorrupt(ce)
	if err != nil {
		p.fail(err)
		return 0, err
	}
	return offset, p.truncatedLocked(offset, end, full)
}

// lowerHW brings the high watermark down to offset, before a cut there:
// the cut's disk work takes time, and a reader between the cut and a later
// lowering would see a high watermark above the log end. p.mu is held, so
// no follower advance (followerAdvanceHW) interleaves.
func (p *partition) lowerHW(offset int64) {
	if p.highWatermark() > offset {
		p.hw.Store(offset)
	}
}

// truncatedLocked brings the high watermark and the producer table down to
// a log cut at offset that used to end at end; p.mu is held.
func (p *partition) truncatedLocked(offset, end int64, full bool) error {
	p.lowerHW(offset)
	if offset == end {
		return nil
	}
	if err := p.producersTruncated(offset, full); err != nil {
		p.fail(err)
		return err
	}
	return nil
}
