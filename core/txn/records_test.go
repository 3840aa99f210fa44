package txn

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// unhex reads a fixture written by hand from TransactionLogKey.json and
// TransactionLogValue.json; spaces and "|" separate fields.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRecordFixtures checks the encoding against bytes derived by hand from
// Kafka's schemas, and decodes them back.
func TestRecordFixtures(t *testing.T) {
	// Key v0: version 0 | string "tx" (int16 length 2).
	if got, want := keyBytes("tx"), unhex(t, "0000 | 0002 7478"); !bytes.Equal(got, want) {
		t.Fatalf("key = %x, want %x", got, want)
	}
	ongoing := &Meta{
		ProducerID: 7, PrevProducerID: -1, NextProducerID: -1, ProducerEpoch: 3, TimeoutMs: 60000,
		State:      Ongoing,
		Partitions: []TopicPartition{{"a", 0}, {"a", 2}, {"b", 1}},
		UpdateMs:   1000, StartMs: 900,
	}
	cases := []struct {
		name    string
		m       *Meta
		version int16
		want    string
	}{
		{"v0 Ongoing", ongoing, 0, `
			0000 | 0000000000000007 | 0003 | 0000ea60 | 01 |
			00000002 | 0001 61 00000002 00000000 00000002 | 0001 62 00000001 00000001 |
			00000000000003e8 | 0000000000000384`},
		{"v0 Empty: null partitions", &Meta{ProducerID: 7, PrevProducerID: -1, NextProducerID: -1, TimeoutMs: 60000, State: Empty, UpdateMs: 1000, StartMs: -1}, 0, `
			0000 | 0000000000000007 | 0000 | 0000ea60 | 00 | ffffffff |
			00000000000003e8 | ffffffffffffffff`},
		// v1: compact array length n+1, compact string length n+1, each
		// topic ends with an empty tag buffer; no tags at their defaults.
		{"v1 Ongoing", ongoing, 1, `
			0001 | 0000000000000007 | 0003 | 0000ea60 | 01 |
			03 | 02 61 03 00000000 00000002 00 | 02 62 02 00000001 00 |
			00000000000003e8 | 0000000000000384 | 00`},
		{"v1 Empty: null partitions", &Meta{ProducerID: 7, PrevProducerID: -1, NextProducerID: -1, TimeoutMs: 60000, State: Empty, UpdateMs: 1000, StartMs: -1}, 1, `
			0001 | 0000000000000007 | 0000 | 0000ea60 | 00 | 00 |
			00000000000003e8 | ffffffffffffffff | 00`},
		// v1 with every KIP-890 tag: 3 tags, each tag number, size, value.
		{"v1 CompleteCommit with tags", &Meta{ProducerID: 9, PrevProducerID: 7, NextProducerID: 8, ProducerEpoch: 0, TimeoutMs: 60000,
			State: CompleteCommit, UpdateMs: 1000, StartMs: 900, ClientVersion: 2}, 1, `
			0001 | 0000000000000009 | 0000 | 0000ea60 | 04 | 01 |
			00000000000003e8 | 0000000000000384 |
			03 | 00 08 0000000000000007 | 01 08 0000000000000008 | 02 02 0002`},
	}
	for _, c := range cases {
		want := unhex(t, c.want)
		if got := valueBytes(c.m, c.version); !bytes.Equal(got, want) {
			t.Errorf("%s: value =\n%x, want\n%x", c.name, got, want)
		}
		id, m, err := DecodeRecord(unhex(t, "0000 0002 7478"), want)
		if err != nil || id != "tx" {
			t.Fatalf("%s: decode: %q %v", c.name, id, err)
		}
		exp := *c.m
		if c.version == 0 {
			exp.PrevProducerID, exp.NextProducerID, exp.ClientVersion = -1, -1, 0
		}
		if !metaEqual(m, &exp) {
			t.Errorf("%s: decoded %+v, want %+v", c.name, m, exp)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	key := keyBytes("tx")
	if _, _, err := DecodeRecord(unhex(t, "0001 0002 7478"), nil); err == nil {
		t.Error("key version 1 accepted")
	}
	if id, m, err := DecodeRecord(key, nil); err != nil || id != "tx" || m != nil {
		t.Errorf("tombstone: %q %v %v", id, m, err)
	}
	dead := valueBytes(&Meta{ProducerID: 1, State: Dead, StartMs: -1}, 1)
	if _, _, err := DecodeRecord(key, dead); err == nil {
		t.Error("a Dead value was accepted")
	}
	good := valueBytes(&Meta{ProducerID: 1, State: Ongoing, Partitions: []TopicPartition{{"a", 1}}}, 1)
	for i := range good {
		if _, _, err := DecodeRecord(key, good[:i]); err == nil {
			t.Errorf("value truncated to %d bytes was accepted", i)
		}
	}
}

func TestPartitionMatchesJava(t *testing.T) {
	// "tx".hashCode() = 116*31 + 120 = 3716; 3716 % 50 = 16.
	if p := Partition("tx", 50); p != 16 {
		t.Fatalf("Partition(tx, 50) = %d", p)
	}
}

func metaEqual(a, b *Meta) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Partitions) != len(b.Partitions) {
		return false
	}
	for i := range a.Partitions {
		if a.Partitions[i] != b.Partitions[i] {
			return false
		}
	}
	x, y := *a, *b
	x.Partitions, y.Partitions = nil, nil
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// FuzzDecodeRecord: a __transaction_state record (which a follower
// replicates from its leader and loads when it takes over) either decodes
// to metadata that encodes back to a record decoding the same, or is an
// error; never a panic.
func FuzzDecodeRecord(f *testing.F) {
	m := &Meta{ProducerID: 7, PrevProducerID: -1, NextProducerID: -1, ProducerEpoch: 3, TimeoutMs: 60000,
		State: Ongoing, Partitions: []TopicPartition{{"a", 0}, {"b", 1}}, UpdateMs: 1000, StartMs: 900}
	for _, v := range []int16{0, 1} {
		f.Add(keyBytes("tx"), valueBytes(m, v))
	}
	f.Add(keyBytes("tx"), []byte(nil))
	f.Add([]byte{0, 1, 0, 2, 't', 'x'}, []byte{0, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		id, got, err := DecodeRecord(key, value)
		if err != nil || got == nil {
			return
		}
		for _, v := range []int16{0, 1} {
			if v == 0 && (got.PrevProducerID != -1 || got.NextProducerID != -1) {
				continue // v0 has no such fields
			}
			id2, again, err := DecodeRecord(keyBytes(id), valueBytes(got, v))
			if err != nil || id2 != id {
				t.Fatalf("%q %+v re-encoded at v%d: %q, %v", id, got, v, id2, err)
			}
			if !metaEqual(got, again) && v == 1 {
				t.Fatalf("round trip at v%d: %+v became %+v", v, got, again)
			}
		}
	})
}
