package cluster

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"pgregory.net/rapid"
)

// memSink is an in-memory raft.SnapshotSink.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string            { return "mem" }
func (s *memSink) Close() error          { s.closed = true; return nil }
func (s *memSink) Cancel() error         { s.cancelled = true; return nil }
func (s *memSink) reader() io.ReadCloser { return io.NopCloser(bytes.NewReader(s.Bytes())) }

func applyLog(t interface{ Fatal(...any) }, f *FSM, index uint64, cmd Command) error {
	data, err := EncodeCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	res := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: data})
	if res == nil {
		return nil
	}
	return res.(error)
}

func TestFSMApplyPublishesAndReportsErrors(t *testing.T) {
	f := NewFSM()
	changed := f.Changed()
	if err := applyLog(t, f, 1, RegisterBroker{Broker: Broker{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed by an applied command")
	}
	changed = f.Changed()
	if err := applyLog(t, f, 2, DeleteTopic{Name: "nope"}); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("Apply result %v, expected ErrUnknownTopic", err)
	}
	if res := f.Apply(&raft.Log{Index: 3, Data: []byte{0xff}}); !errors.Is(res.(error), ErrBadCommand) {
		t.Fatalf("garbage entry: %v", res)
	}
	s := f.State()
	if s.AppliedIndex != 3 || len(s.Brokers) != 1 {
		t.Fatalf("after a rejected command: AppliedIndex %d, %d brokers", s.AppliedIndex, len(s.Brokers))
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed although AppliedIndex moved")
	}
}

// TestFSMSnapshotRestoreRoundTrip builds random states, snapshots them and
// restores them into a fresh FSM: the restored state must equal the
// original, and its encoding must be byte-for-byte the same.
func TestFSMSnapshotRestoreRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		m := &model{brokers: map[int32]bool{}, topics: map[string]*modelTopic{}}
		f := NewFSM()
		for i := range rapid.IntRange(0, 40).Draw(rt, "steps") {
			var cmd Command = RegisterBroker{Broker: Broker{ID: int32(i + 1), Host: "h", Rack: "r"}}
			if i >= 3 {
				cmd = drawCommand(rt, m)
			}
			m.apply(cmd)
			_ = applyLog(rt, f, uint64(i+1), cmd)
		}
		_ = applyLog(rt, f, 1000, SetClusterID{ID: "c"})
		_ = applyLog(rt, f, 1001, AlterBrokerConfigs{Set: map[string]string{"k": "v"}})
		want := f.State()
		snap, err := f.Snapshot()
		if err != nil {
			rt.Fatal(err)
		}
		sink := &memSink{}
		if err := snap.Persist(sink); err != nil || !sink.closed {
			rt.Fatalf("Persist: %v (closed %v)", err, sink.closed)
		}
		snap.Release()
		g := NewFSM()
		if err := g.Restore(sink.reader()); err != nil {
			rt.Fatalf("Restore: %v", err)
		}
		if got := g.State(); !reflect.DeepEqual(got, want) {
			rt.Fatalf("restored state differs:\n got %+v\nwant %+v", got, want)
		}
		a, _ := encodeState(want)
		b, _ := encodeState(g.State())
		if !bytes.Equal(a, b) {
			rt.Fatalf("encodings differ")
		}
	})
}

func TestFSMRestoreRejectsBadSnapshots(t *testing.T) {
	good := NewFSM()
	_ = applyLog(t, good, 1, RegisterBroker{Broker: Broker{ID: 1}})
	_ = applyLog(t, good, 2, CreateTopic{Name: "t", ID: [16]byte{1}, Assignments: [][]int32{{1}}})
	enc, _ := encodeState(good.State())
	for name, data := range map[string]string{
		"not json":          "{",
		"wrong version":     strings.Replace(string(enc), `"Version":1`, `"Version":2`, 1),
		"leader not in ISR": strings.Replace(string(enc), `"Leader":1`, `"Leader":5`, 1),
		"null topic":        `{"Version":1,"Topics":[null]}`,
		"duplicate topic":   strings.Replace(string(enc), `"Topics":[`, `"Topics":[{"Name":"t","ID":[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"Partitions":[{"Index":0,"Replicas":[1],"ISR":[1],"Leader":1}]},`, 1),
	} {
		f := NewFSM()
		before := f.State()
		if err := f.Restore(io.NopCloser(strings.NewReader(data))); err == nil {
			t.Errorf("%s: Restore accepted %s", name, data)
		}
		if f.State() != before {
			t.Errorf("%s: failed Restore changed the state", name)
		}
	}
	if !maps.Equal(good.State().TopicIDs, map[[16]byte]string{{1}: "t"}) {
		t.Fatal("sanity: good state lost its topic")
	}
}
