package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ParseResponse reads a response frame (without its size prefix) into
// resp, whose version the caller has set to the one it asked for: the
// header (the correlation id, then a tag buffer when resp is flexible,
// except for ApiVersions) and the body. It returns the correlation id.
// Brokers use it for the requests they send each other.
func ParseResponse(frame []byte, resp kmsg.Response) (int32, error) {
	if len(frame) < 4 {
		return 0, fmt.Errorf("%w: response header", ErrTruncated)
	}
	corr := int32(binary.BigEndian.Uint32(frame))
	b := frame[4:]
	if resp.IsFlexible() && resp.Key() != keyApiVersions {
		var err error
		if b, err = skipTags(b); err != nil {
			return corr, err
		}
	}
	if err := resp.ReadFrom(b); err != nil {
		return corr, fmt.Errorf("%w: %s response v%d: %v", ErrTruncated, kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	return corr, nil
}
