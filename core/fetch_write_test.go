package core

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"

	"github.com/jocko/jocko/wire"
)

// fetchFrameBytes joins what fetchFrame.encode returns.
func fetchFrameBytes(f *fetchFrame, corr int32, resp *kmsg.FetchResponse) []byte {
	return bytes.Join(f.encode(corr, resp), nil)
}

// sampleFetchResponse has what a real answer has: several topics, partitions
// with and without records (sizes whose compact lengths take 1, 2 and 3
// bytes), error codes, aborted transactions and a preferred replica.
func sampleFetchResponse(version int16) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(version)
	resp.ThrottleMillis, resp.SessionID = 7, 0
	sizes := [][]int{{0, 1, 126, 127}, {128, 16383, 16384, 0}, {}, {70000}}
	for ti, ps := range sizes {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = fmt.Sprintf("topic-%d", ti)
		t.TopicID = [16]byte{byte(ti + 1), 0xff}
		for pi, n := range ps {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = int32(pi)
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = int64(1000+pi), int64(999), 3
			p.PreferredReadReplica = -1
			if pi == 2 {
				p.ErrorCode = 1
				a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
				a.ProducerID, a.FirstOffset = 42, 10
				p.AbortedTransactions = append(p.AbortedTransactions, a)
			}
			p.RecordBatches = bytes.Repeat([]byte{byte(0xa0 + pi)}, n)
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// TestFetchFrameMatchesKmsg: for every Fetch version served (4-18), the
// spliced frame is byte for byte what kmsg encodes, decodes with kmsg to
// the same response, and leaves the response as it was.
func TestFetchFrameMatchesKmsg(t *testing.T) {
	var f fetchFrame
	for v := int16(4); v <= 18; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			resp := sampleFetchResponse(v)
			want := wire.AppendResponse(nil, 77, resp)
			got := fetchFrameBytes(&f, 77, resp)
			if !bytes.Equal(got, want) {
				t.Fatalf("spliced frame differs from kmsg's: %d bytes vs %d", len(got), len(want))
			}
			if !reflect.DeepEqual(resp, sampleFetchResponse(v)) {
				t.Fatal("encode changed the response")
			}
			checkDecodes(t, got, resp)
		})
	}
}

// checkDecodes decodes a frame from AppendResponse and compares it with resp.
func checkDecodes(t testing.TB, frame []byte, resp *kmsg.FetchResponse) {
	t.Helper()
	if n := binary.BigEndian.Uint32(frame); int(n) != len(frame)-4 {
		t.Fatalf("frame size %d, have %d bytes after it", n, len(frame)-4)
	}
	body := frame[8:] // size, correlation id
	if resp.IsFlexible() {
		body = body[1:] // empty header tags
	}
	dec := kmsg.NewPtrFetchResponse()
	dec.SetVersion(resp.Version)
	if err := dec.ReadFrom(body); err != nil {
		t.Fatalf("kmsg cannot decode the spliced frame: %v", err)
	}
	for i := range dec.Topics {
		for j := range dec.Topics[i].Partitions {
			got := dec.Topics[i].Partitions[j].RecordBatches
			want := resp.Topics[i].Partitions[j].RecordBatches
			if !bytes.Equal(got, want) {
				t.Fatalf("topic %d partition %d: %d record bytes, want %d", i, j, len(got), len(want))
			}
		}
	}
	if !bytes.Equal(dec.AppendTo(nil), resp.AppendTo(nil)) {
		t.Fatal("decoded response re-encodes differently")
	}
}

// layoutChanges stand in for a kmsg whose Fetch encoding is laid out
// otherwise than the splice expects.
var layoutChanges = map[string]func(dst []byte, corr int32, resp kmsg.Response) []byte{
	// A checksum of the body after it, as a later format might add.
	"trailing checksum": func(dst []byte, corr int32, resp kmsg.Response) []byte {
		start := len(dst)
		dst = wire.AppendResponse(dst, corr, resp)
		dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start+4:]))
		binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
		return dst
	},
	// Records prefixed with a byte of their own length, as if the length
	// were encoded another way.
	"another length encoding": func(dst []byte, corr int32, resp kmsg.Response) []byte {
		fr := resp.(*kmsg.FetchResponse)
		var saved [][]byte
		for i := range fr.Topics {
			for j := range fr.Topics[i].Partitions {
				r := &fr.Topics[i].Partitions[j].RecordBatches
				saved = append(saved, *r)
				*r = append([]byte{byte(len(*r))}, *r...)
			}
		}
		dst = wire.AppendResponse(dst, corr, resp)
		k := 0
		for i := range fr.Topics {
			for j := range fr.Topics[i].Partitions {
				fr.Topics[i].Partitions[j].RecordBatches = saved[k]
				k++
			}
		}
		return dst
	},
}

