package group

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Partition matches Kafka: Utils.abs(groupId.hashCode) % n, with Java's
// String.hashCode (s[0]*31^(n-1) + ... + s[n-1] over UTF-16 code units).
func TestPartitionMatchesKafka(t *testing.T) {
	tests := []struct {
		group string
		want  int32 // of 50 partitions (offsets.topic.num.partitions)
	}{
		{"", 0},                       // hashCode 0
		{"a", 47},                     // 97
		{"Aa", 12},                    // 65*31+97 = 2112
		{"BB", 12},                    // 66*31+66 = 2112
		{"hello", 22},                 // 99162322
		{"my-consumer-group", 13},     // 1513705513
		{"consumer-group", 38},        // -1738392088: abs
		{"polygenelubricants", 0},     // Integer.MIN_VALUE: Utils.abs gives 0
		{"\U0001F600", 49},            // surrogates 0xD83D, 0xDE00: 1772899
		{"console-consumer-12345", 6}, // 158455506
	}
	for _, tt := range tests {
		if got := Partition(tt.group, 50); got != tt.want {
			t.Errorf("Partition(%q, 50) = %d, want %d", tt.group, got, tt.want)
		}
	}
	if got := Partition("hello", 1); got != 0 {
		t.Errorf("one partition: %d", got)
	}
}

// memberView and groupView are what must survive a reload.
type memberView struct {
	ID, Instance, ClientID, Host string
	RebalanceMs, SessionMs       int32
	Metadata, Assignment         string
}

type groupView struct {
	State                       State
	Generation                  int32
	ProtoType, Protocol, Leader string
	Members                     []memberView
	Offsets                     map[TopicPartition]Offset
}

func view(g *Group) groupView {
	v := groupView{g.state, g.generation, deref(g.protoType), deref(g.protocol), g.leader, nil, g.Offsets()}
	for _, id := range g.order {
		m := g.members[id]
		v.Members = append(v.Members, memberView{m.id, deref(m.instanceID), m.clientID, m.clientHost,
			m.rebalanceTimeoutMs, m.sessionTimeoutMs, string(m.metadata(deref(g.protocol))), string(m.assignment)})
	}
	return v
}

func views(gs *Groups) map[string]groupView {
	out := map[string]groupView{}
	for _, id := range gs.IDs() {
		out[id] = view(gs.Get(id))
	}
	return out
}

func load(t testing.TB, recs []Record) *Groups {
	t.Helper()
	l := NewLoader(testConfig(), &seqIDs{})
	for i, r := range recs {
		if err := l.Apply(r.Key, r.Value); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	return l.Done(0)
}

// busyPartition builds a partition's worth of history: a Stable group with a
// static member, commits (with leader epoch, metadata, explicit expiry), an
// overwritten and a deleted offset, a simple group, and a deleted group.
func busyPartition(t testing.TB) *tester {
	x := newTester(t, testConfig())
	x.staticAndDynamic("i1")
	ids := x.group().Members()
	x.join(joinReq(ids[0], nil, "t"))
	x.settle()
	h := x.join(joinReq(ids[1], nil, "t"))
	x.settle(h)
	gen := x.group().Generation()
	x.sync(ids[1], gen, nil)
	x.sync(x.group().Leader(), gen, map[string][]byte{ids[0]: []byte("A"), ids[1]: []byte("B")})
	c := commitReq(8, ids[1], gen, "t", 0, 10)
	c.Topics[0].Partitions[0].LeaderEpoch = 4
	x.commit(c)
	x.commit(commitReq(8, ids[1], gen, "t", 0, 11))
	x.commit(commitReq(8, ids[1], gen, "u", 3, 5))
	for _, g := range []string{"simple", "gone"} {
		r := commitReq(3, "", -1, "v", 1, 77)
		r.Group, r.RetentionTimeMillis = g, 3_600_000
		if ec := x.commit(r); ec != 0 {
			t.Fatal(ec)
		}
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"gone"}
	x.take(x.gs.Delete(x.now, x.handle(), del))
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = testGroup
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "u", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 3}}}}
	x.take(x.gs.DeleteOffsets(x.now, x.handle(), od))
	return x
}

