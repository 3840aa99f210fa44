// Package storage is the partition commit log: segments of Kafka magic v2
// record batches stored byte for byte, sparse offset and time indexes,
// crash recovery (CRC scan of the active segment, torn tail truncated),
// retention, and group-committed fsyncs.
//
// A log lives in one directory:
//
//	00000000000000000000.log        batches, back to back
//	00000000000000000000.index      (relative offset uint32, position uint32)
//	00000000000000000000.timeindex  (max timestamp before int64, relative offset uint32)
//	logstart                        the log start offset (DeleteBefore), with a CRC
//
// The segment name is its base offset. Both indexes have one entry per
// indexed batch, in lockstep; a sealed segment's time index ends with two
// seal entries that give its max timestamp and its end offset, so opening
// a sealed segment costs O(1). Index files are caches: the active segment
// keeps its entries in memory and writes them out in groups; on open they
// are validated and the .log is CRC-scanned from the last entry that
// checks out, and a sealed segment whose index does not fit is rebuilt.
//
// Durability: Sync fsyncs the active .log (group commit), and first
// finishes what rolls left it: the fsyncs of the rolled segments and their
// indexes, their seal entries (written only once the .log is fsynced), and
// the directory sync for the new files; TruncateTo and DeleteBefore are
// durable when they return. Appends and reads never wait for an fsync:
// reads hold the lock only to pick a segment, whose read handle is
// reference-counted, and retention syncs the directory after the lock.
// The package sees the machine only through an afero.Fs and a clock.Clock
// (only Now is used).
package storage

import (
	"errors"
	"math"
)

// Errors returned by the log. ErrOffsetOutOfRange and ErrClosed are
// returned bare; ErrCorrupt, ErrBatchTooLarge and ErrInvalidOffset are
// wrapped with detail (test them with errors.Is).
var (
	ErrOffsetOutOfRange = errors.New("storage: offset out of range")
	ErrClosed           = errors.New("storage: log closed")
	ErrCorrupt          = errors.New("storage: corrupt data")
	// ErrBatchTooLarge is returned by Append for a request that cannot
	// fit in one segment.
	ErrBatchTooLarge = errors.New("storage: batches larger than a segment")
	// ErrInvalidOffset is returned by AppendReplica when a batch does not
	// start at the log end, and by TruncateTo for an offset that is not a
	// batch boundary.
	ErrInvalidOffset = errors.New("storage: offset is not the expected batch boundary")
	// ErrNoSpace is returned by Append and AppendReplica when the file
	// system is full (ENOSPC, EDQUOT). Unlike other write errors it is
	// not sticky: the append left nothing behind (a partial write is cut
	// off again), the log is as it was, and a later append succeeds once
	// there is room.
	ErrNoSpace = errors.New("storage: no space left on the file system")
)

// Config holds the topic-level settings of one log. Zero or out-of-range
// fields are replaced by the defaults (see DefaultConfig).
type Config struct {
	SegmentBytes       int64 // roll when the active segment would exceed this (segment.bytes, default 1 GiB)
	SegmentMs          int64 // roll when the active segment's first batch is older than this (segment.ms, default 7 days)
	RetentionBytes     int64 // delete oldest segments while the log is bigger (retention.bytes); -1 = none (default)
	RetentionMs        int64 // delete segments whose newest batch is older (retention.ms, default 7 days); -1 = none
	IndexIntervalBytes int32 // bytes between sparse index entries (index.interval.bytes, default 4096)
	SegmentIndexBytes  int32 // max bytes of an index file (default 10 MiB); roll when full
}

// AppendInfo reports what Append assigned.
type AppendInfo struct {
	FirstOffset, LastOffset int64
	MaxTimestamp            int64 // largest batch MaxTimestamp appended (-1 if none)
	AppendTimeMs            int64 // the clock when the batches were appended
}

// Limits.
const (
	segmentBytesMin     = 1024
	segmentBytesMax     = math.MaxInt32 // positions are uint32 in the index
	segmentIndexMin     = 4 * timeEntryLen
	relativeOffsetMax   = math.MaxInt32 // offsets relative to the segment base
	indexFileBytesMax   = 64 << 20      // never read a bigger index file
	readBytesMax        = 64 << 20      // cap on one Read's buffer (beyond one batch)
	defaultSegmentBytes = 1 << 30
	defaultRetentionMs  = 7 * 24 * 60 * 60 * 1000
	defaultIndexBytes   = 10 << 20
	defaultIndexStep    = 4096
)

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       defaultSegmentBytes,
		SegmentMs:          defaultRetentionMs,
		RetentionBytes:     -1,
		RetentionMs:        defaultRetentionMs,
		IndexIntervalBytes: defaultIndexStep,
		SegmentIndexBytes:  defaultIndexBytes,
	}
}

// normalized returns cfg with unset or impossible values fixed.
func (cfg Config) normalized() Config {
	d := DefaultConfig()
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = d.SegmentBytes
	}
	cfg.SegmentBytes = min(max(cfg.SegmentBytes, segmentBytesMin), segmentBytesMax)
	if cfg.SegmentMs <= 0 {
		cfg.SegmentMs = d.SegmentMs
	}
	if cfg.RetentionBytes == 0 || cfg.RetentionBytes < -1 {
		cfg.RetentionBytes = -1
	}
	if cfg.RetentionMs == 0 || cfg.RetentionMs < -1 {
		cfg.RetentionMs = d.RetentionMs
	}
	if cfg.IndexIntervalBytes <= 0 {
		cfg.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if cfg.SegmentIndexBytes <= 0 {
		cfg.SegmentIndexBytes = d.SegmentIndexBytes
	}
	cfg.SegmentIndexBytes = max(cfg.SegmentIndexBytes, segmentIndexMin)
	return cfg
}

// indexEntriesMax is how many offset index entries a segment may hold
// (the time index holds one more: the seal entry).
func (cfg Config) indexEntriesMax() int {
	return int(cfg.SegmentIndexBytes)/timeEntryLen - 1
}
