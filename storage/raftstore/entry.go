package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/hashicorp/raft"
)

// On-disk entry framing. Every raft.Log is stored as one frame:
//
//	length   uint32  big endian, bytes of payload
//	crc      uint32  big endian, CRC32C (Castagnoli) of payload
//	payload:
//	  index      uint64
//	  term       uint64
//	  type       uint8
//	  flags      uint8   bit 0: AppendedAt is set
//	  appendedAt int64   unix nanoseconds (0 when flag bit 0 is clear)
//	  dataLen    uint32, data
//	  extLen     uint32, extensions
//
// Frames are appended back to back in segment files; a frame whose header,
// CRC or payload does not check out marks the torn tail of a segment.
const (
	frameHeaderBytes  = 8
	payloadFixedBytes = 8 + 8 + 1 + 1 + 8 + 4 + 4
	// entryBytesMax bounds one entry's payload, so that a corrupt length
	// field can never make us allocate gigabytes.
	entryBytesMax = 64 << 20

	flagAppendedAt = 1 << 0
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors returned by the entry decoder.
var (
	errShortFrame = errors.New("raftstore: short frame")
	errBadFrame   = errors.New("raftstore: corrupt frame")
)

// frameSize returns the encoded size of l, header included.
func frameSize(l *raft.Log) int {
	return frameHeaderBytes + payloadFixedBytes + len(l.Data) + len(l.Extensions)
}

// appendEntry appends the framed encoding of l to dst.
func appendEntry(dst []byte, l *raft.Log) ([]byte, error) {
	payload := payloadFixedBytes + len(l.Data) + len(l.Extensions)
	if payload > entryBytesMax {
		return dst, fmt.Errorf("raftstore: entry %d is %d bytes, above the limit of %d", l.Index, payload, entryBytesMax)
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(payload))
	dst = binary.BigEndian.AppendUint32(dst, 0) // crc, filled in below
	dst = binary.BigEndian.AppendUint64(dst, l.Index)
	dst = binary.BigEndian.AppendUint64(dst, l.Term)
	dst = append(dst, byte(l.Type))
	var flags byte
	var at int64
	if !l.AppendedAt.IsZero() {
		flags |= flagAppendedAt
		at = l.AppendedAt.UnixNano()
	}
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint64(dst, uint64(at))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	crc := crc32.Checksum(dst[start+frameHeaderBytes:], castagnoli)
	binary.BigEndian.PutUint32(dst[start+4:], crc)
	return dst, nil
}

// frameLength validates a frame header and returns the total frame size
// (header plus payload). hdr must hold at least frameHeaderBytes.
func frameLength(hdr []byte) (int, error) {
	n := binary.BigEndian.Uint32(hdr)
	if n < payloadFixedBytes || n > entryBytesMax {
		return 0, fmt.Errorf("%w: payload length %d outside [%d, %d]", errBadFrame, n, payloadFixedBytes, entryBytesMax)
	}
	return frameHeaderBytes + int(n), nil
}

// decodeEntry decodes the frame at the start of b into l and returns the
// number of bytes it used. It never panics: truncated input yields
// errShortFrame, anything else that does not check out errBadFrame. The
// decoded Data and Extensions are copies, not aliases of b.
func decodeEntry(b []byte, l *raft.Log) (int, error) {
	if len(b) < frameHeaderBytes {
		return 0, errShortFrame
	}
	size, err := frameLength(b)
	if err != nil {
		return 0, err
	}
	if len(b) < size {
		return 0, errShortFrame
	}
	payload := b[frameHeaderBytes:size]
	if got, want := crc32.Checksum(payload, castagnoli), binary.BigEndian.Uint32(b[4:]); got != want {
		return 0, fmt.Errorf("%w: crc %08x, header says %08x", errBadFrame, got, want)
	}
	if err := decodePayload(payload, l); err != nil {
		return 0, err
	}
	return size, nil
}

func decodePayload(p []byte, l *raft.Log) error {
	index := binary.BigEndian.Uint64(p[0:])
	term := binary.BigEndian.Uint64(p[8:])
	typ := raft.LogType(p[16])
	flags := p[17]
	at := int64(binary.BigEndian.Uint64(p[18:]))
	if flags&^flagAppendedAt != 0 || (flags&flagAppendedAt == 0 && at != 0) {
		return fmt.Errorf("%w: flags %#x with appendedAt %d", errBadFrame, flags, at)
	}
	rest := p[26:]
	data, rest, err := takeBytes(rest)
	if err != nil {
		return err
	}
	ext, rest, err := takeBytes(rest)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errBadFrame, len(rest))
	}
	*l = raft.Log{Index: index, Term: term, Type: typ, Data: data, Extensions: ext}
	if flags&flagAppendedAt != 0 {
		l.AppendedAt = time.Unix(0, at).UTC()
	}
	return nil
}

// takeBytes reads a uint32 length and that many bytes; an empty field
// decodes as nil.
func takeBytes(b []byte) (field, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%w: truncated length field", errBadFrame)
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) {
		return nil, nil, fmt.Errorf("%w: field of %d bytes in %d", errBadFrame, n, len(b))
	}
	if n == 0 {
		return nil, b, nil
	}
	return append([]byte(nil), b[:n]...), b[n:], nil
}
