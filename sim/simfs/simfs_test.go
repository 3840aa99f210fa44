package simfs

import (
	"bytes"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	jio "github.com/jocko/jocko/io"
	"github.com/spf13/afero"
)

func write(t *testing.T, fs afero.Fs, name, s string, sync bool) {
	t.Helper()
	f, err := fs.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
}

func read(t *testing.T, fs afero.Fs, name string) string {
	t.Helper()
	b, err := afero.ReadFile(fs, name)
	if errors.Is(err, os.ErrNotExist) {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProcessCrashKeepsPageCache(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	write(t, fs, "/data/a", "synced", true)
	write(t, fs, "/data/a", "+cached", false)
	d.Crash(ProcessCrash)
	if got := read(t, d.Mount(), "/data/a"); got != "synced+cached" {
		t.Fatalf("after process crash: %q", got)
	}
}

func TestMachineCrashDropsUnsyncedDataAndEntries(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	write(t, fs, "/data/a", "synced", true)
	if err := jio.SyncDir(fs, "/data"); err != nil {
		t.Fatal(err)
	}
	write(t, fs, "/data/a", "+lost", false)
	write(t, fs, "/data/b", "file synced, dir not", true)
	d.Crash(MachineCrash)
	fs = d.Mount()
	if got := read(t, fs, "/data/a"); got != "synced" {
		t.Fatalf("a after machine crash: %q", got)
	}
	if got := read(t, fs, "/data/b"); got != "<none>" {
		t.Fatalf("b's entry was never synced but survived: %q", got)
	}
}

func TestRenameIsDurableOnlyAfterSyncDir(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	if err := jio.WriteFileAtomic(fs, "/data/meta", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	write(t, fs, "/data/meta.tmp", "v2", true)
	if err := fs.Rename("/data/meta.tmp", "/data/meta"); err != nil {
		t.Fatal(err)
	}
	d.Crash(MachineCrash)
	fs = d.Mount()
	if got := read(t, fs, "/data/meta"); got != "v1" {
		t.Fatalf("unsynced rename survived a machine crash: %q", got)
	}
	if err := jio.WriteFileAtomic(fs, "/data/meta", []byte("v3")); err != nil {
		t.Fatal(err)
	}
	d.Crash(MachineCrash)
	if got := read(t, d.Mount(), "/data/meta"); got != "v3" {
		t.Fatalf("atomic write lost: %q", got)
	}
}

func TestTornCrashKeepsAPrefixOfUnsyncedBytes(t *testing.T) {
	sawPartial := false
	for seed := uint64(0); seed < 40; seed++ {
		d := NewDisk("n1", seed, nil, "/data")
		fs := d.Mount()
		write(t, fs, "/data/log", "durable|", true)
		jio.SyncDir(fs, "/data")
		write(t, fs, "/data/log", "0123456789", false)
		d.Crash(TornCrash)
		got := read(t, d.Mount(), "/data/log")
		if len(got) < len("durable|") || got[:8] != "durable|" {
			t.Fatalf("seed %d: synced bytes damaged: %q", seed, got)
		}
		tail := []byte(got[8:])
		trimmed := bytes.TrimRight(tail, "\x00")
		if !bytes.HasPrefix([]byte("0123456789"), trimmed) {
			t.Fatalf("seed %d: tail %q is not a prefix of the write (plus zeros)", seed, tail)
		}
		if len(tail) > 0 && len(tail) < 10 {
			sawPartial = true
		}
	}
	if !sawPartial {
		t.Fatal("no seed tore the write")
	}
}

func TestLyingFsyncLosesDataOnMachineCrash(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	write(t, fs, "/data/a", "x", true)
	jio.SyncDir(fs, "/data")
	d.SetLyingFsync(true)
	write(t, fs, "/data/a", "y", true)
	d.Crash(MachineCrash)
	if got := read(t, d.Mount(), "/data/a"); got != "x" {
		t.Fatalf("lying fsync made data durable: %q", got)
	}
}

func TestDiskFullUntilFreed(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	write(t, fs, "/data/a", "12345", false)
	d.SetCapacity(8)
	f, _ := fs.OpenFile("/data/a", os.O_WRONLY|os.O_APPEND, 0)
	if _, err := f.Write([]byte("6789")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("want ENOSPC, got %v", err)
	}
	if err := fs.Remove("/data/a"); err != nil {
		t.Fatal(err)
	}
	write(t, fs, "/data/b", "1234567", false)
	d.Heal()
	write(t, fs, "/data/b", "89", false)
}

func TestSyncFailureReturnsEIOAndKeepsDataUnsynced(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	write(t, fs, "/data/a", "x", true)
	jio.SyncDir(fs, "/data")
	d.SetSyncFail(1)
	f, _ := fs.OpenFile("/data/a", os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("y"))
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("want EIO, got %v", err)
	}
	d.Crash(MachineCrash)
	if got := read(t, d.Mount(), "/data/a"); got != "x" {
		t.Fatalf("failed sync made data durable: %q", got)
	}
}

func TestReadDirSorted(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	for _, n := range []string{"c", "a", "b"} {
		write(t, fs, "/data/"+n, n, false)
	}
	fs.MkdirAll("/data/z/y", 0o755)
	infos, err := afero.ReadDir(fs, "/data")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range infos {
		names = append(names, fi.Name())
	}
	if got := len(names); got != 4 || names[0] != "a" || names[3] != "z" || !infos[3].IsDir() {
		t.Fatalf("readdir: %v", names)
	}
}

func TestDeadIncarnationFreezes(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	f, _ := fs.Create("/data/a")
	d.Crash(ProcessCrash)
	returned := make(chan struct{})
	go func() { f.Write([]byte("x")); close(returned) }()
	fs2 := d.Mount()
	write(t, fs2, "/data/b", "progress", true) // the disk still works for the new incarnation
	select {
	case <-returned:
		t.Fatal("a call from a dead incarnation returned")
	default:
	}
}

func TestCrashDuringSyncLosesWhatThatSyncCovered(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	d.SetSyncLatency(time.Millisecond, 2*time.Millisecond)
	fs := d.Mount()
	write(t, fs, "/data/a", "x", true)
	jio.SyncDir(fs, "/data")
	fired := make(chan struct{})
	d.CrashDuringNextSync(func() { d.Crash(MachineCrash); close(fired) })
	f, _ := fs.OpenFile("/data/a", os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("y"))
	go f.Sync() // freezes inside Sync
	<-fired
	if got := read(t, d.Mount(), "/data/a"); got != "x" {
		t.Fatalf("data of the interrupted sync survived: %q", got)
	}
}

// TestFailedFsyncLosesItsPages: as Linux does, the bytes a failed fsync
// was asked to write stay readable (the page cache) but never reach the
// disk, even after a later fsync succeeds: a machine crash leaves zeros
// where they were, and keeps what was written after.
func TestFailedFsyncLosesItsPages(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	write(t, fs, "/data/a", "synced", true)
	if err := jio.SyncDir(fs, "/data"); err != nil {
		t.Fatal(err)
	}
	f, err := fs.OpenFile("/data/a", os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("+lost"))
	d.SetSyncFail(1)
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("sync: %v, want EIO", err)
	}
	d.Heal()
	if got := read(t, fs, "/data/a"); got != "synced+lost" {
		t.Fatalf("after the failed fsync the page cache holds %q", got)
	}
	f.Write([]byte("+kept"))
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d.Crash(MachineCrash)
	if got := read(t, d.Mount(), "/data/a"); got != "synced\x00\x00\x00\x00\x00+kept" {
		t.Fatalf("after a machine crash: %q, want the failed fsync's bytes gone", got)
	}
	// Written again, the pages are dirty again: a sync makes them durable.
	fs = d.Mount()
	f, err = fs.OpenFile("/data/a", os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("synced+lost"))
	d.SetSyncFail(1)
	f.Sync()
	d.Heal()
	f.WriteAt([]byte("+LOST"), 6)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d.Crash(MachineCrash)
	if got := read(t, d.Mount(), "/data/a"); got != "synced+LOST+kept" {
		t.Fatalf("after rewriting the lost bytes and a crash: %q", got)
	}
}

// TestReadFailAndFullDiskCreate: SetReadFail makes reads fail with EIO;
// on a full disk a new file and a rename fail with ENOSPC (a directory
// entry needs a block); Heal ends both.
func TestReadFailAndFullDiskCreate(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	write(t, fs, "/data/a", "0123456789", true)
	d.SetReadFail(1)
	if _, err := afero.ReadFile(fs, "/data/a"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read with read-fail: %v, want EIO", err)
	}
	d.Heal()
	d.SetCapacity(d.Used())
	if _, err := fs.Create("/data/b"); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("create on a full disk: %v, want ENOSPC", err)
	}
	if err := fs.Rename("/data/a", "/data/c"); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("rename on a full disk: %v, want ENOSPC", err)
	}
	d.Heal()
	if got := read(t, fs, "/data/a"); got != "0123456789" {
		t.Fatalf("after healing: %q", got)
	}
	if _, err := fs.Create("/data/b"); err != nil {
		t.Fatal(err)
	}
}

