package cluster

import (
	"errors"
	"reflect"
	"testing"
)

// sampleCommands holds one of every command, with every field set.
var sampleCommands = []Command{
	RegisterBroker{Broker: Broker{ID: 1, Host: "h1", Port: 9092, Rack: "r1", RaftAddr: "h1:9093"}},
	CreateTopic{Name: "t", ID: [16]byte{1, 2, 3}, Assignments: [][]int32{{1, 2}, {2, 1}}, Configs: map[string]string{"cleanup.policy": "compact"}, Internal: true},
	DeleteTopic{Name: "t"},
	CreatePartitions{Topic: "t", Assignments: [][]int32{{3}}},
	AlterTopicConfigs{Topic: "t", Set: map[string]string{"a": "1"}, Delete: []string{"b"}, Replace: true},
	AlterBrokerConfigs{Set: map[string]string{"x": "y"}, Delete: []string{"z"}, Replace: true},
	UpdatePartition{Topic: "t", Partition: 1, Leader: 2, LeaderEpoch: 3, ISR: []int32{2}, ExpectedPartitionEpoch: 4},
	SetClusterID{ID: "cluster-1"},
	AllocateProducerIDs{BrokerID: 2, Count: 1000},
}

func TestCommandRoundTrip(t *testing.T) {
	tags := map[byte]bool{}
	for _, cmd := range sampleCommands {
		b, err := EncodeCommand(cmd)
		if err != nil {
			t.Fatalf("encode %T: %v", cmd, err)
		}
		if tags[b[0]] {
			t.Fatalf("%T reuses tag %d", cmd, b[0])
		}
		tags[b[0]] = true
		got, err := DecodeCommand(b)
		if err != nil {
			t.Fatalf("decode %T: %v", cmd, err)
		}
		if !reflect.DeepEqual(got, cmd) {
			t.Fatalf("round trip of %T:\n got %#v\nwant %#v", cmd, got, cmd)
		}
		// A pointer encodes the same as the value.
		ptr := reflect.New(reflect.TypeOf(cmd))
		ptr.Elem().Set(reflect.ValueOf(cmd))
		if pb, err := EncodeCommand(ptr.Interface().(Command)); err != nil || string(pb) != string(b) {
			t.Fatalf("pointer to %T encodes as %q, %v", cmd, pb, err)
		}
	}
}

func TestDecodeCommandRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{},
		{0},
		{99, '{', '}'},
		{tagCreateTopic},
		{tagCreateTopic, '{'},
		append([]byte{tagCreateTopic}, `{"Name": 5}`...),
		append([]byte{tagDeleteTopic}, `{"Name": "t"} trailing`...),
	} {
		if cmd, err := DecodeCommand(b); !errors.Is(err, ErrBadCommand) {
			t.Errorf("DecodeCommand(%q) = %#v, %v; expected ErrBadCommand", b, cmd, err)
		}
	}
	var nilTopic *CreateTopic
	if _, err := EncodeCommand(nilTopic); !errors.Is(err, ErrBadCommand) {
		t.Errorf("EncodeCommand(nil pointer) = %v", err)
	}
	if _, err := EncodeCommand(nil); !errors.Is(err, ErrBadCommand) {
		t.Errorf("EncodeCommand(nil) = %v", err)
	}
}

// FuzzDecodeCommand feeds arbitrary log entry bytes to the command decoder
// and the state machine: neither may panic, decode failures must wrap
// ErrBadCommand, and an accepted command must survive a re-encoding.
func FuzzDecodeCommand(f *testing.F) {
	for _, cmd := range sampleCommands {
		b, _ := EncodeCommand(cmd)
		f.Add(b)
	}
	f.Add([]byte{tagUpdatePartition, 'n', 'u', 'l', 'l'})
	base := fuzzBaseState()
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := DecodeCommand(b)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("decode error does not wrap ErrBadCommand: %v", err)
			}
			return
		}
		again, err := EncodeCommand(cmd)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", cmd, err)
		}
		if cmd2, err := DecodeCommand(again); err != nil || !reflect.DeepEqual(cmd, cmd2) {
			t.Fatalf("re-decode: %#v, %v; expected %#v", cmd2, err, cmd)
		}
		next, err := ApplyCommand(base, 7, cmd)
		if err != nil {
			if next != base {
				t.Fatalf("rejected command returned a new state")
			}
			return
		}
		if err := next.Validate(); err != nil {
			t.Fatalf("%#v broke an invariant: %v", cmd, err)
		}
	})
}

// fuzzBaseState has brokers 1-3 and topic "t" with two partitions.
func fuzzBaseState() *State {
	s := NewState()
	for _, cmd := range []Command{
		RegisterBroker{Broker: Broker{ID: 1}},
		RegisterBroker{Broker: Broker{ID: 2}},
		RegisterBroker{Broker: Broker{ID: 3}},
		CreateTopic{Name: "t", ID: [16]byte{1, 2, 3}, Assignments: [][]int32{{1, 2}, {2, 3}}},
	} {
		var err error
		if s, err = ApplyCommand(s, 1, cmd); err != nil {
			panic(err)
		}
	}
	return s
}
