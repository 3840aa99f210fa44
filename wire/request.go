package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// keyApiVersions is the ApiVersions key, whose response header is always
// v0 (KIP-511: a client must be able to read it before it knows which
// versions the broker speaks).
const keyApiVersions = 18

// keyControlledShutdown is the ControlledShutdown key, whose v0 request
// used header v0 (no client id).
const keyControlledShutdown = 7

// ErrUnknownKey is returned by ParseRequest for an API key kmsg does not
// know; the header is still returned so the caller can answer or log.
var ErrUnknownKey = errors.New("wire: unknown API key")

// ErrUnsupportedVersion is returned by ParseRequest for a version below 0
// or above kmsg's MaxVersion for the key; the header is still returned so
// the caller can answer (ApiVersions answers UNSUPPORTED_VERSION with v0).
var ErrUnsupportedVersion = errors.New("wire: unsupported API version")

// ErrTruncated is returned by ParseRequest when the header or the body
// ends early or is malformed.
var ErrTruncated = errors.New("wire: truncated or malformed request")

// requestHeaderLenMin is key, version and correlation id.
const requestHeaderLenMin = 8

// RequestHeader is a Kafka request header (v0 to v2).
type RequestHeader struct {
	Key, Version  int16
	CorrelationID int32
	ClientID      *string // nil when the client sent a null client id
}

// ParseRequest parses a request frame body (as returned by ReadFrame): the
// request header (v1, or v2 with tagged fields when the request version is
// flexible) and then the body, decoded with kmsg. It never panics.
//
// ErrUnknownKey and ErrUnsupportedVersion come with the parsed header so
// the caller can answer. Body decoding errors wrap ErrTruncated and also
// come with the header when it parsed.
func ParseRequest(frame []byte) (h RequestHeader, req kmsg.Request, err error) {
	defer func() {
		if p := recover(); p != nil { // defense in depth against codec bugs
			req, err = nil, fmt.Errorf("%w: decoder panic: %v", ErrTruncated, p)
		}
	}()
	if len(frame) < requestHeaderLenMin {
		return h, nil, fmt.Errorf("%w: %d-byte frame", ErrTruncated, len(frame))
	}
	be := binary.BigEndian
	h.Key = int16(be.Uint16(frame[0:]))
	h.Version = int16(be.Uint16(frame[2:]))
	h.CorrelationID = int32(be.Uint32(frame[4:]))
	rest := frame[requestHeaderLenMin:]
	if h.Key != keyControlledShutdown || h.Version != 0 {
		if h.ClientID, rest, err = readNullableString(rest); err != nil {
			return h, nil, err
		}
	}
	req = kmsg.RequestForKey(h.Key)
	if req == nil {
		return h, nil, fmt.Errorf("%w: %d", ErrUnknownKey, h.Key)
	}
	if h.Version < 0 || h.Version > req.MaxVersion() {
		return h, nil, fmt.Errorf("%w: key %d version %d (max %d)",
			ErrUnsupportedVersion, h.Key, h.Version, req.MaxVersion())
	}
	req.SetVersion(h.Version)
	if req.IsFlexible() {
		if rest, err = skipTags(rest); err != nil {
			return h, nil, err
		}
	}
	if err := req.ReadFrom(rest); err != nil {
		return h, nil, fmt.Errorf("%w: key %d version %d body: %v", ErrTruncated, h.Key, h.Version, err)
	}
	return h, req, nil
}

// readNullableString reads an int16-length string; length -1 is null.
func readNullableString(b []byte) (*string, []byte, error) {
	if len(b) < 2 {
		return nil, b, fmt.Errorf("%w: client id length", ErrTruncated)
	}
	n := int(int16(binary.BigEndian.Uint16(b)))
	b = b[2:]
	if n == -1 {
		return nil, b, nil
	}
	if n < 0 || n > len(b) {
		return nil, b, fmt.Errorf("%w: client id length %d", ErrTruncated, n)
	}
	s := string(b[:n])
	return &s, b[n:], nil
}

// skipTags skips a tagged-field buffer (KIP-482): an unsigned varint
// count, then per field an unsigned varint tag, an unsigned varint size
// and that many bytes. The request header defines no tags we use.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return b, fmt.Errorf("%w: header tag count", ErrTruncated)
	}
	b = b[n:]
	for range count {
		if _, n = binary.Uvarint(b); n <= 0 {
			return b, fmt.Errorf("%w: header tag", ErrTruncated)
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return b, fmt.Errorf("%w: header tag size", ErrTruncated)
		}
		b = b[n+int(size):]
	}
	return b, nil
}

// AppendResponse appends a whole response frame to dst: the 4-byte size,
// the response header (v0: the correlation id; v1 adds an empty tag
// buffer when resp is flexible, except ApiVersions, which always uses v0)
// and resp encoded at its current version, which the caller must set.
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != keyApiVersions {
		dst = append(dst, 0) // empty tagged fields
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