// TestCrashHookStaysWithItsIncarnation: a hook armed while an incarnation
// runs (or after it died) never fires inside a later incarnation's Sync,
// which may run while that incarnation is still being booted.
func TestCrashHookStaysWithItsIncarnation(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	write(t, fs, "/data/a", "x", true)
	fired := false
	d.CrashDuringNextSync(func() { fired = true })
	d.Crash(ProcessCrash)
	fs2 := d.Mount()
	write(t, fs2, "/data/a", "y", true)
	if fired {
		t.Fatal("a hook armed for incarnation 1 fired inside incarnation 2's Sync")
	}
	d.CrashDuringNextSync(func() { fired = true }) // armed for incarnation 2
	write(t, fs2, "/data/a", "z", true)
	if !fired {
		t.Fatal("a hook armed for the running incarnation did not fire in its Sync")
	}
}

// TestFlipSyncedBit: the flip lands in the synced bytes of a partition
// segment only (never an index, the Raft log, or unsynced bytes), shows in
// reads at once and survives process and machine crashes, and the same
// seed flips the same bit.
func TestFlipSyncedBit(t *testing.T) {
	const synced, tail = "0123456789abcdef", "+unsynced"
	setup := func(seed uint64) (*Disk, afero.Fs) {
		d := NewDisk("n1", seed, nil, "/data")
		fs := d.Mount()
		for _, dir := range []string{"/data/jepsen-0", "/data/jepsen-1", "/data/__meta/raft", "/data/x"} {
			if err := fs.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		write(t, fs, "/data/jepsen-0/00000000000000000000.log", synced, true)
		write(t, fs, "/data/jepsen-0/00000000000000000000.log", tail, false) // a dirty tail: not a candidate
		write(t, fs, "/data/jepsen-0/00000000000000000000.index", synced, true)
		write(t, fs, "/data/jepsen-1/00000000000000000000.log", "never synced", false)
		write(t, fs, "/data/__meta/raft/00000000000000000000.log", synced, true)
		write(t, fs, "/data/x/00000000000000000000.log", synced, true)
		for _, dir := range []string{"/data/jepsen-0", "/data/jepsen-1", "/data/__meta/raft", "/data/x", "/data/__meta", "/data"} {
			if err := jio.SyncDir(fs, dir); err != nil {
				t.Fatal(err)
			}
		}
		return d, fs
	}
	const seg = "/data/jepsen-0/00000000000000000000.log"
	untouched := []string{"/data/jepsen-0/00000000000000000000.index", "/data/__meta/raft/00000000000000000000.log",
		"/data/x/00000000000000000000.log"}
	offs := map[int]bool{}
	for seed := uint64(1); seed <= 40; seed++ {
		d, fs := setup(seed)
		f, ok := d.FlipSyncedBit("/data", nil)
		if !ok || f.Path != seg || f.Off < 0 || f.Off >= len(synced) || f.Bit > 7 {
			t.Fatalf("seed %d: flipped %v (ok %v), want a bit of the synced %d bytes of %s", seed, f, ok, len(synced), seg)
		}
		offs[f.Off] = true
		want := []byte(synced + tail)
		want[f.Off] ^= 1 << f.Bit
		if got := read(t, fs, seg); got != string(want) {
			t.Fatalf("seed %d: read after the flip %q, want %q", seed, got, want)
		}
		d.Crash(ProcessCrash)
		if got := read(t, d.Mount(), seg); got != string(want) {
			t.Fatalf("seed %d: after a process crash %q, want %q", seed, got, want)
		}
		d.Crash(MachineCrash)
		fs = d.Mount()
		if got := read(t, fs, seg); got != string(want[:len(synced)]) {
			t.Fatalf("seed %d: after a machine crash %q, want %q", seed, got, want[:len(synced)])
		}
		for _, p := range untouched {
			if got := read(t, fs, p); got != synced {
				t.Fatalf("seed %d: %s changed to %q", seed, p, got)
			}
		}
		// The same seed flips the same bit; a replayed draw picks it.
		d2, _ := setup(seed)
		if f2, _ := d2.FlipSyncedBit("/data", nil); f2 != f {
			t.Fatalf("seed %d: flipped %v, then %v with the same seed", seed, f, f2)
		}
		d3, _ := setup(seed)
		draws := []int{0, f.Off, int(f.Bit)}
		if f3, _ := d3.FlipSyncedBit("/data", func(n int) int { v := draws[0]; draws = draws[1:]; return v % n }); f3 != f {
			t.Fatalf("seed %d: drawn %v, replayed %v", seed, f, f3)
		}
	}
	if len(offs) < 5 {
		t.Fatalf("40 seeds flipped only offsets %v", offs)
	}
	// No synced segment byte: nothing flipped.
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	if err := fs.MkdirAll("/data/jepsen-0", 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, fs, seg, "unsynced", false)
	if f, ok := d.FlipSyncedBit("/data", nil); ok {
		t.Fatalf("flipped %v with no synced segment byte", f)
	}
	if got := read(t, fs, seg); got != "unsynced" {
		t.Fatalf("unsynced segment changed to %q", got)
	}
}

// TestFreezeStopsFileOperations: a frozen disk (a paused process) holds
// every file operation where it starts, until Thaw.
func TestFreezeStopsFileOperations(t *testing.T) {
	d := NewDisk("n1", 1, nil, "/data")
	fs := d.Mount()
	write(t, fs, "/data/a", "x", true)
	d.Freeze()
	done := make(chan error, 1)
	go func() { _, err := fs.Stat("/data/a"); done <- err }()
	select {
	case <-done:
		t.Fatal("a file operation ran on a frozen disk")
	case <-time.After(50 * time.Millisecond):
	}
	d.Thaw()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the operation did not go on after Thaw")
	}
}