// Replaying the records the groups wrote, in order, rebuilds them.
func TestLoaderReplaysLog(t *testing.T) {
	x := busyPartition(t)
	got, want := views(load(t, x.records)), views(x.gs)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reloaded:\n%+v\nwant:\n%+v", got, want)
	}
	if len(want) != 2 || want[testGroup].State != Stable || len(want[testGroup].Members) != 2 {
		t.Fatalf("unexpected history: %+v", want)
	}
}

// MetadataRecord and OffsetRecord are a snapshot: a compacted partition
// holding only them reloads to the same groups.
func TestSnapshotRecordsRoundTrip(t *testing.T) {
	x := busyPartition(t)
	var recs []Record
	for _, id := range x.gs.IDs() {
		g := x.gs.Get(id)
		if g.generation > 0 {
			k, v := g.MetadataRecord()
			recs = append(recs, Record{Key: k, Value: v})
		}
		for tp := range g.offsets {
			k, v := g.OffsetRecord(tp.Topic, tp.Partition)
			recs = append(recs, Record{Key: k, Value: v})
		}
	}
	if got, want := views(load(t, recs)), views(x.gs); !reflect.DeepEqual(got, want) {
		t.Fatalf("reloaded:\n%+v\nwant:\n%+v", got, want)
	}
}

// The record bytes are Kafka's: key version 1 for offsets and 2 for group
// metadata, value version 3 (1 with an explicit expiry).
func TestRecordFormats(t *testing.T) {
	g := NewGroup("grp", testConfig(), &seqIDs{}, 0)
	g.offsets[TopicPartition{"t", 2}] = Offset{Offset: 5, LeaderEpoch: 1, Metadata: "m", CommitMs: 99, ExpireMs: -1}
	g.offsets[TopicPartition{"t", 3}] = Offset{Offset: 6, LeaderEpoch: -1, CommitMs: 99, ExpireMs: 1000}
	k, v := g.OffsetRecord("t", 2)
	wantKey := []byte{0, 1, 0, 3, 'g', 'r', 'p', 0, 1, 't', 0, 0, 0, 2}
	wantVal := []byte{0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 1, 'm', 0, 0, 0, 0, 0, 0, 0, 99}
	if fmt.Sprint(k) != fmt.Sprint(wantKey) || fmt.Sprint(v) != fmt.Sprint(wantVal) {
		t.Fatalf("offset record %v %v", k, v)
	}
	if _, v := g.OffsetRecord("t", 3); v[1] != 1 || len(v) != 2+8+2+8+8 {
		t.Fatalf("offset record with expiry: %v", v)
	}
	if _, v := g.OffsetRecord("t", 4); v != nil {
		t.Fatal("no commit must be a tombstone")
	}
	k, _ = g.MetadataRecord()
	if fmt.Sprint(k) != fmt.Sprint([]byte{0, 2, 0, 3, 'g', 'r', 'p'}) {
		t.Fatalf("group key %v", k)
	}
	g.transition(Dead, 0)
	if _, v := g.MetadataRecord(); v != nil {
		t.Fatal("dead group must be a tombstone")
	}
}

// Garbage never panics the Loader, and a record that decodes is applied.
func FuzzLoadRecord(f *testing.F) {
	x := busyPartition(f)
	for _, r := range x.records {
		f.Add(r.Key, r.Value)
	}
	f.Add([]byte{0, 3, 0, 1, 'g'}, []byte{})
	f.Add([]byte{0, 2, 0, 1, 'g'}, []byte{0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		l := NewLoader(testConfig(), &seqIDs{})
		if err := l.Apply(key, value); err != nil {
			return
		}
		gs := l.Done(0)
		for _, id := range gs.IDs() {
			g := gs.Get(id)
			checkInvariants(t, g)
			g.MetadataRecord()
			g.Tick(1 << 40)
			checkInvariants(t, g)
		}
	})
}
