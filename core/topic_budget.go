package core

import (
	"fmt"
	"strconv"

	"github.com/jocko/jocko/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Topic size budgets. Kafka's retention.bytes is per partition, so adding
// partitions multiplies what a topic may keep. retention.topic.bytes is a
// budget for one replica of the whole topic: each partition keeps an equal
// share, recomputed whenever the partition count changes (the share is
// derived from the metadata when the topic's settings are resolved, so
// CreatePartitions needs no extra step). Where both are set, the smaller
// of the share and retention.bytes applies.

// partitionShare returns the per-partition byte limit that
// retention.topic.bytes gives a topic of n partitions, or -1 if it sets
// none.
func partitionShare(topicBytes int64, n int) int64 {
	if topicBytes < 0 || n <= 0 {
		return -1
	}
	return topicBytes / int64(n)
}

// effectiveRetentionBytes combines retention.bytes with the topic budget's
// share: the smaller limit wins, -1 meaning none. fromBudget reports that
// the share decided.
func effectiveRetentionBytes(partBytes, topicBytes int64, n int) (bytes int64, fromBudget bool) {
	share := partitionShare(topicBytes, n)
	if share >= 0 && (partBytes < 0 || share < partBytes) {
		return share, true
	}
	return partBytes, false
}

// checkTopicBudget refuses a retention.topic.bytes that leaves a partition
// less than one segment: retention never deletes the active segment, so
// such a budget could not be kept, and every roll would delete the
// segment before it. setting resolves a topic setting with the change
// under validation applied.
func checkTopicBudget(partitions int, setting func(string) string) error {
	tb, _ := strconv.ParseInt(setting("retention.topic.bytes"), 10, 64)
	seg, _ := strconv.ParseInt(setting("segment.bytes"), 10, 64)
	if tb < 0 || partitions <= 0 || seg <= 0 {
		return nil
	}
	if tb/int64(partitions) < seg {
		return codeErr(kerr.InvalidConfig.Code, fmt.Sprintf(
			"retention.topic.bytes=%d over %d partitions leaves %d bytes each, less than one segment (segment.bytes=%d): set it to at least %d (partitions x segment.bytes), lower segment.bytes, or use -1 for no topic budget",
			tb, partitions, tb/int64(partitions), seg, int64(partitions)*seg))
	}
	return nil
}

// topicSettingWith resolves a topic setting as it would be with configs as
// the topic's own settings (a topic being created or altered).
func (b *Broker) topicSettingWith(st *cluster.State, configs map[string]string) func(string) string {
	return func(name string) string {
		if v, ok := configs[name]; ok {
			return v
		}
		if d := topicDefs[name]; d != nil {
			v, _ := b.brokerSetting(st, d.broker)
			return v
		}
		return ""
	}
}