// TestFetchFrameFallsBackOnLayoutChange: when the encoding is not laid out
// as the splice expects (as if kmsg changed), encode copies instead of
// panicking: the frame is exactly what the encoder makes of the response,
// fallbacks counts it, and the next response with the expected layout is
// spliced again.
func TestFetchFrameFallsBackOnLayoutChange(t *testing.T) {
	for name, enc := range layoutChanges {
		for v := int16(4); v <= 18; v++ {
			t.Run(fmt.Sprintf("%s/v%d", name, v), func(t *testing.T) {
				f := fetchFrame{enc: enc}
				resp := sampleFetchResponse(v)
				want := enc(nil, 77, resp)
				if got := fetchFrameBytes(&f, 77, resp); !bytes.Equal(got, want) {
					t.Fatalf("frame differs from the encoder's: %d bytes vs %d", len(got), len(want))
				}
				if f.fallbacks != 1 {
					t.Fatalf("%d fallbacks, want 1", f.fallbacks)
				}
				if !reflect.DeepEqual(resp, sampleFetchResponse(v)) {
					t.Fatal("encode changed the response")
				}
				f.enc = nil
				if got := fetchFrameBytes(&f, 78, resp); !bytes.Equal(got, wire.AppendResponse(nil, 78, resp)) || f.fallbacks != 1 {
					t.Fatalf("with kmsg's layout: %d fallbacks, or the frame differs", f.fallbacks)
				}
			})
		}
	}
}

// TestFetchFrameNoRecords: a response with no record data is one buffer.
func TestFetchFrameNoRecords(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(12)
	resp.ErrorCode = 70
	var f fetchFrame
	bufs := f.encode(1, resp)
	if len(bufs) != 1 || !bytes.Equal(bufs[0], wire.AppendResponse(nil, 1, resp)) {
		t.Fatalf("got %d buffers", len(bufs))
	}
}

// TestFetchFrameProperty: random responses (topic names with any bytes,
// records of any size, any served version) splice to kmsg's encoding, with
// one fetchFrame reused across them all as a connection does.
func TestFetchFrameProperty(t *testing.T) {
	var f fetchFrame
	rapid.Check(t, func(rt *rapid.T) {
		v := rapid.Int16Range(4, 18).Draw(rt, "version")
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(v)
		for range rapid.IntRange(0, 3).Draw(rt, "topics") {
			tp := kmsg.NewFetchResponseTopic()
			tp.Topic = rapid.String().Draw(rt, "topic")
			for pi := range rapid.IntRange(0, 4).Draw(rt, "partitions") {
				p := kmsg.NewFetchResponseTopicPartition()
				p.Partition = int32(pi)
				p.HighWatermark = rapid.Int64().Draw(rt, "hw")
				p.ErrorCode = rapid.Int16Range(0, 3).Draw(rt, "code")
				p.RecordBatches = rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(rt, "records")
				tp.Partitions = append(tp.Partitions, p)
			}
			resp.Topics = append(resp.Topics, tp)
		}
		corr := rapid.Int32().Draw(rt, "corr")
		want := wire.AppendResponse(nil, corr, resp)
		if got := fetchFrameBytes(&f, corr, resp); !bytes.Equal(got, want) {
			rt.Fatalf("v%d: spliced frame differs from kmsg's", v)
		}
	})
}

// BenchmarkFetchResponseWrite: eight partitions of 1 MiB, as a franz-go
// consumer asks for, encoded by kmsg into one buffer (copying the records)
// or spliced around them.
func BenchmarkFetchResponseWrite(b *testing.B) {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(16)
	t := kmsg.NewFetchResponseTopic()
	for i := range 8 {
		p := kmsg.NewFetchResponseTopicPartition()
		p.Partition = int32(i)
		p.RecordBatches = make([]byte, 1<<20)
		t.Partitions = append(t.Partitions, p)
	}
	resp.Topics = append(resp.Topics, t)
	b.Run("kmsg", func(b *testing.B) {
		b.SetBytes(8 << 20)
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = wire.AppendResponse(buf[:0], 1, resp)
		}
	})
	b.Run("spliced", func(b *testing.B) {
		b.SetBytes(8 << 20)
		b.ReportAllocs()
		var f fetchFrame
		for b.Loop() {
			f.encode(1, resp)
		}
	})
}
