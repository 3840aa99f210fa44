package core

// Writing Fetch responses without copying record data. kmsg encodes a
// partition's records as a length-prefixed bytes field, so encoding a
// response copies every byte read from the log into one big buffer before
// it reaches the socket. Instead, fetchFrame encodes the response twice
// with stand-ins for the records — empty, then one zero byte — and, since
// the two encodings differ only there, finds each partition's length field
// as the first byte where they differ. The frame is then the first
// encoding with the real lengths put in, and the record slices written in
// between with one writev (net.Buffers).
//
// The splice relies on how kmsg lays out a Fetch response. Each step
// checks what it expects to find; if a future kmsg lays it out otherwise,
// the check fails and the response is encoded the plain way, copying the
// records (fetchFrame.fallbacks counts those), instead of sending a wrong
// frame or taking the broker down.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jocko/jocko/storage"
	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchResponse is a Fetch answer whose record data sits in pooled read
// buffers (storage.ReadPooled); the connection writer sends it with a
// fetchFrame and then releases them.
type fetchResponse struct {
	*kmsg.FetchResponse
	pooled [][]byte
}

// release hands the read buffers back to the pool; the response must not
// be encoded afterwards.
func (r *fetchResponse) release() {
	for i := range r.Topics {
		for j := range r.Topics[i].Partitions {
			r.Topics[i].Partitions[j].RecordBatches = nil
		}
	}
	for i, b := range r.pooled {
		storage.Release(b)
		r.pooled[i] = nil
	}
	r.pooled = r.pooled[:0]
}

// The stand-ins for record data; kmsg only reads them.
var (
	standInEmpty = []byte{}
	standInByte  = []byte{0}
)

// fetchFrameScratchMax bounds the scratch a connection keeps between
// responses (it holds only the non-record bytes of a response).
const fetchFrameScratchMax = 1 << 20

// fetchFrame is one connection's scratch space for writing Fetch responses.
type fetchFrame struct {
	empty, probe, meta []byte
	slots              []*[]byte // the RecordBatches fields that hold data
	data               [][]byte  // their data
	cuts               []int     // where each one's data goes in meta
	bufs               [][]byte
	// enc encodes a response frame; nil is wire.AppendResponse (a test
	// stands in an encoder with another layout).
	enc func(dst []byte, corr int32, resp kmsg.Response) []byte
	// fallbacks counts the responses encoded by copying because the
	// encoding was not laid out as the splice expects.
	fallbacks int
}

func (f *fetchFrame) appendResponse(dst []byte, corr int32, resp kmsg.Response) []byte {
	if f.enc != nil {
		return f.enc(dst, corr, resp)
	}
	return wire.AppendResponse(dst, corr, resp)
}

// encode returns buffers that, written in order, make exactly the frame
// wire.AppendResponse(nil, corr, resp) makes, without copying any record
// data into them (or, should the encoding not be laid out as expected,
// with copying). They are valid until the next call; resp is unchanged.
func (f *fetchFrame) encode(corr int32, resp *kmsg.FetchResponse) [][]byte {
	if cap(f.meta) > fetchFrameScratchMax {
		f.meta = nil // a copied frame of the last call
	}
	f.slots, f.data = f.slots[:0], f.data[:0]
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if s := &resp.Topics[i].Partitions[j].RecordBatches; len(*s) > 0 {
				f.slots, f.data = append(f.slots, s), append(f.data, *s)
			}
		}
	}
	if len(f.data) == 0 {
		f.meta = f.appendResponse(f.meta[:0], corr, resp)
		f.bufs = append(f.bufs[:0], f.meta)
		return f.bufs
	}
	for _, s := range f.slots {
		*s = standInEmpty
	}
	f.empty = f.appendResponse(f.empty[:0], corr, resp)
	for _, s := range f.slots {
		*s = standInByte
	}
	f.probe = f.appendResponse(f.probe[:0], corr, resp)
	for k, s := range f.slots {
		*s = f.data[k]
	}
	if err := f.splice(resp.IsFlexible()); err != nil {
		f.fallbacks++
		f.meta = f.appendResponse(f.meta[:0], corr, resp)
		f.bufs = append(f.bufs[:0], f.meta)
		return f.bufs
	}
	f.bufs = f.bufs[:0]
	prev := 0
	for k, c := range f.cuts {
		f.bufs = append(f.bufs, f.meta[prev:c], f.data[k])
		prev = c
	}
	f.bufs = append(f.bufs, f.meta[prev:])
	if cap(f.empty) > fetchFrameScratchMax {
		f.empty, f.probe = nil, nil
	}
	return f.bufs
}

// errLayout means an encoding was not laid out as the splice expects.
var errLayout = errors.New("fetch frame: unexpected response layout")

// splice builds meta, the frame without its record data, from the two
// encodings: empty has every data-bearing partition's records empty, probe
// has them one zero byte each. It records in cuts where each partition's
// records go, and sets the frame size. It fails (errLayout) when the
// encodings are not laid out as that expects.
func (f *fetchFrame) splice(flexible bool) error {
	e, p := f.empty, f.probe
	if len(e) < 4 || len(p) < 4 {
		return fmt.Errorf("%w: frames of %d and %d bytes", errLayout, len(e), len(p))
	}
	f.meta = append(f.meta[:0], e[:4]...) // the frame size, set below
	f.cuts = f.cuts[:0]
	i, j := 4, 4
	size := len(e) - 4
	for k, d := range f.data {
		off, ok := mismatch(e[i:], p[j:])
		if !ok {
			return fmt.Errorf("%w: partition %d: encodings do not differ", errLayout, k)
		}
		m := i + off // the last byte of the length field
		if flexible {
			// Compact bytes: uvarint(len+1), 0x01 empty, 0x02 one byte.
			if m >= len(e) || j+off >= len(p) || e[m] != 1 || p[j+off] != 2 {
				return fmt.Errorf("%w: partition %d: compact length 1/2 expected at byte %d", errLayout, k, m)
			}
			f.meta = append(f.meta, e[i:m]...)
			before := len(f.meta)
			f.meta = binary.AppendUvarint(f.meta, uint64(len(d))+1)
			size += len(f.meta) - before - 1
		} else {
			if m-3 < i || m >= len(e) || j+off >= len(p) || binary.BigEndian.Uint32(e[m-3:]) != 0 || binary.BigEndian.Uint32(p[j+off-3:]) != 1 {
				return fmt.Errorf("%w: partition %d: int32 length 0/1 expected at byte %d", errLayout, k, m-3)
			}
			f.meta = append(f.meta, e[i:m-3]...)
			f.meta = binary.BigEndian.AppendUint32(f.meta, uint32(len(d)))
		}
		f.cuts = append(f.cuts, len(f.meta))
		size += len(d)
		j += off + 2 // past the length field and the zero byte
		if j > len(p) || p[j-1] != 0 {
			return fmt.Errorf("%w: partition %d: stand-in byte expected at byte %d", errLayout, k, j-1)
		}
		i = m + 1
	}
	if !bytes.Equal(e[i:], p[j:]) {
		return fmt.Errorf("%w: encodings differ after the last partition with records", errLayout)
	}
	f.meta = append(f.meta, e[i:]...)
	binary.BigEndian.PutUint32(f.meta, uint32(size))
	return nil
}

// mismatch returns the index of the first byte where a and b differ, or
// ok=false if they do not differ within the shorter one.
func mismatch(a, b []byte) (int, bool) {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i, true
		}
	}
	return 0, false
}
