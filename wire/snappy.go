package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// xerialMagic starts a snappy stream in the xerial framing the Java client
// writes: this magic, a big-endian int32 version and an int32 minimum
// compatible version, then chunks of [int32 length][raw snappy block].
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// xerialHeaderLen is the magic plus the two version ints.
const xerialHeaderLen = 16

// errXerial reports a malformed xerial chunk.
var errXerial = errors.New("wire: snappy: malformed xerial framing")

// compressSnappy appends src as one raw snappy block, which every client
// and Kafka itself read.
func compressSnappy(dst, src []byte) []byte {
	at := len(dst)
	dst = grow(dst, s2.MaxEncodedLen(len(src)))
	block := s2.EncodeSnappy(dst[at:cap(dst)], src)
	return dst[:at+len(block)]
}

// decompressSnappy appends src decoded to dst: xerial-framed when it
// starts with the xerial magic (as Kafka's own reader decides), a raw
// block otherwise.
func decompressSnappy(dst, src []byte, max int) ([]byte, error) {
	if len(src) >= xerialHeaderLen && bytes.HasPrefix(src, xerialMagic) {
		return decodeXerial(dst, src[xerialHeaderLen:], max)
	}
	return decodeSnappyBlock(dst, src, max)
}

// decodeSnappyBlock appends one raw snappy block, checking the length it
// claims against max before allocating.
func decodeSnappyBlock(dst, block []byte, max int) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, fmt.Errorf("wire: snappy: %w", err)
	}
	if n > max {
		return nil, ErrDecompressedTooLarge
	}
	at := len(dst)
	dst = grow(dst, n)
	if _, err := s2.Decode(dst[at:at+n], block); err != nil {
		return nil, fmt.Errorf("wire: snappy: %w", err)
	}
	return dst[:at+n], nil
}

// decodeXerial decodes the chunks after the xerial header. It first sums
// the lengths the chunks claim, so it can bound them and grow dst once.
func decodeXerial(dst, chunks []byte, max int) ([]byte, error) {
	total := 0
	for rem := chunks; len(rem) > 0; {
		block, next, err := xerialChunk(rem)
		if err != nil {
			return nil, err
		}
		n, err := s2.DecodedLen(block)
		if err != nil {
			return nil, fmt.Errorf("wire: snappy: %w", err)
		}
		if total += n; total > max {
			return nil, ErrDecompressedTooLarge
		}
		rem = next
	}
	dst = grow(dst, total)
	for len(chunks) > 0 {
		block, next, _ := xerialChunk(chunks)
		var err error
		if dst, err = decodeSnappyBlock(dst, block, max); err != nil {
			return nil, err
		}
		chunks = next
	}
	return dst, nil
}

// xerialChunk splits the first [int32 length][block] chunk off b.
func xerialChunk(b []byte) (block, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errXerial
	}
	n := int32(binary.BigEndian.Uint32(b))
	b = b[4:]
	if n < 0 || int(n) > len(b) {
		return nil, nil, errXerial
	}
	return b[:n], b[n:], nil
}

// grow returns b with room for n more bytes, keeping its length.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	out := make([]byte, len(b), len(b)+n)
	copy(out, b)
	return out
}
