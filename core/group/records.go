package group

// The __consumer_offsets record formats, exactly as Kafka writes them:
//   - offset commit: key OffsetCommitKey v1 (group, topic, partition), value
//     OffsetCommitValue v3 (offset, leader epoch, metadata, commit time), or
//     v1 when the commit carried an explicit expiry (OffsetCommit v1-4);
//   - group metadata: key GroupMetadataKey v2 (group), value
//     GroupMetadataValue v3 (protocol type, generation, protocol, leader,
//     state timestamp, members with their subscription and assignment);
//   - a nil value is a tombstone: compaction drops the key;
//   - a TxnOffsetCommit writes the same offset records, in a transactional
//     batch of its producer; its COMMIT or ABORT marker, written by the
//     transaction coordinator, decides them (see txn_offsets.go).
// Key versions 0 and 1 are offset commits, 2 is group metadata; others
// (Kafka 4's consumer-group records) are not classic records and are skipped
// by the Loader.

import (
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: 1, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: 2, Group: group}
	return k.AppendTo(nil)
}

// OffsetRecord is the record of the group's committed offset for a
// partition: a tombstone when there is none.
func (g *Group) OffsetRecord(topic string, partition int32) (key, value []byte) {
	key = offsetKey(g.id, topic, partition)
	o, ok := g.offsets[TopicPartition{topic, partition}]
	if !ok {
		return key, nil
	}
	return key, offsetValue(o)
}

// offsetValue is the value of an offset record: OffsetCommitValue v3, or v1
// with an explicit expiry.
func offsetValue(o Offset) []byte {
	v := kmsg.OffsetCommitValue{
		Version:         3,
		Offset:          o.Offset,
		LeaderEpoch:     o.LeaderEpoch,
		Metadata:        o.Metadata,
		CommitTimestamp: o.CommitMs,
	}
	if o.ExpireMs >= 0 {
		v.Version, v.ExpireTimestamp = 1, o.ExpireMs
	}
	return v.AppendTo(nil)
}

// MetadataRecord is the record of the group's metadata: a tombstone once the
// group is Dead.
func (g *Group) MetadataRecord() (key, value []byte) {
	key = groupKey(g.id)
	if g.state == Dead {
		return key, nil
	}
	v := kmsg.NewGroupMetadataValue()
	v.Version = 3
	v.ProtocolType = deref(g.protoType)
	v.Generation = g.generation
	v.Protocol = cloneString(g.protocol)
	if g.leader != "" {
		v.Leader = cloneString(&g.leader)
	}
	v.CurrentStateTimestamp = g.stateMs
	for _, id := range g.order {
		m := g.members[id]
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		vm.InstanceID = cloneString(m.instanceID)
		vm.ClientID = m.clientID
		vm.ClientHost = m.clientHost
		vm.RebalanceTimeoutMillis = m.rebalanceTimeoutMs
		vm.SessionTimeoutMillis = m.sessionTimeoutMs
		vm.Subscription = m.metadata(deref(g.protocol))
		vm.Assignment = m.assignment
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return key, v.AppendTo(nil)
}

// ErrNotClassic marks a record of a kind this package does not keep (a key
// version above 2); the Loader skips it.
var ErrNotClassic = errors.New("group: not a classic group record")

// decoded is one record, decoded and checked.
type decoded struct {
	group  string
	tp     TopicPartition
	isMeta bool
	offset *Offset                  // nil: tombstone
	meta   *kmsg.GroupMetadataValue // nil: tombstone
}

// decodeRecord decodes and checks one __consumer_offsets record.
func decodeRecord(key, value []byte) (decoded, error) {
	if len(key) < 2 {
		return decoded{}, fmt.Errorf("group: record key of %d bytes", len(key))
	}
	switch version := int16(key[0])<<8 | int16(key[1]); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return decoded{}, fmt.Errorf("group: offset commit key: %w", err)
		}
		d := decoded{group: k.Group, tp: TopicPartition{k.Topic, k.Partition}}
		if value == nil {
			return d, nil
		}
		o, err := decodeOffset(value)
		d.offset = o
		return d, err
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return decoded{}, fmt.Errorf("group: group metadata key: %w", err)
		}
		d := decoded{group: k.Group, isMeta: true}
		if value == nil {
			return d, nil
		}
		m, err := decodeMetadata(value)
		d.meta = m
		return d, err
	default:
		return decoded{}, fmt.Errorf("%w: key version %d", ErrNotClassic, version)
	}
}

func decodeOffset(value []byte) (*Offset, error) {
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(value); err != nil {
		return nil, fmt.Errorf("group: offset commit value: %w", err)
	}
	if v.Version < 0 || v.Version > 4 {
		return nil, fmt.Errorf("group: offset commit value version %d", v.Version)
	}
	o := &Offset{Offset: v.Offset, LeaderEpoch: -1, Metadata: v.Metadata, CommitMs: v.CommitTimestamp, ExpireMs: -1}
	if v.Version >= 3 && v.LeaderEpoch >= 0 {
		o.LeaderEpoch = v.LeaderEpoch
	}
	if v.Version == 1 {
		o.ExpireMs = v.ExpireTimestamp
	}
	return o, nil
}

func decodeMetadata(value []byte) (*kmsg.GroupMetadataValue, error) {
	v := &kmsg.GroupMetadataValue{}
	if err := v.ReadFrom(value); err != nil {
		return nil, fmt.Errorf("group: group metadata value: %w", err)
	}
	if v.Version < 0 || v.Version > 4 {
		return nil, fmt.Errorf("group: group metadata value version %d", v.Version)
	}
	if len(v.Members) == 0 {
		return v, nil
	}
	if v.ProtocolType == "" || v.Protocol == nil || v.Leader == nil {
		return nil, fmt.Errorf("group: group metadata with %d members lacks a protocol type, protocol or leader", len(v.Members))
	}
	ids, instances := map[string]bool{}, map[string]bool{}
	for _, m := range v.Members {
		if m.MemberID == "" || ids[m.MemberID] {
			return nil, fmt.Errorf("group: group metadata member id %q is empty or repeated", m.MemberID)
		}
		ids[m.MemberID] = true
		if m.InstanceID != nil {
			if instances[*m.InstanceID] {
				return nil, fmt.Errorf("group: group metadata instance id %q is repeated", *m.InstanceID)
			}
			instances[*m.InstanceID] = true
		}
	}
	if !ids[*v.Leader] {
		return nil, fmt.Errorf("group: group metadata leader %q is not a member", *v.Leader)
	}
	return v, nil
}

// Partition is the __consumer_offsets partition that holds a group, as
// Kafka computes it: Utils.abs(groupId.hashCode()) % numPartitions, with
// Java's String.hashCode over UTF-16 code units and Utils.abs mapping
// Integer.MIN_VALUE to 0.
func Partition(groupID string, numPartitions int32) int32 {
	if numPartitions <= 0 {
		panic(fmt.Sprintf("group: Partition of %q over %d partitions", groupID, numPartitions))
	}
	var h int32
	for _, u := range utf16.Encode([]rune(groupID)) {
		h = 31*h + int32(u)
	}
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % numPartitions
}
