package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/jocko/jocko/io/buggify"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/spf13/afero"

	jio "github.com/jocko/jocko/io"
)

// startFileName holds the log start offset set by DeleteBefore.
const startFileName = "logstart"

// durableFileName is written by a clean Close: the active segment's base
// offset and size, fsynced. Open skips rewriting that segment
// (makeDurable) when its size still matches, and removes the file before
// anything is appended.
const durableFileName = "durable"

// Log is one partition's commit log. All methods are safe for concurrent
// use; appends are serialized internally.
type Log struct {
	fs  afero.Fs
	dir string
	clk clock.Clock

	// adminMu serialises the changes that move the log's bounds
	// (TruncateTo, DeleteBefore, EnforceRetention) across their file
	// writes and fsyncs, which they do without opMu or mu where they can,
	// so that appends, reads and syncs go on meanwhile.
	adminMu sync.Mutex
	// opMu is held by an fsync in progress (syncOnce) and by structural
	// changes to the segment list (truncation, deletion, close, a
	// compaction's swap), so that no write handle an fsync uses is closed
	// under it; it also owns the seal jobs (see sealing). Held across
	// an fsync by syncOnce, TruncateTo, Close, a compaction's swap, and
	// by retention only for a segment it deletes right after its roll,
	// before any Sync (see unlockDetached). Lock order: adminMu, opMu, mu,
	// sealMu, smu.
	opMu sync.Mutex
	// mu guards the segments and the configuration. Append holds it
	// exclusively; reads share it just long enough to pick a segment.
	mu     sync.RWMutex
	cfg    Config
	segs   []*segment    // by base offset; the last is the active segment
	hdrs   []batchHeader // Append's scratch
	closed atomic.Bool
	// epochs is the leader-epoch cache (epochs.go), mirrored in its
	// checkpoint file. Guarded by mu: replaced only with mu held
	// exclusively (appends, AssignEpoch, and the structural changes, which
	// also hold opMu), read under mu.RLock. Queries read memory only; the
	// file is written with mu held exclusively, and only when an entry is
	// added (the start trimmed by retention is left to Open).
	epochs []EpochEntry
	// cuts counts truncations (TruncateTo), bumped with mu held
	// exclusively before any byte is cut: a read that finds it changed
	// after its I/O may have seen cut bytes, and is done again.
	cuts atomic.Uint64

	// sealMu guards sealing and dirDirty.
	sealMu sync.Mutex
	// sealing holds the segments rolled since the last Sync, oldest first:
	// their fsyncs and seals (sealJob), done by the next Sync outside mu.
	// A roll appends (under mu); only opMu holders finish or drop jobs.
	sealing []*sealJob
	// dirDirty says a roll created a segment file whose name is not
	// durable yet: the next Sync syncs the directory.
	dirDirty bool

	start, end, durable atomic.Int64

	// Group commit (see Sync).
	smu     sync.Mutex
	scond   *sync.Cond
	syncing bool
	werr    error // sticky write error

	waitHook func() // tests: called when a Sync starts waiting for another
	// rollHook, if set, runs at the end of each roll (SetRollHook). Guarded by mu.
	rollHook func(base int64)
	// syncHook, if set, hears of each fsync (SetSyncHook). Guarded by mu.
	syncHook func(d time.Duration, records int64)

	cmp compactState // Compact's own state (compact.go)
	// trustedActive is the active segment (base, size) a clean Close
	// synced (durableFileName), read by open only.
	trustedActive [2]int64

	// txns are the open transactions at the log end (txn.go). Guarded by
	// mu, as the segments.
	txns txnState
}

// Open opens or creates the log in dir on fs and recovers it: it CRC-scans
// the active (last) segment from its last index entry (or from the start),
// truncates a torn or corrupt tail, rebuilds missing or corrupt indexes,
// removes leftover temporary files, and sets the log end offset. Bytes that
// failed a CRC check are never served.
func Open(fs afero.Fs, dir string, cfg Config, clk clock.Clock) (*Log, error) {
	l := &Log{fs: fs, dir: dir, clk: clk, cfg: cfg.normalized()}
	l.scond = sync.NewCond(&l.smu)
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := l.open(); err != nil {
		l.closeFiles()
		return nil, fmt.Errorf("storage: opening %s: %w", dir, err)
	}
	return l, nil
}

func (l *Log) open() error {
	bases, err := l.cleanDir()
	if err != nil {
		return err
	}
	start, err := readStartFile(l.fs, l.dir)
	if err != nil {
		return err
	}
	if len(bases) == 0 {
		bases = []int64{start}
		s, err := createSegment(l.fs, l.dir, start)
		if err != nil {
			return err
		}
		s.close()
		if err := jio.SyncDir(l.fs, l.dir); err != nil {
			return err
		}
	}
	trusted, err := l.takeDurableFile()
	if err != nil {
		return err
	}
	l.trustedActive = trusted
	if err := l.loadSegments(bases); err != nil {
		return err
	}
	active := l.active()
	end := active.next
	if buggify.Broken(buggify.ReuseOffset) && active.lastBase >= 0 {
		end = active.lastBase
	}
	l.end.Store(end)
	l.start.Store(max(start, l.segs[0].base))
	if l.start.Load() > end {
		return l.truncateFully(l.start.Load())
	}
	if err := l.removeSegments(l.detachSegments(func(s *segment) bool { return s.next <= l.start.Load() })); err != nil {
		return err
	}
	if err := l.active().w.Sync(); err != nil {
		return err
	}
	l.durable.Store(end)
	return l.loadEpochs()
}

