package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec is a record batch compression codec (attributes bits 0-2).
type Codec int8

// The codecs Kafka defines.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

// DecompressedBytesMaxDefault bounds the decompressed size of one batch
// when ValidateOptions.DecompressedBytesMax is 0.
const DecompressedBytesMaxDefault = 64 << 20

// ErrUnknownCodec is returned for a codec other than the five above.
var ErrUnknownCodec = errors.New("wire: unknown compression codec")

// ErrDecompressedTooLarge is returned when data decompresses to more than
// the caller's bound (a zip bomb, or a batch too large to hold).
var ErrDecompressedTooLarge = errors.New("wire: decompressed data exceeds bound")

// String returns the codec's Kafka name.
func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// Known reports whether c is one of the five codecs Kafka defines.
func (c Codec) Known() bool { return c >= CodecNone && c <= CodecZstd }

// Compress appends src compressed with c to dst. CodecNone appends src
// unchanged; snappy produces a raw block (as franz-go and librdkafka do),
// lz4 an LZ4 frame, gzip and zstd a single frame.
func Compress(c Codec, dst, src []byte) ([]byte, error) {
	switch c {
	case CodecNone:
		return append(dst, src...), nil
	case CodecGzip:
		return compressGzip(dst, src)
	case CodecSnappy:
		return compressSnappy(dst, src), nil
	case CodecLZ4:
		return compressLZ4(dst, src)
	case CodecZstd:
		return compressZstd(dst, src), nil
	}
	return dst, fmt.Errorf("%w: %d", ErrUnknownCodec, c)
}

// Decompress returns src decompressed with c into a fresh slice, failing
// with ErrDecompressedTooLarge past max bytes (max <= 0 means
// DecompressedBytesMaxDefault). Snappy accepts a raw block or the xerial
// framing the Java client sends. CodecNone returns a copy of src.
func Decompress(c Codec, src []byte, max int) ([]byte, error) {
	out, err := decompressAppend(nil, c, src, max)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// decompressAppend appends src decompressed with c to dst, bounding the
// appended bytes by max.
func decompressAppend(dst []byte, c Codec, src []byte, max int) ([]byte, error) {
	if max <= 0 {
		max = DecompressedBytesMaxDefault
	}
	switch c {
	case CodecNone:
		if len(src) > max {
			return nil, ErrDecompressedTooLarge
		}
		return append(dst, src...), nil
	case CodecGzip:
		return decompressGzip(dst, src, max)
	case CodecSnappy:
		return decompressSnappy(dst, src, max)
	case CodecLZ4:
		return decompressLZ4(dst, src, max)
	case CodecZstd:
		return decompressZstd(dst, src, max)
	}
	return nil, fmt.Errorf("%w: %d", ErrUnknownCodec, c)
}

// readBounded appends everything r yields to dst, failing once more than
// max bytes have been appended.
func readBounded(dst []byte, r io.Reader, max int) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		room := min(cap(dst), start+max+1)
		n, err := r.Read(dst[len(dst):room])
		dst = dst[:len(dst)+n]
		if len(dst)-start > max {
			return nil, ErrDecompressedTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// gzipReader is a pooled gzip decoder with the reader it reads from.
type gzipReader struct {
	zr  gzip.Reader
	src bytes.Reader
}

var (
	gzipReaders = sync.Pool{New: func() any { return new(gzipReader) }}
	gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
)

func decompressGzip(dst, src []byte, max int) ([]byte, error) {
	g := gzipReaders.Get().(*gzipReader)
	defer gzipReaders.Put(g)
	g.src.Reset(src)
	if err := g.zr.Reset(&g.src); err != nil {
		return nil, fmt.Errorf("wire: gzip: %w", err)
	}
	out, err := readBounded(dst, &g.zr, max)
	if err != nil {
		return nil, fmt.Errorf("wire: gzip: %w", err)
	}
	return out, nil
}

func compressGzip(dst, src []byte) ([]byte, error) {
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
	return compressStream(w, dst, src)
}

// streamWriter is a pooled compressing writer (gzip, lz4).
type streamWriter interface {
	Reset(io.Writer)
	Write([]byte) (int, error)
	Close() error
}

// compressStream appends src compressed by w to dst, leaving w reset.
func compressStream(w streamWriter, dst, src []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	w.Reset(buf)
	if _, err := w.Write(src); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	w.Reset(nil)
	return buf.Bytes(), nil
}

// lz4Reader is a pooled LZ4 frame decoder with the reader it reads from.
type lz4Reader struct {
	zr  *lz4.Reader
	src bytes.Reader
}

var (
	lz4Readers = sync.Pool{New: func() any { return &lz4Reader{zr: lz4.NewReader(nil)} }}
	lz4Writers = sync.Pool{New: func() any {
		w := lz4.NewWriter(nil)
		// 64 KiB blocks as the Java producer writes; independent blocks.
		if err := w.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
			panic(fmt.Sprintf("wire: lz4 writer options: %v", err))
		}
		return w
	}}
)

func decompressLZ4(dst, src []byte, max int) ([]byte, error) {
	l := lz4Readers.Get().(*lz4Reader)
	defer lz4Readers.Put(l)
	l.src.Reset(src)
	l.zr.Reset(&l.src)
	out, err := readBounded(dst, l.zr, max)
	if err != nil {
		return nil, fmt.Errorf("wire: lz4: %w", err)
	}
	return out, nil
}

func compressLZ4(dst, src []byte) ([]byte, error) {
	w := lz4Writers.Get().(*lz4.Writer)
	defer lz4Writers.Put(w)
	return compressStream(w, dst, src)
}

// zstdReader is a pooled zstd decoder and the output bound it was last
// configured with.
type zstdReader struct {
	dec *zstd.Decoder
	max int
}

var (
	zstdReaders = sync.Pool{New: func() any {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(DecompressedBytesMaxDefault))
		if err != nil {
			panic(fmt.Sprintf("wire: zstd decoder options: %v", err))
		}
		return &zstdReader{dec: dec, max: DecompressedBytesMaxDefault}
	}}
	zstdWriters = sync.Pool{New: func() any {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(64<<10), zstd.WithZeroFrames(true))
		if err != nil {
			panic(fmt.Sprintf("wire: zstd encoder options: %v", err))
		}
		return enc
	}}
)

// decompressZstd relies on the decoder's max-memory bound: it rejects a
// frame whose window or declared content size exceeds the bound before
// allocating, and stops a frame that grows past it while decoding.
func decompressZstd(dst, src []byte, max int) ([]byte, error) {
	z := zstdReaders.Get().(*zstdReader)
	defer zstdReaders.Put(z)
	if z.max != max {
		if err := z.dec.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(uint64(max))); err != nil {
			return nil, fmt.Errorf("wire: zstd: %w", err)
		}
		z.max = max
	}
	start := len(dst)
	out, err := z.dec.DecodeAll(src, dst)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) || len(out)-start > max {
		return nil, ErrDecompressedTooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("wire: zstd: %w", err)
	}
	return out, nil
}

func compressZstd(dst, src []byte) []byte {
	enc := zstdWriters.Get().(*zstd.Encoder)
	defer zstdWriters.Put(enc)
	return enc.EncodeAll(src, dst)
}
