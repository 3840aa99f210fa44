package core

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jocko/jocko/cluster"
	jio "github.com/jocko/jocko/io"
	"github.com/spf13/afero"
)

// partitionMetaFile records which topic ID a partition directory belongs to,
// so a directory left by a deleted topic is never served as the new topic of
// the same name (Kafka's partition.metadata).
const partitionMetaFile = "partition.metadata"

// watchMetadata reconciles local partitions with the cluster metadata at
// every change, and each time partitions finish opening.
func (b *Broker) watchMetadata(ctx context.Context) error {
	kick, _ := b.opens.chans()
	for {
		ch := b.node.Changed()
		if err := b.reconcile(); err != nil {
			b.log.Error("reconcile partitions", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		case <-kick:
		}
	}
}

// reconcile schedules the opening of the partitions this broker hosts
// (partition_open.go: they open in the background and serve once open),
// applies config and role changes to the open ones, and closes and deletes
// the data of partitions whose topic is gone. Handlers call it through
// reconcileWait after a metadata change so that their answer sees the
// result. No log is opened under reconcileMu: the workers open them, and
// the next reconcile installs what they opened.
func (b *Broker) reconcile() error {
	b.reconcileMu.Lock()
	defer b.reconcileMu.Unlock()
	st := b.node.State()
	b.installOpened(st)
	want := map[tp]*cluster.Topic{}
	for _, name := range st.SortedTopicNames() {
		t := st.Topics[name]
		for _, p := range t.Partitions {
			if contains(p.Replicas, b.cfg.NodeID) {
				want[tp{name, p.Index}] = t
			}
		}
	}
	b.dropPartitions(want)
	for _, name := range st.SortedTopicNames() {
		t := st.Topics[name]
		cfg := b.resolveTopicConfig(st, t)
		for _, ps := range t.Partitions {
			k := tp{name, ps.Index}
			if want[k] == nil {
				continue
			}
			if p := b.partition(name, ps.Index); p != nil {
				p.setConfig(cfg)
				p.roleFromMetadata(ps)
				continue
			}
			b.scheduleOpen(t, ps.Index)
		}
	}
	if b.opens.firstCall() {
		ops := b.opens.since(0)
		b.spawn(func(ctx context.Context) { b.awaitInitialOpens(ctx, ops) })
	}
	b.coord.syncShards(st)
	b.txns.syncShards(st)
	b.syncFetchers()
	return nil
}

// dropPartitions closes and deletes local partitions not in want (or whose
// topic was re-created with a new ID). Their waiters answer at once: a
// topic gone from the metadata (or re-created) as deleted, a replica that
// moved off this broker as moved.
func (b *Broker) dropPartitions(want map[tp]*cluster.Topic) {
	b.partsMu.Lock()
	var gone []*partition
	for k, p := range b.parts {
		if t := want[k]; t == nil || t.ID != p.topicID {
			gone = append(gone, p)
			delete(b.parts, k)
		}
	}
	b.partsMu.Unlock()
	st := b.node.State()
	for _, p := range gone {
		reason := errTopicDeleted
		if _, ok := st.TopicByID(p.topicID); ok {
			reason = errReplicaMoved
		}
		p.shut(reason)
	}
	for _, p := range gone {
		b.deletePartition(p)
	}
}

// claimDir makes dir belong to topic id: a directory left behind by an older
// topic of the same name is deleted first.
func (b *Broker) claimDir(dir string, id [16]byte) error {
	fs := b.env.FS
	meta := filepath.Join(dir, partitionMetaFile)
	want := partitionMeta(id)
	if got, err := afero.ReadFile(fs, meta); err == nil {
		if string(got) == want {
			return nil
		}
		if err := fs.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove stale partition dir %s: %w", dir, err)
		}
	} else if ok, _ := afero.DirExists(fs, dir); ok {
		if err := fs.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove unclaimed partition dir %s: %w", dir, err)
		}
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := jio.SyncDir(fs, filepath.Dir(dir)); err != nil {
		return err
	}
	return jio.WriteFileAtomic(fs, meta, []byte(want))
}

// retentionLoop applies retention and time-based rolling to every partition
// every log.retention.check.interval.ms.
func (b *Broker) retentionLoop(ctx context.Context) error {
	for {
		every := time.Duration(b.brokerInt(b.node.State(), "log.retention.check.interval.ms")) * time.Millisecond
		t := b.env.Clock.Timer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		b.partsMu.RLock()
		parts := make([]*partition, 0, len(b.parts))
		for _, p := range b.parts {
			parts = append(parts, p)
		}
		b.partsMu.RUnlock()
		for _, p := range parts {
			p.cleanup()
		}
	}
}

func contains(xs []int32, x int32) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// sweepOrphans deletes partition directories that no hosted partition
// claims: left behind when the broker stopped between a topic's deletion in
// the metadata log and the removal of its data.
func (b *Broker) sweepOrphans() {
	infos, err := afero.ReadDir(b.env.FS, b.cfg.DataDir)
	if err != nil {
		b.log.Warn("sweep orphaned partitions", "err", err)
		return
	}
	b.partsMu.RLock()
	claimed := map[string]bool{}
	for k := range b.parts {
		claimed[partitionDirName(k.topic, k.part)] = true
	}
	b.partsMu.RUnlock()
	b.opens.claimed(claimed)
	for _, fi := range infos {
		if !fi.IsDir() || claimed[fi.Name()] {
			continue
		}
		dir := filepath.Join(b.cfg.DataDir, fi.Name())
		if ok, _ := afero.Exists(b.env.FS, filepath.Join(dir, partitionMetaFile)); !ok {
			continue // not a partition directory (the metadata log, or the operator's)
		}
		if err := b.env.FS.RemoveAll(dir); err != nil {
			b.log.Warn("remove orphaned partition", "dir", dir, "err", err)
			continue
		}
		b.log.Info("removed orphaned partition data", "dir", dir)
	}
}

// cleanup applies the partition's cleanup.policy: time and size retention
// (and time-based rolling) for delete, log compaction for compact; then
// deletes the producer snapshots retention left below the log start and
// forgets the producers idle for producer.id.expiration.ms.
func (p *partition) cleanup() {
	log := p.b.log.With("topic", p.topic, "partition", p.index)
	if n, err := p.log.EnforceRetention(); err != nil {
		log.Error("retention", "err", err)
	} else if n > 0 {
		log.Info("retention deleted segments", "segments", n)
	}
	if err := p.pruneSnapshots(); err != nil {
		log.Warn("delete producer snapshots", "err", err)
	}
	if n := p.expireProducers(); n > 0 {
		log.Info("expired idle producers", "producers", n)
	}
	cfg := p.config()
	if !cfg.compact {
		return
	}
	st, err := p.log.Compact(cfg.compactCfg)
	if err != nil {
		log.Error("compaction", "err", err)
	} else if st.SegmentsRewritten > 0 {
		log.Info("compacted", "segments", st.SegmentsRewritten, "bytes_before", st.BytesBefore, "bytes_after", st.BytesAfter)
	}
}
