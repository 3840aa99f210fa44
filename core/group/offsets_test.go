package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func fetchReq(group string, topics map[string][]int32) kmsg.OffsetFetchRequestGroup {
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	if topics != nil {
		rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{}
	}
	for t, ps := range topics {
		gt := kmsg.NewOffsetFetchRequestGroupTopic()
		gt.Topic, gt.Partitions = t, ps
		rg.Topics = append(rg.Topics, gt)
	}
	return rg
}

// OffsetFetch of a partition with no commit answers -1 and no error, for a
// known group and an unknown one (sarama depends on it).
func TestFetchOffsets(t *testing.T) {
	x := newTester(t, testConfig())
	if ec := x.commit(commitReq(8, "", -1, "t", 1, 42)); ec != 0 {
		t.Fatal(ec)
	}
	for _, group := range []string{testGroup, "unknown"} {
		r := x.gs.FetchOffsets(fetchReq(group, map[string][]int32{"t": {0, 1}}), false)
		ps := r.Topics[0].Partitions
		want1 := int64(42)
		if group != testGroup {
			want1 = -1
		}
		if r.ErrorCode != 0 || ps[0].Offset != -1 || ps[0].ErrorCode != 0 || ps[1].Offset != want1 {
			t.Fatalf("%s: %#v", group, r)
		}
	}
	all := x.gs.FetchOffsets(fetchReq(testGroup, nil), false)
	if len(all.Topics) != 1 || len(all.Topics[0].Partitions) != 1 || *all.Topics[0].Partitions[0].Metadata != "md" {
		t.Fatalf("all: %#v", all)
	}
	if none := x.gs.FetchOffsets(fetchReq("unknown", nil), false); len(none.Topics) != 0 {
		t.Fatalf("all of an unknown group: %#v", none)
	}
	// The v0-7 layout round trip.
	old := kmsg.NewPtrOffsetFetchRequest()
	old.Version, old.Group = 5, testGroup
	var gs []kmsg.OffsetFetchResponseGroup
	for _, rg := range OffsetFetchGroups(old) {
		gs = append(gs, x.gs.FetchOffsets(rg, false))
	}
	if resp := OffsetFetchResponse(old, gs); len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].Offset != 42 {
		t.Fatalf("v5: %#v", resp)
	}
}

// OffsetDelete: GROUP_SUBSCRIBED_TO_TOPIC for a topic the consumer members
// subscribe to; other topics go, with tombstones.
func TestDeleteOffsets(t *testing.T) {
	x := newTester(t, testConfig())
	ids := x.stableGroup(2, "t")
	for _, topic := range []string{"t", "u"} {
		if ec := x.commit(commitReq(8, ids[0], 1, topic, 0, 7)); ec != 0 {
			t.Fatal(ec)
		}
	}
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = testGroup
	for _, topic := range []string{"t", "u"} {
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
		req.Topics = append(req.Topics, rt)
	}
	nrec := len(x.records)
	out := x.gs.DeleteOffsets(x.now, x.handle(), req)
	r := out.Replies[0].Msg.(*kmsg.OffsetDeleteResponse)
	if r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 86 || r.Topics[1].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset delete: %#v", r)
	}
	x.take(out)
	if len(x.records) != nrec+1 || x.records[nrec].Value != nil {
		t.Fatalf("want one tombstone, got %#v", x.records[nrec:])
	}
	if _, ok := x.group().Offsets()[TopicPartition{"u", 0}]; ok {
		t.Fatal("offset of u not deleted")
	}
	req.Group = "unknown"
	if r := x.gs.DeleteOffsets(x.now, x.handle(), req).Replies[0].Msg.(*kmsg.OffsetDeleteResponse); r.ErrorCode != 69 {
		t.Fatalf("unknown group: %d", r.ErrorCode)
	}
}

// KIP-211: the offsets of an Empty group expire offsets.retention.minutes
// after the group became Empty, and the group then goes Dead.
func TestExpireOffsetsOfEmptyGroup(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetentionMs = 100_000
	x := newTester(t, cfg)
	ids := x.stableGroup(1, "t")
	x.commit(commitReq(8, ids[0], 1, "t", 0, 9))
	for end := x.now + 150_000; x.now < end; { // long after the commit, but the group is not Empty
		x.tick(x.now + 5000)
		if ec := x.heartbeat(ids[0], nil, 1); ec != 0 {
			t.Fatal(ec)
		}
		x.take(x.gs.ExpireOffsets(x.now))
	}
	if len(x.group().Offsets()) != 1 {
		t.Fatal("offset of a subscribed topic in a Stable group expired")
	}
	x.leave(leaving(ids[0], nil))
	x.settle()
	if s := x.group().State(); s != Empty {
		t.Fatalf("state %v after the last member left", s)
	}
	emptyAt := x.now
	x.take(x.gs.ExpireOffsets(emptyAt + 99_999))
	if len(x.group().Offsets()) != 1 {
		t.Fatal("offset expired before the retention passed since the group became Empty")
	}
	nrec := len(x.records)
	x.take(x.gs.ExpireOffsets(emptyAt + 100_000))
	if x.gs.Get(testGroup) != nil {
		t.Fatal("Empty group with no offsets not dropped")
	}
	if len(x.records) != nrec+2 || x.records[nrec].Value != nil || x.records[nrec+1].Value != nil {
		t.Fatalf("want offset and group tombstones, got %d records", len(x.records)-nrec)
	}
}

// Offsets of a group that only stores offsets expire after the commit; an
// explicit v2-4 retention time expires them then.
func TestExpireSimpleGroupOffsets(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetentionMs = 100_000
	x := newTester(t, cfg)
	x.commit(commitReq(8, "", -1, "t", 0, 1))
	r := commitReq(3, "", -1, "t", 1, 1)
	r.RetentionTimeMillis = 10
	x.commit(r)
	x.take(x.gs.ExpireOffsets(x.now + 10))
	if o := x.group().Offsets(); len(o) != 1 {
		t.Fatalf("offsets %v", o)
	}
	x.take(x.gs.ExpireOffsets(x.now + 100_000))
	if x.gs.Get(testGroup) != nil {
		t.Fatal("simple group not dropped")
	}
	for _, rec := range x.records[len(x.records)-1:] {
		if d, _ := decodeRecord(rec.Key, rec.Value); d.isMeta {
			t.Fatal("group tombstone for a group that never had a generation")
		}
	}
}
