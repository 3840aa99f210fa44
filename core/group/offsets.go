package group

// OffsetCommit: v0-10. OffsetFetch: v0-10. OffsetDelete: v0.
//
// Behavior, as Kafka 4's OffsetMetadataManager and ClassicGroup:
//   - a commit with generation -1 (and any member id) is a "simple" commit
//     from a client outside group management, accepted only while the group
//     is Empty; with no generation and no member id a non-empty group
//     answers UNKNOWN_MEMBER_ID;
//   - any other commit must come from a current member (UNKNOWN_MEMBER_ID,
//     FENCED_INSTANCE_ID) in the current generation (ILLEGAL_GENERATION),
//     and not between join and sync (REBALANCE_IN_PROGRESS); commits are
//     taken during PreparingRebalance, as Kafka does, the next heartbeat
//     tells the member to rejoin;
//   - metadata longer than offset.metadata.max.bytes is
//     OFFSET_METADATA_TOO_LARGE for that partition;
//   - v1 may carry a commit timestamp, v2-4 a retention time, which sets an
//     explicit expiry (written with OffsetCommitValue v1, as Kafka does);
//   - a fetch of a partition with no commit answers offset -1 and no error;
//     offsets of open transactions are not shown, and a fetch that requires
//     stable offsets (v7+) answers UNSTABLE_OFFSET_COMMIT with offset -1 for
//     a partition that has one (see txn_offsets.go);
//   - OffsetDelete refuses topics the consumer members are subscribed to
//     (GROUP_SUBSCRIBED_TO_TOPIC) and groups of other protocols that have
//     members (NON_EMPTY_GROUP).
//
// Topic ids (OffsetCommit/Fetch v10) are the shell's: it fills in topic names
// before calling, and UNKNOWN_TOPIC_OR_PARTITION is its check too.

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Offset is one committed offset (Kafka's OffsetAndMetadata).
type Offset struct {
	Offset      int64
	LeaderEpoch int32 // -1 when none
	Metadata    string
	CommitMs    int64
	ExpireMs    int64 // -1 unless a v1-4 commit set an explicit expiry
}

// Offsets returns the committed offsets.
func (g *Group) Offsets() map[TopicPartition]Offset {
	c := make(map[TopicPartition]Offset, len(g.offsets))
	for k, v := range g.offsets {
		c[k] = v
	}
	return c
}

// Commit takes an OffsetCommit; its reply is always in the returned Output,
// behind the records of the new offsets.
func (g *Group) Commit(nowMs int64, to Handle, req *kmsg.OffsetCommitRequest) Output {
	return g.input(nowMs, func(out *Output) {
		if err := g.validateCommit(req); err != nil {
			out.reply(to, commitError(req, err))
			return
		}
		r := CommitResponse(req, func(topic string, p kmsg.OffsetCommitRequestTopicPartition) int16 {
			return code(g.commitOne(nowMs, req, topic, p, out))
		})
		if m, ok := g.members[req.MemberID]; ok {
			m.heartbeatDeadlineMs = nowMs + int64(m.sessionTimeoutMs)
		}
		out.reply(to, r)
	})
}

// commitError answers every partition of an OffsetCommit with err.
func commitError(req *kmsg.OffsetCommitRequest, err error) *kmsg.OffsetCommitResponse {
	c := code(err)
	return CommitResponse(req, func(string, kmsg.OffsetCommitRequestTopicPartition) int16 { return c })
}

// CommitResponse answers each partition of an OffsetCommit, in request
// order, with the error code partition returns for it (0 for success).
func CommitResponse(req *kmsg.OffsetCommitRequest, partition func(topic string, p kmsg.OffsetCommitRequestTopicPartition) int16) *kmsg.OffsetCommitResponse {
	r := kmsg.NewPtrOffsetCommitResponse()
	r.Version = req.Version
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = partition(t.Topic, p)
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

func (g *Group) validateCommit(req *kmsg.OffsetCommitRequest) error {
	return g.validateOffsetCommit(req.MemberID, req.InstanceID, req.Generation, false)
}

// validateOffsetCommit is Kafka 4's ClassicGroup.validateOffsetCommit; txn
// is set for a TxnOffsetCommit, for which the group state is not enforced.
func (g *Group) validateOffsetCommit(memberID string, instanceID *string, generation int32, txn bool) error {
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable
	}
	if generation < 0 && g.state == Empty {
		return nil
	}
	if generation >= 0 || memberID != "" || instanceID != nil {
		if err := g.validateMember(memberID, instanceID); err != nil {
			return err
		}
		if generation != g.generation {
			return kerr.IllegalGeneration
		}
	} else if !txn && g.state != Empty {
		return kerr.UnknownMemberID
	}
	if !txn && g.state == CompletingRebalance {
		return kerr.RebalanceInProgress
	}
	return nil
}

func (g *Group) commitOne(nowMs int64, req *kmsg.OffsetCommitRequest, topic string, p kmsg.OffsetCommitRequestTopicPartition, out *Output) error {
	o := Offset{Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, CommitMs: nowMs, ExpireMs: -1}
	if p.Metadata != nil {
		if len(*p.Metadata) > g.cfg.MetadataBytesMax {
			return kerr.OffsetMetadataTooLarge
		}
		o.Metadata = *p.Metadata
	}
	if o.LeaderEpoch < 0 {
		o.LeaderEpoch = -1
	}
	if req.Version == 1 && p.Timestamp != -1 {
		o.CommitMs = p.Timestamp
	}
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
		o.ExpireMs = nowMs + req.RetentionTimeMillis
	}
	tp := TopicPartition{Topic: topic, Partition: p.Partition}
	g.seq++
	g.commit(tp, o, g.seq)
	k, v := g.OffsetRecord(topic, p.Partition)
	out.record(k, v)
	return nil
}

