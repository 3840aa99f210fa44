package core

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jocko/jocko/cluster"
	jio "github.com/jocko/jocko/io"
	"github.com/jocko/jocko/storage"
)

// Retention by percent of disk, the shell (the decision is disk_plan.go).
// Each pass reads the data directory's file system through the io seam
// (statfs; the simulator's disk), lists the closed segments below the high
// watermark of the partitions this broker leads, plans and deletes whole
// segments (storage.Log.DeleteSegmentsBefore, which writes nothing, so it
// works on a full disk). Only a leader deletes: followers move their log
// start up to the leader's from its Fetch responses (follower_start.go), as
// after DeleteRecords, so replicas hold the same records.

// diskRetentionEveryMax bounds how long the disk goes unchecked while a
// disk budget is set, whatever log.retention.check.interval.ms says (five
// minutes by default, in which a fast producer fills any disk): a statfs
// per second costs nothing.
const diskRetentionEveryMax = time.Second

// diskRetentionLoop runs a disk retention pass every
// min(log.retention.check.interval.ms, diskRetentionEveryMax) until ctx
// ends. A pass with no budget and no topic cap set reads nothing.
func (b *Broker) diskRetentionLoop(ctx context.Context) error {
	for {
		every := time.Duration(b.brokerInt(b.node.State(), "log.retention.check.interval.ms")) * time.Millisecond
		t := b.env.Clock.Timer(min(every, diskRetentionEveryMax))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		b.enforceDiskPercent()
	}
}

// diskBudgetPercent is log.retention.disk.percent (<= 0: off).
func (b *Broker) diskBudgetPercent(st *cluster.State) float64 {
	v, _ := b.brokerSetting(st, "log.retention.disk.percent")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return -1
	}
	return f
}

// enforceDiskPercent is one pass.
func (b *Broker) enforceDiskPercent() {
	st := b.node.State()
	pct := b.diskBudgetPercent(st)
	parts := b.partitionsSnapshot()
	capped := false
	for _, p := range parts {
		capped = capped || p.config().diskPercent > 0
	}
	if pct <= 0 && !capped {
		return
	}
	space, err := jio.DiskSpaceOf(b.env.FS, b.cfg.DataDir)
	if err != nil || space.Total <= 0 {
		b.diskUnknown(err)
		return
	}
	used := space.Total - space.Free
	topics := b.diskTopics(st, parts, space.Total)
	cuts := planDiskRetention(used, space.Total, pct, topics)
	if len(cuts) == 0 {
		return
	}
	byKey := map[tp]*partition{}
	for _, p := range parts {
		byKey[tp{p.topic, p.index}] = p
	}
	var freed int64
	segs := 0
	for _, c := range cuts {
		n, bytes := byKey[c.key].deleteForDisk(c.offset, c.bytes)
		segs += n
		freed += bytes
	}
	if segs > 0 {
		b.log.Info("disk retention deleted segments", "segments", segs, "bytes", freed,
			"used_percent", strconv.FormatFloat(space.Used()*100, 'f', 1, 64),
			"budget_percent", strconv.FormatFloat(pct, 'f', -1, 64), "partitions", len(cuts))
	}
}

// diskUnknown logs, once per broker, that the file system's capacity is
// unknown, so retention by percent of disk cannot act.
func (b *Broker) diskUnknown(err error) {
	if b.diskUnknownLogged.Swap(true) {
		return
	}
	if err == nil {
		err = errors.New("capacity 0")
	}
	b.log.Warn("retention by percent of disk is set but the data directory's file system capacity is unknown; nothing is deleted for it",
		"data_dir", b.cfg.DataDir, "err", err)
}

// diskTopics gathers what the plan needs: per topic its bytes here, its
// cap and share, and the deletable segments of the partitions it leads.
// Topics whose cleanup.policy lacks delete (compacted ones, the internal
// topics) are counted nowhere and lose nothing: their records are state,
// not history.
func (b *Broker) diskTopics(st *cluster.State, parts []*partition, total int64) []diskTopic {
	var out []diskTopic
	local := map[string]int{} // partitions here, per topic
	for _, p := range parts {
		local[p.topic]++
	}
	for _, p := range parts { // in topic/partition order
		cfg := p.config()
		if !cfg.deletes {
			continue
		}
		if len(out) == 0 || out[len(out)-1].name != p.topic {
			out = append(out, b.diskTopic(st, p, cfg, local[p.topic], total))
		}
		t := &out[len(out)-1]
		t.bytes += p.log.Size()
		if !p.isLeader() || p.err() != nil {
			continue
		}
		hw := p.highWatermark()
		var segs []storage.SegmentInfo
		for _, s := range p.log.ClosedSegments() {
			if s.Next > hw {
				break // never data at or above the high watermark
			}
			segs = append(segs, s)
		}
		if len(segs) > 0 {
			t.parts = append(t.parts, diskPart{key: tp{p.topic, p.index}, segs: segs})
		}
	}
	return out
}

// diskTopic is a topic's entry with its cap and share and no bytes yet.
func (b *Broker) diskTopic(st *cluster.State, p *partition, cfg topicConfig, localParts int, total int64) diskTopic {
	t := diskTopic{name: p.topic, capBytes: -1, shareBytes: -1}
	if cfg.diskPercent > 0 {
		t.capBytes = int64(float64(total) * cfg.diskPercent / 100)
	}
	if top, ok := st.Topic(p.topic); ok {
		v, _ := b.topicSetting(st, top, "retention.topic.bytes")
		topicBytes, _ := strconv.ParseInt(v, 10, 64)
		if share := partitionShare(topicBytes, len(top.Partitions)); share >= 0 {
			t.shareBytes = share * int64(localParts)
		}
	}
	return t
}

// deleteForDisk deletes the partition's closed segments before offset if
// it still leads, and returns how many segments and about how many bytes
// went (planned: the bytes of what was deleted).
func (p *partition) deleteForDisk(offset, planned int64) (int, int64) {
	if !p.isLeader() || offset > p.highWatermark() {
		return 0, 0
	}
	n, err := p.log.DeleteSegmentsBefore(offset)
	if err != nil {
		if _, closed := partitionClosedCode(p.err()); !closed && !errors.Is(err, storage.ErrClosed) {
			p.b.log.Error("disk retention", "topic", p.topic, "partition", p.index, "err", err)
		}
		return n, 0
	}
	if err := p.pruneSnapshots(); err != nil {
		p.b.log.Warn("delete producer snapshots", "topic", p.topic, "partition", p.index, "err", err)
	}
	return n, planned
}