// cleanDir removes temporary files and index files without a .log, and
// returns the base offsets of the segments, in order.
func (l *Log) cleanDir() ([]int64, error) {
	infos, err := afero.ReadDir(l.fs, l.dir)
	if err != nil {
		return nil, err
	}
	logs := map[int64]bool{}
	for _, fi := range infos {
		if base, ok := parseSegmentName(fi.Name(), logSuffix); ok {
			logs[base] = true
		}
	}
	removed := false
	for _, fi := range infos {
		name := fi.Name()
		base, idx := parseSegmentName(name, indexSuffix)
		for _, suf := range []string{timeIndexSuffix, txnIndexSuffix, txnOpenSuffix} {
			if !idx {
				base, idx = parseSegmentName(name, suf)
			}
		}
		if strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".deleted") || (idx && !logs[base]) {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
			removed = true
		}
	}
	if removed {
		if err := jio.SyncDir(l.fs, l.dir); err != nil {
			return nil, err
		}
	}
	bases := make([]int64, 0, len(logs))
	for b := range logs {
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

func parseSegmentName(name, suffix string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	base, err := strconv.ParseInt(digits, 10, 64)
	return base, err == nil && base >= 0
}

// loadSegments opens the segments. Sealed ones are checked in O(1); one
// whose index does not fit is rebuilt by a scan. The first segment that
// does not end where the next begins becomes the active one and the later
// segments are removed (they follow a hole).
func (l *Log) loadSegments(bases []int64) error {
	nowMs := l.clk.Now().UnixMilli()
	txns := txnState{} // the open transactions at the current segment's base
	defer func() { l.txns = txns }()
	for i, base := range bases {
		last := i == len(bases)-1
		s := newSegment(l.fs, l.dir, base)
		if err := s.openReader(); err != nil {
			return err
		}
		l.segs = append(l.segs, s)
		fi, err := s.r.Stat()
		if err != nil {
			return err
		}
		s.size, s.rollMs = fi.Size(), fi.ModTime().UnixMilli()
		if !last {
			ok, err := s.loadSeal(bases[i+1])
			if err != nil {
				return err
			}
			if ok {
				end, err := s.loadTxnFiles(txns)
				if err == nil {
					txns = end
					continue
				}
				if !errors.Is(err, ErrCorrupt) {
					return err
				}
			}
		}
		if err := s.openWriters(false); err != nil {
			return err
		}
		clean, err := s.recoverTail(l.cfg.IndexIntervalBytes, last && buggify.Broken(buggify.SkipTornTail), nowMs)
		if err != nil {
			return err
		}
		if !last || l.trustedActive != [2]int64{s.base, s.size} {
			if err := s.makeDurable(); err != nil {
				return err
			}
		}
		start := txns
		if txns, err = s.rescanTxns(start); err != nil || last {
			return err
		}
		if clean && s.next == bases[i+1] {
			s.txnEnd = txns
			if err := s.seal(); err != nil {
				return err
			}
			continue
		}
		return l.dropAfterHole(bases[i+1:])
	}
	return nil
}

// dropAfterHole removes the segments that follow a discontinuity, newest
// first.
func (l *Log) dropAfterHole(bases []int64) error {
	for j := len(bases) - 1; j >= 0; j-- {
		if err := newSegment(l.fs, l.dir, bases[j]).remove(); err != nil {
			return err
		}
	}
	return jio.SyncDir(l.fs, l.dir)
}

func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// closeFiles closes every file handle, dropping the seal jobs unfinished
// (Open scans a segment left without its seal). The caller holds opMu, or
// the log is not published.
func (l *Log) closeFiles() error {
	var err error
	for _, j := range l.takeSeals() {
		err = errors.Join(err, j.drop())
	}
	for _, s := range l.segs {
		err = errors.Join(err, s.close())
	}
	return err
}

// takeDurableFile reads and removes the file a clean Close leaves: the
// active segment's base and size as they were synced (zeros if there is
// none, or it does not parse). The removal is made durable before the
// log changes, so a crash later cannot bring back a stale claim.
func (l *Log) takeDurableFile() ([2]int64, error) {
	path := filepath.Join(l.dir, durableFileName)
	b, err := afero.ReadFile(l.fs, path)
	if errors.Is(err, os.ErrNotExist) {
		return [2]int64{}, nil
	}
	if err != nil {
		return [2]int64{}, err
	}
	var v [2]int64
	if len(b) == 16 {
		v = [2]int64{int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint64(b[8:]))}
	}
	if err := l.fs.Remove(path); err != nil {
		return [2]int64{}, err
	}
	return v, jio.SyncDir(l.fs, l.dir)
}

// writeDurableFile records, at a clean Close, that the active segment is
// synced up to its size.
func (l *Log) writeDurableFile(s *segment) error {
	if err := s.w.Sync(); err != nil {
		return err
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], uint64(s.base))
	binary.BigEndian.PutUint64(b[8:], uint64(s.size))
	return jio.WriteFileAtomic(l.fs, filepath.Join(l.dir, durableFileName), b[:])
}

func readStartFile(fs afero.Fs, dir string) (int64, error) {
	b, err := afero.ReadFile(fs, filepath.Join(dir, startFileName))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.BigEndian.Uint32(b[8:]) {
		return 0, fmt.Errorf("%w: log start file of %d bytes fails its check", ErrCorrupt, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

func writeStartFile(fs afero.Fs, dir string, off int64) error {
	b := binary.BigEndian.AppendUint64(nil, uint64(off))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return jio.WriteFileAtomic(fs, filepath.Join(dir, startFileName), b)
}