// FetchOffsets answers one group of an OffsetFetch (the v8+ layout; see
// OffsetFetchGroups for the whole request). Nil topics means all committed
// ones. requireStable is the request's RequireStable (v7+): a partition
// with an offset of an open transaction answers UNSTABLE_OFFSET_COMMIT and
// offset -1 instead of its committed offset (Kafka's fetchOffsets).
func (g *Group) FetchOffsets(topics []kmsg.OffsetFetchRequestGroupTopic, requireStable bool) []kmsg.OffsetFetchResponseGroupTopic {
	if topics == nil {
		topics = g.allTopics()
	}
	out := make([]kmsg.OffsetFetchResponseGroupTopic, 0, len(topics))
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition = p
			rp.Offset = -1
			rp.Metadata = new(string)
			tp := TopicPartition{t.Topic, p}
			if requireStable && g.hasPending(tp) {
				rp.ErrorCode = code(kerr.UnstableOffsetCommit)
			} else if o, ok := g.offsets[tp]; ok {
				rp.Offset, rp.LeaderEpoch, *rp.Metadata = o.Offset, o.LeaderEpoch, o.Metadata
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

// allTopics lists every committed partition, sorted.
func (g *Group) allTopics() []kmsg.OffsetFetchRequestGroupTopic {
	tps := make([]TopicPartition, 0, len(g.offsets))
	for tp := range g.offsets {
		tps = append(tps, tp)
	}
	sortTPs(tps)
	topics := []kmsg.OffsetFetchRequestGroupTopic{}
	for _, tp := range tps {
		if n := len(topics); n == 0 || topics[n-1].Topic != tp.Topic {
			t := kmsg.NewOffsetFetchRequestGroupTopic()
			t.Topic = tp.Topic
			topics = append(topics, t)
		}
		last := &topics[len(topics)-1]
		last.Partitions = append(last.Partitions, tp.Partition)
	}
	return topics
}

func sortTPs(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

// IsSubscribed reports whether the consumer members subscribe to topic.
func (g *Group) IsSubscribed(topic string) bool { return g.subscribed[topic] }

// DeleteOffsets takes an OffsetDelete (Kafka's handleDeleteOffsets).
func (g *Group) DeleteOffsets(nowMs int64, to Handle, req *kmsg.OffsetDeleteRequest) Output {
	return g.input(nowMs, func(out *Output) {
		r := kmsg.NewPtrOffsetDeleteResponse()
		r.Version = req.Version
		isConsumer := g.protoType != nil && *g.protoType == "consumer"
		switch {
		case g.state == Dead:
			r.ErrorCode = code(kerr.GroupIDNotFound)
		case g.state != Empty && !isConsumer:
			r.ErrorCode = code(kerr.NonEmptyGroup)
		}
		if r.ErrorCode != 0 {
			out.reply(to, r)
			return
		}
		var removed []TopicPartition
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetDeleteResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetDeleteResponseTopicPartition()
				rp.Partition = p.Partition
				if g.state != Empty && g.IsSubscribed(t.Topic) {
					rp.ErrorCode = code(kerr.GroupSubscribedToTopic)
				} else {
					removed = append(removed, TopicPartition{t.Topic, p.Partition})
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			r.Topics = append(r.Topics, rt)
		}
		g.removeOffsets(nowMs, removed, out)
		out.reply(to, r)
	})
}

// removeOffsets drops offsets with tombstones, committed and pending ones
// (Kafka writes one if either exists, and its replay drops both), and a
// group left Empty with no offsets and no open transaction goes Dead
// (Kafka's cleanupGroupMetadata).
func (g *Group) removeOffsets(nowMs int64, tps []TopicPartition, out *Output) {
	for _, tp := range tps {
		if g.removeOffset(tp) {
			out.record(offsetKey(g.id, tp.Topic, tp.Partition), nil)
		}
	}
	if g.state == Empty && g.empty() {
		g.die(nowMs, out)
	}
}

// die makes the group Dead, with a tombstone for its metadata unless it
// never had a generation (then no metadata record was ever written).
func (g *Group) die(nowMs int64, out *Output) {
	g.transition(Dead, nowMs)
	if g.generation > 0 {
		out.record(groupKey(g.id), nil)
	}
}

// ExpireOffsets drops the offsets whose retention has passed (KIP-211) and
// lets an Empty group with no offsets go Dead. The shell calls it every
// offsets.retention.check.interval.ms and appends the tombstones.
//   - Empty groups: offsets.retention.minutes after the group became Empty
//     (after the commit, for groups loaded from pre-KIP-211 records);
//   - groups that only store offsets: after each commit;
//   - Stable consumer groups: after the commit, for topics no member
//     subscribes to;
//   - a commit with an explicit expiry (v1-4) expires then;
//   - an offset with a pending one of an open transaction does not
//     expire, and a group with an open transaction does not go Dead.
func (g *Group) ExpireOffsets(nowMs int64) Output {
	return g.input(nowMs, func(out *Output) {
		if g.state == Dead {
			return
		}
		var expired []TopicPartition
		for tp, o := range g.offsets {
			if g.offsetExpired(nowMs, tp, o) && !g.hasPending(tp) {
				expired = append(expired, tp)
			}
		}
		sortTPs(expired)
		g.removeOffsets(nowMs, expired, out)
	})
}

func (g *Group) offsetExpired(nowMs int64, tp TopicPartition, o Offset) bool {
	base := o.CommitMs
	switch {
	case g.protoType != nil && g.state == Empty:
		if g.stateMs >= 0 {
			base = g.stateMs
		}
	case g.protoType == nil:
	case *g.protoType == "consumer" && g.subscribed != nil && g.state == Stable:
		if g.subscribed[tp.Topic] {
			return false
		}
	default:
		return false
	}
	if o.ExpireMs >= 0 {
		return nowMs >= o.ExpireMs
	}
	return nowMs-base >= g.cfg.OffsetsRetentionMs
}
