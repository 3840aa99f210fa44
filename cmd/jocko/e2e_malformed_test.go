package main

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn is a plain TCP connection to the broker for hand-made frames.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

func frame(body []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(len(body))) // size prefix
}

// expectClosed reads until the broker closes the connection.
func expectClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: broker kept the connection open", what)
		}
		return
	}
}

// request encodes req as a full frame with header v1/v2.
func request(req kmsg.Request, corr int32) []byte {
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("malformed-test")).AppendRequest(nil, req, corr)
}

// TestE2EMalformedInput writes garbage, oversized, truncated and corrupt
// requests and checks the broker answers or closes the connection, and still
// serves a well-behaved client afterwards.
func TestE2EMalformedInput(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	if _, err := b.admin(t).CreateTopic(ctx, 1, 1, nil, "m"); err != nil {
		t.Fatal(err)
	}

	// A frame larger than socket.request.max.bytes.
	c := rawConn(t, b.addr)
	c.Write([]byte{0x7f, 0xff, 0xff, 0xff, 0, 1, 2, 3})
	expectClosed(t, c, "oversized frame")

	// A negative size.
	c = rawConn(t, b.addr)
	c.Write([]byte{0xff, 0xff, 0xff, 0xf0})
	expectClosed(t, c, "negative frame size")

	// Garbage: an unknown API key.
	c = rawConn(t, b.addr)
	garbage := []byte{0x7f, 0x00, 0x00, 0x01, 0, 0, 0, 7, 0xff, 0xff, 1, 2, 3}
	c.Write(append(frame(garbage), garbage...))
	expectClosed(t, c, "unknown api key")

	// A truncated Metadata request (header says v9, body cut short).
	c = rawConn(t, b.addr)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 9
	topic := "m"
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: &topic}}
	full := request(meta, 3)
	cut := full[4 : len(full)-3]
	c.Write(append(frame(cut), cut...))
	expectClosed(t, c, "truncated request")

	// A produce whose batch CRC is wrong gets CORRUPT_MESSAGE and is not stored.
	c = rawConn(t, b.addr)
	batch, _ := wire.AppendBatch(nil, wire.Batch{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		Records: []wire.Record{{Value: []byte("corrupt me")}}})
	batch[len(batch)-1] ^= 0xff
	prod := kmsg.NewPtrProduceRequest()
	prod.Version, prod.Acks, prod.TimeoutMillis = 7, -1, 5000
	prod.Topics = []kmsg.ProduceRequestTopic{{Topic: "m", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}}}
	c.Write(request(prod, 9))
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 7
	readResponse(t, c, 9, resp)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.CorruptMessage.Code {
		t.Fatalf("corrupt batch answered with error %d, want CORRUPT_MESSAGE (2)", code)
	}

	// An ApiVersions request newer than we serve gets v0 UNSUPPORTED_VERSION.
	c = rawConn(t, b.addr)
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 99
	c.Write(request(av, 11))
	avr := kmsg.NewPtrApiVersionsResponse()
	avr.Version = 0
	readResponse(t, c, 11, avr)
	if avr.ErrorCode != kerr.UnsupportedVersion.Code || len(avr.ApiKeys) == 0 {
		t.Fatalf("ApiVersions v99: error %d with %d keys, want UNSUPPORTED_VERSION and the table", avr.ErrorCode, len(avr.ApiKeys))
	}

	// The broker still serves a real client, and nothing corrupt was stored.
	cl := b.client(t, kgo.DefaultProduceTopic("m"))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("fine")}).FirstErr(); err != nil {
		t.Fatalf("produce after malformed input: %v", err)
	}
	got := consumeAll(t, b, "m", 1)
	if len(got) != 1 || string(got[0].Value) != "fine" {
		t.Fatalf("topic holds %d records (first %q), want only the good one", len(got), got[0].Value)
	}
}

// readResponse reads one response frame and decodes it into resp (header v0
// for non-flexible versions, v1 for flexible ones, except ApiVersions).
func readResponse(t *testing.T, c net.Conn, corr int32, resp kmsg.Response) {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		t.Fatalf("correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	if resp.IsFlexible() && resp.Key() != 18 {
		body = body[1:] // empty tag buffer
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decoding %T: %v", resp, err)
	}
}
