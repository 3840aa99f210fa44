package core

import (
	"fmt"
	"testing"

	"github.com/jocko/jocko/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestShardStatsCapsLags: a shard lists its groups' lags, high watermark
// minus committed offset, only for partitions the broker has, at most
// lagMax in all across shards, in group, topic and partition order, and
// counts the rest as dropped; every group counts in its state.
func TestShardStatsCapsLags(t *testing.T) {
	t.Parallel()
	parts := map[tp]*partition{}
	for i := range int32(4) {
		p := &partition{topic: "t", index: i}
		p.hw.Store(100)
		parts[tp{"t", i}] = p
	}
	gs := group.NewGroups(group.Config{}, nil)
	for g := range 3 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version, req.Group, req.Generation = 8, fmt.Sprintf("g%d", g), -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		// Partition 4 is not on this broker: no lag for it.
		for i := range int32(5) {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = i, int64(10*g+int(i))
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		gs.Commit(1, 0, req)
	}
	s := &shard{groups: gs}
	states := map[string]int{}
	var lags []GroupLag
	// Room for 6: g0's 4 partitions and 2 of g1's.
	dropped := s.stats(parts, states, &lags, 6)
	if dropped != 6 {
		t.Errorf("dropped %d lags, want 6 (g1's last 2 and g2's 4)", dropped)
	}
	want := []GroupLag{{"g0", "t", 0, 100}, {"g0", "t", 1, 99}, {"g0", "t", 2, 98}, {"g0", "t", 3, 97}, {"g1", "t", 0, 90}, {"g1", "t", 1, 89}}
	if fmt.Sprint(lags) != fmt.Sprint(want) {
		t.Errorf("lags %v, want %v", lags, want)
	}
	if states["Empty"] != 3 {
		t.Errorf("states %v, want 3 Empty groups", states)
	}
}
