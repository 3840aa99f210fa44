package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientFrame encodes req as franz-go's client does and strips the size.
func clientFrame(t *testing.T, req kmsg.Request, corr int32, clientID string) []byte {
	t.Helper()
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))
	b := f.AppendRequest(nil, req, corr)
	if got := int(binary.BigEndian.Uint32(b)); got != len(b)-4 {
		t.Fatalf("formatter size %d, body %d", got, len(b)-4)
	}
	return b[4:]
}

func sampleRequests() []kmsg.Request {
	meta := kmsg.NewPtrMetadataRequest()
	topic := kmsg.NewMetadataRequestTopic()
	topic.Topic = kmsg.StringPtr("orders")
	meta.Topics = append(meta.Topics, topic)

	produce := kmsg.NewPtrProduceRequest()
	produce.Acks = -1
	produce.TimeoutMillis = 1500
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "orders"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Partition = 3
	pp.Records = []byte("opaque records")
	pt.Partitions = append(pt.Partitions, pp)
	produce.Topics = append(produce.Topics, pt)

	api := kmsg.NewPtrApiVersionsRequest()
	api.ClientSoftwareName = "jocko-test"
	api.ClientSoftwareVersion = "1.0"

	join := kmsg.NewPtrJoinGroupRequest()
	join.Group = "g"
	join.ProtocolType = "consumer"
	join.SessionTimeoutMillis = 30000
	return []kmsg.Request{meta, produce, api, join, kmsg.NewPtrFindCoordinatorRequest()}
}

// TestParseRequestRoundTrip parses what kmsg's client formatter writes for
// every version of several keys, flexible (KIP-482 header v2) or not.
func TestParseRequestRoundTrip(t *testing.T) {
	for _, req := range sampleRequests() {
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req.SetVersion(v)
			frame := clientFrame(t, req, 77, "client-a")
			h, got, err := ParseRequest(frame)
			if err != nil {
				t.Fatalf("key %d v%d: %v", req.Key(), v, err)
			}
			if h.Key != req.Key() || h.Version != v || h.CorrelationID != 77 ||
				h.ClientID == nil || *h.ClientID != "client-a" {
				t.Fatalf("key %d v%d: header %+v", req.Key(), v, h)
			}
			if !bytes.Equal(got.AppendTo(nil), req.AppendTo(nil)) {
				t.Fatalf("key %d v%d: body did not round-trip", req.Key(), v)
			}
		}
	}
}

func TestParseRequestNullClientID(t *testing.T) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	b := kmsg.NewRequestFormatter().AppendRequest(nil, req, 5)[4:]
	h, _, err := ParseRequest(b)
	if err != nil || h.ClientID != nil || h.CorrelationID != 5 {
		t.Fatalf("got %+v, %v; want null client id", h, err)
	}
}

func TestParseRequestUnknownKey(t *testing.T) {
	frame := binary.BigEndian.AppendUint16(nil, 32000)
	frame = binary.BigEndian.AppendUint16(frame, 1)
	frame = binary.BigEndian.AppendUint32(frame, 42)
	frame = append(frame, 0, 1, 'x', 9, 9)
	h, req, err := ParseRequest(frame)
	if !errors.Is(err, ErrUnknownKey) || req != nil {
		t.Fatalf("got %v, %v; want ErrUnknownKey", req, err)
	}
	if h.Key != 32000 || h.Version != 1 || h.CorrelationID != 42 || *h.ClientID != "x" {
		t.Fatalf("header not intact: %+v", h)
	}
}

// ApiVersions at a version newer than kmsg knows must still give the
// header: the broker answers it with a v0 UNSUPPORTED_VERSION response.
func TestParseRequestTooNewVersion(t *testing.T) {
	for _, v := range []int16{kmsg.NewPtrApiVersionsRequest().MaxVersion() + 1, -1} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(3)
		frame := clientFrame(t, req, 9, "newer")
		binary.BigEndian.PutUint16(frame[2:], uint16(v))
		h, got, err := ParseRequest(frame)
		if !errors.Is(err, ErrUnsupportedVersion) || got != nil {
			t.Fatalf("v%d: got %v, %v; want ErrUnsupportedVersion", v, got, err)
		}
		if h.Key != 18 || h.Version != v || h.CorrelationID != 9 || *h.ClientID != "newer" {
			t.Fatalf("v%d: header not intact: %+v", v, h)
		}
	}
}

func TestParseRequestTruncated(t *testing.T) {
	req := sampleRequests()[1] // Produce
	req.SetVersion(9)
	frame := clientFrame(t, req, 1, "c")
	for n := 0; n < len(frame); n++ {
		h, got, err := ParseRequest(frame[:n])
		if err == nil {
			t.Fatalf("%d of %d bytes parsed: %+v", n, len(frame), got)
		}
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("%d bytes: got %v, want ErrTruncated", n, err)
		}
		if n >= 8 && h.CorrelationID != 1 {
			t.Fatalf("%d bytes: header lost: %+v", n, h)
		}
	}
}

// readResponseFrame checks the frame size and returns the correlation id
// and what follows it.
func readResponseFrame(t *testing.T, b []byte) (int32, []byte) {
	t.Helper()
	if int(binary.BigEndian.Uint32(b)) != len(b)-4 {
		t.Fatalf("size prefix %d, frame body %d", binary.BigEndian.Uint32(b), len(b)-4)
	}
	return int32(binary.BigEndian.Uint32(b[4:])), b[8:]
}

// TestAppendResponse checks response header v0/v1 (KIP-482), with the
// ApiVersions exception (KIP-511), by decoding with kmsg.
func TestAppendResponse(t *testing.T) {
	keys := []int16{0, 1, 3, 11, 18}
	for _, key := range keys {
		proto := kmsg.ResponseForKey(key)
		for v := int16(0); v <= proto.MaxVersion(); v++ {
			resp := kmsg.ResponseForKey(key)
			resp.SetVersion(v)
			if av, ok := resp.(*kmsg.ApiVersionsResponse); ok {
				av.ErrorCode = 35
			}
			prefix := []byte("keep")
			b := AppendResponse(append([]byte{}, prefix...), 1234, resp)
			if !bytes.HasPrefix(b, prefix) {
				t.Fatal("dst prefix clobbered")
			}
			corr, rest := readResponseFrame(t, b[len(prefix):])
			if corr != 1234 {
				t.Fatalf("key %d v%d: correlation %d", key, v, corr)
			}
			if resp.IsFlexible() && key != 18 {
				if rest[0] != 0 {
					t.Fatalf("key %d v%d: tag buffer %d, want 0", key, v, rest[0])
				}
				rest = rest[1:]
			}
			back := kmsg.ResponseForKey(key)
			back.SetVersion(v)
			if err := back.ReadFrom(rest); err != nil {
				t.Fatalf("key %d v%d: %v", key, v, err)
			}
			if !bytes.Equal(back.AppendTo(nil), resp.AppendTo(nil)) {
				t.Fatalf("key %d v%d: body did not round-trip", key, v)
			}
		}
	}
}

func TestAppendResponseApiVersionsV3HeaderV0(t *testing.T) {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(3)
	b := AppendResponse(nil, 7, resp)
	_, rest := readResponseFrame(t, b)
	// v3 body begins with the int16 error code, not a tag buffer.
	if want := resp.AppendTo(nil); !bytes.Equal(rest, want) {
		t.Fatalf("ApiVersions v3 body after header v0 = % x, want % x", rest, want)
	}
}
