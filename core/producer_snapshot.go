package core

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A producer-state snapshot (Kafka's <offset>.snapshot) is the producer
// table as it stood when the log ended at offset: a restart loads the
// newest one at or below the recovered log end and replays only the
// batches after it. The file, named by the offset in 20 digits, is
//
//	version  int16   snapshotVersion
//	crc      uint32  CRC32C of everything after it
//	offset   int64   the log end offset the table describes (its name)
//	count    int32   producers, by ascending ID
//	  producer ID int64, epoch int16,
//	  coordinator epoch int32, marker timestamp int64 (version 2 only),
//	  batches int8 (1 to batchesRemembered; from version 2, 0 to it)
//	    first sequence int32, last sequence int32,
//	    first offset int64, last offset int64, max timestamp int64
//
// Version 2 added the transaction marker fields; version 1 snapshots are
// still read (their producers have no marker).
//
// Kafka's snapshot keeps the last batch of each producer; this one keeps
// the five a producer may have in flight, so that a retry of any of them
// is still a duplicate after a restart.

const (
	snapshotSuffix     = ".snapshot"
	snapshotVersion    = 2
	snapshotHeaderLen  = 2 + 4 + 8 + 4
	snapshotEntryMin   = 8 + 2 + 4 + 8 + 1
	snapshotBatchLen   = 4 + 4 + 8 + 8 + 8
	snapshotEntryMax   = snapshotEntryMin + batchesRemembered*snapshotBatchLen
	snapshotBytesMax   = 64 << 20 // a bigger table is not snapshotted (a restart replays from an older one)
	snapshotNameDigits = 20
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	// errSnapshotCorrupt marks a snapshot that fails its checks: it is
	// deleted and an older one (or the whole log) is used instead.
	errSnapshotCorrupt = errors.New("corrupt producer snapshot")
	// errSnapshotTooBig is returned for a table over snapshotBytesMax.
	errSnapshotTooBig = errors.New("producer table too big to snapshot")
)

func snapshotName(offset int64) string {
	return fmt.Sprintf("%0*d%s", snapshotNameDigits, offset, snapshotSuffix)
}

// parseSnapshotName returns the offset a snapshot file name carries.
func parseSnapshotName(name string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, snapshotSuffix)
	if !ok || len(digits) != snapshotNameDigits {
		return 0, false
	}
	off, err := strconv.ParseInt(digits, 10, 64)
	return off, err == nil && off >= 0
}

// encodeSnapshot writes the table as it stands at log end offset.
func encodeSnapshot(offset int64, s *producerState) ([]byte, error) {
	pids := make([]int64, 0, len(s.m))
	for pid := range s.m {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	if snapshotHeaderLen+len(pids)*snapshotEntryMax > snapshotBytesMax {
		return nil, fmt.Errorf("%w: %d producers", errSnapshotTooBig, len(pids))
	}
	be := binary.BigEndian
	b := make([]byte, 0, snapshotHeaderLen+len(pids)*snapshotEntryMax)
	b = be.AppendUint16(b, snapshotVersion)
	b = be.AppendUint32(b, 0) // the CRC, below
	b = be.AppendUint64(b, uint64(offset))
	b = be.AppendUint32(b, uint32(len(pids)))
	for _, pid := range pids {
		e := s.m[pid]
		b = be.AppendUint64(b, uint64(pid))
		b = be.AppendUint16(b, uint16(e.epoch))
		b = be.AppendUint32(b, uint32(e.coordEpoch))
		b = be.AppendUint64(b, uint64(e.markerTs))
		b = append(b, byte(len(e.batches)))
		for _, pb := range e.batches {
			b = be.AppendUint32(b, uint32(pb.firstSeq))
			b = be.AppendUint32(b, uint32(pb.lastSeq))
			b = be.AppendUint64(b, uint64(pb.firstOffset))
			b = be.AppendUint64(b, uint64(pb.lastOffset))
			b = be.AppendUint64(b, uint64(pb.maxTs))
		}
	}
	be.PutUint32(b[2:], crc32.Checksum(b[6:], castagnoli))
	return b, nil
}

// decodeSnapshot reads a snapshot that must describe the log up to offset,
// checking its CRC and that every batch it remembers lies below offset.
func decodeSnapshot(b []byte, offset int64) (producerState, error) {
	corrupt := func(format string, args ...any) (producerState, error) {
		return producerState{}, fmt.Errorf("%w: %s", errSnapshotCorrupt, fmt.Sprintf(format, args...))
	}
	be := binary.BigEndian
	if len(b) < snapshotHeaderLen || len(b) > snapshotBytesMax {
		return corrupt("%d bytes", len(b))
	}
	version := be.Uint16(b)
	if version != 1 && version != snapshotVersion {
		return corrupt("version %d, want %d", version, snapshotVersion)
	}
	entryMin := snapshotEntryMin
	if version == 1 {
		entryMin = 8 + 2 + 1
	}
	if got, want := crc32.Checksum(b[6:], castagnoli), be.Uint32(b[2:]); got != want {
		return corrupt("CRC %08x, stored %08x", got, want)
	}
	if got := int64(be.Uint64(b[6:])); got != offset {
		return corrupt("describes offset %d, named %d", got, offset)
	}
	count := int64(int32(be.Uint32(b[14:])))
	b = b[snapshotHeaderLen:]
	if count < 0 || count*int64(entryMin) > int64(len(b)) {
		return corrupt("%d producers in %d bytes", count, len(b))
	}
	s := producerState{m: make(map[int64]*producerEntry, count)}
	prev := int64(-1)
	for i := int64(0); i < count; i++ {
		if len(b) < entryMin {
			return corrupt("producer %d of %d cut short", i, count)
		}
		pid, epoch := int64(be.Uint64(b)), int16(be.Uint16(b[8:]))
		coordEpoch, markerTs, minBatches := int32(-1), int64(math.MinInt64), 1
		if version >= 2 {
			coordEpoch, markerTs, minBatches = int32(be.Uint32(b[10:])), int64(be.Uint64(b[14:])), 0
		}
		n := int(b[entryMin-1])
		b = b[entryMin:]
		if pid <= prev {
			return corrupt("producer ID %d after %d", pid, prev)
		}
		prev = pid
		if n < minBatches || n > batchesRemembered || len(b) < n*snapshotBatchLen {
			return corrupt("producer %d: %d batches in %d bytes", pid, n, len(b))
		}
		e := &producerEntry{epoch: epoch, batches: make([]producerBatch, n), coordEpoch: coordEpoch, markerTs: markerTs}
		last := int64(-1)
		for j := range e.batches {
			pb := producerBatch{
				firstSeq: int32(be.Uint32(b)), lastSeq: int32(be.Uint32(b[4:])),
				firstOffset: int64(be.Uint64(b[8:])), lastOffset: int64(be.Uint64(b[16:])),
				maxTs: int64(be.Uint64(b[24:])),
			}
			b = b[snapshotBatchLen:]
			if pb.firstOffset <= last || pb.lastOffset < pb.firstOffset || pb.lastOffset >= offset || pb.firstSeq < 0 || pb.lastSeq < 0 {
				return corrupt("producer %d: batch at offsets %d-%d, sequences %d-%d", pid, pb.firstOffset, pb.lastOffset, pb.firstSeq, pb.lastSeq)
			}
			last = pb.lastOffset
			e.batches[j] = pb
		}
		s.m[pid] = e
	}
	if len(b) != 0 {
		return corrupt("%d bytes after the last producer", len(b))
	}
	return s, nil
}
