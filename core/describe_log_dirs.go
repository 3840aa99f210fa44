package core

// DescribeLogDirs: v1-5
//
// Behavior: Jocko has one log directory, the data directory, so the answer
// is that directory with the partitions this broker holds a replica of
// (all, or those asked for), each with its size on disk (the bytes of its
// segments' batches), an offset lag of 0 and IsFuture false (no replica
// moves between directories). v4+ carries the file system's total and
// usable bytes (jio.DiskSpaceOf; -1 where the file system cannot tell);
// v5's IsCordoned is false. After a storage failure (the broker asked to
// be fenced, shutdown.go) the directory answers KAFKA_STORAGE_ERROR with
// no partitions, as Kafka answers an offline directory. v0 is gone from
// Kafka 4 (KIP-896).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	jio "github.com/jocko/jocko/io"
)

func init() { register(kmsg.DescribeLogDirs, 1, 5, (*Broker).handleDescribeLogDirs) }

func (b *Broker) handleDescribeLogDirs(_ context.Context, r *request) reply {
	req := r.msg.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = b.cfg.DataDir
	if space, err := jio.DiskSpaceOf(b.env.FS, b.cfg.DataDir); err == nil && space.Total > 0 {
		dir.TotalBytes, dir.UsableBytes = space.Total, space.Free
	}
	if b.dirFailed.Load() {
		dir.ErrorCode = kerr.KafkaStorageError.Code
		resp.Dirs = append(resp.Dirs, dir)
		return reply{resp: resp}
	}
	// nil Topics asks for every partition; otherwise the ones named.
	var want map[tp]bool
	if req.Topics != nil {
		want = map[tp]bool{}
		for _, rt := range req.Topics {
			for _, part := range rt.Partitions {
				want[tp{rt.Topic, part}] = true
			}
		}
	}
	byTopic := map[string]int{}
	for _, p := range b.partitionsSnapshot() { // sorted by topic and partition
		if want != nil && !want[tp{p.topic, p.index}] {
			continue
		}
		i, ok := byTopic[p.topic]
		if !ok {
			t := kmsg.NewDescribeLogDirsResponseDirTopic()
			t.Topic = p.topic
			dir.Topics = append(dir.Topics, t)
			i = len(dir.Topics) - 1
			byTopic[p.topic] = i
		}
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition, rp.Size = p.index, p.log.Size()
		dir.Topics[i].Partitions = append(dir.Topics[i].Partitions, rp)
	}
	resp.Dirs = append(resp.Dirs, dir)
	return reply{resp: resp}
}
