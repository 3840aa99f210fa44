package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// RequestBytesMax is the default bound on a request frame, Kafka's
// socket.request.max.bytes.
const RequestBytesMax int32 = 100 << 20

// frameBytesMin is the smallest frame body: a response needs its 4-byte
// correlation id, a request more.
const frameBytesMin = 4

// frameChunkBytes bounds how much a frame read allocates ahead of the
// bytes actually received, so a peer cannot make us allocate max bytes by
// sending a 4-byte size alone (nor a thousand slow peers a thousand times
// that): the buffer starts at this and doubles as bytes arrive.
const frameChunkBytes = 16 << 10

// ErrFrameTooLarge is returned by ReadFrame when the size prefix exceeds
// the caller's bound.
var ErrFrameTooLarge = errors.New("wire: frame larger than allowed")

// ErrBadFrame is returned by ReadFrame when the size prefix is negative or
// too small to hold any Kafka message.
var ErrBadFrame = errors.New("wire: bad frame size")

// ReadFrame reads one size-prefixed frame from r and returns its body,
// without the 4-byte size. The body is read into buf when buf has the
// capacity, so it is only valid until buf is reused. It returns io.EOF if r
// ends cleanly before a frame starts and io.ErrUnexpectedEOF if it ends
// inside one; ErrBadFrame and ErrFrameTooLarge reject the size, and the
// connection should then be closed.
func ReadFrame(r io.Reader, max int32, buf []byte) ([]byte, error) {
	var sizeBuf [4]byte
	if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
		return nil, err // io.EOF at a boundary, io.ErrUnexpectedEOF inside
	}
	size, err := FrameSize(sizeBuf, max)
	if err != nil {
		return nil, err
	}
	return ReadFrameBody(r, size, buf, nil)
}

// FrameSize checks a frame's 4-byte size prefix against max and returns
// the body's size.
func FrameSize(prefix [4]byte, max int32) (int, error) {
	size := int32(binary.BigEndian.Uint32(prefix[:]))
	if size < frameBytesMin {
		return 0, fmt.Errorf("%w: %d", ErrBadFrame, size)
	}
	if size > max {
		return 0, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, size, max)
	}
	return int(size), nil
}

// ReadFrameBody reads a frame body of n bytes (see FrameSize) into buf
// when it has the capacity, else into a buffer that grows as bytes arrive,
// at most frameChunkBytes or its own size ahead of them. grow, if not nil,
// is told the capacity of each new buffer before it is allocated (for a
// budget of bytes held; the one before it becomes garbage).
// A clean EOF inside the body is io.ErrUnexpectedEOF.
func ReadFrameBody(r io.Reader, n int, buf []byte, grow func(bytes int)) ([]byte, error) {
	if cap(buf) >= n {
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, unexpected(err)
		}
		return buf, nil
	}
	buf = buf[:0]
	for len(buf) < n {
		step := min(n-len(buf), max(len(buf), frameChunkBytes))
		at := len(buf)
		if cap(buf)-at < step {
			if grow != nil {
				grow(at + step)
			}
			grown := make([]byte, at, at+step)
			copy(grown, buf)
			buf = grown
		}
		buf = buf[:at+step]
		if _, err := io.ReadFull(r, buf[at:]); err != nil {
			return nil, unexpected(err)
		}
	}
	return buf, nil
}

// unexpected maps a clean EOF inside a frame to io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
