package simfs

import (
	"io"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/jocko/jocko/sim/trace"
	"github.com/spf13/afero"
)

// File is an open file or directory; it implements afero.File.
type File struct {
	fs     *FS
	name   string
	path   string
	ino    *inode
	flag   int
	off    int64
	closed bool
	dirPos int
}

var _ afero.File = (*File)(nil)

func (f *File) check(op string, write bool) error {
	if f.closed {
		return pathErr(op, f.name, os.ErrClosed)
	}
	if write && f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return pathErr(op, f.name, syscall.EBADF)
	}
	if f.ino.dir && op != "readdir" && op != "sync" && op != "stat" && op != "close" {
		return pathErr(op, f.name, syscall.EISDIR)
	}
	return nil
}

// Close implements afero.File.
func (f *File) Close() error {
	f.fs.lock()
	defer f.fs.unlock()
	if err := f.check("close", false); err != nil {
		return err
	}
	f.closed = true
	return nil
}

// Name implements afero.File.
func (f *File) Name() string { return f.name }

// Read implements afero.File.
func (f *File) Read(p []byte) (int, error) {
	f.fs.lock()
	defer f.fs.unlock()
	n, err := f.readAtLocked(p, f.off)
	f.off += int64(n)
	return n, err
}

// ReadAt implements afero.File.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.fs.lock()
	defer f.fs.unlock()
	return f.readAtLocked(p, off)
}

func (f *File) readAtLocked(p []byte, off int64) (int, error) {
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, os.ErrInvalid)
	}
	if d := f.fs.d; !f.ino.dir && d.failLocked(d.readFail) {
		d.tr.Record(trace.FSFault, d.hid, faultReadFail, trace.Str(f.path))
		return 0, pathErr("read", f.name, syscall.EIO)
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Seek implements afero.File.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.fs.lock()
	defer f.fs.unlock()
	if f.closed {
		return 0, pathErr("seek", f.name, os.ErrClosed)
	}
	switch whence {
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += int64(len(f.ino.data))
	}
	if offset < 0 {
		return 0, pathErr("seek", f.name, os.ErrInvalid)
	}
	f.off = offset
	return offset, nil
}

// Write implements afero.File (O_APPEND writes at the end).
func (f *File) Write(p []byte) (int, error) {
	f.fs.lock()
	defer f.fs.unlock()
	off := f.off
	if f.flag&os.O_APPEND != 0 {
		off = int64(len(f.ino.data))
	}
	n, err := f.writeAtLocked(p, off)
	f.off = off + int64(n)
	return n, err
}

// WriteAt implements afero.File.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	f.fs.lock()
	defer f.fs.unlock()
	return f.writeAtLocked(p, off)
}

// WriteString implements afero.File.
func (f *File) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

func (f *File) writeAtLocked(p []byte, off int64) (int, error) {
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	d := f.fs.d
	if d.failLocked(d.writeFail) {
		d.tr.Record(trace.FSFault, d.hid, faultWriteFail, trace.Str(f.path))
		return 0, pathErr("write", f.name, syscall.EIO)
	}
	grow := off + int64(len(p)) - int64(len(f.ino.data))
	if grow > 0 && d.capacity > 0 && d.used+grow > d.capacity {
		d.tr.Record(trace.FSFault, d.hid, faultNoSpace, trace.Str(f.path))
		return 0, pathErr("write", f.name, syscall.ENOSPC)
	}
	if grow > 0 {
		d.used += grow
	}
	f.ino.data = writeAt(f.ino.data, p, int(off))
	f.ino.dirtyFrom = min(f.ino.dirtyFrom, int(off))
	f.ino.relose(int(off), int(off)+len(p))
	f.ino.mtime = time.Now()
	return len(p), nil
}

// Truncate implements afero.File.
func (f *File) Truncate(size int64) error {
	f.fs.lock()
	defer f.fs.unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	f.fs.d.truncateLocked(f.ino, int(size))
	return nil
}

// Sync implements afero.File: the durability point. On a directory it makes
// the entries directly under it durable.
func (f *File) Sync() error {
	f.fs.lock()
	defer f.fs.unlock()
	if err := f.check("sync", false); err != nil {
		return err
	}
	d := f.fs.d
	if lat := d.syncLatencyLocked(); lat > 0 {
		f.fs.unlock()
		time.Sleep(lat)
		f.fs.lock()
	}
	if hook := d.crashHook; hook != nil && d.crashInc == f.fs.inc {
		d.crashHook, d.crashInc = nil, nil
		f.fs.unlock()
		hook()
		f.fs.lock() // never returns if hook crashed this incarnation
	}
	if d.failLocked(d.syncFail) {
		d.tr.Record(trace.FSFault, d.hid, faultSyncFail, trace.Str(f.path))
		if !f.ino.dir && len(f.ino.data) > f.ino.dirtyFrom {
			// As Linux: the pages it was asked to write are marked clean
			// and never written (inode.lost).
			f.ino.lost = append(f.ino.lost, [2]int{f.ino.dirtyFrom, len(f.ino.data)})
		}
		return pathErr("sync", f.name, syscall.EIO)
	}
	if d.lying {
		d.tr.Record(trace.FSFault, d.hid, faultLie, trace.Str(f.path))
		return nil
	}
	if f.ino.dir {
		n := d.syncDirLocked(f.path)
		d.tr.Record(trace.FSSyncDir, d.hid, trace.Str(f.path), uint64(n))
		return nil
	}
	f.ino.sync()
	d.tr.Record(trace.FSSync, d.hid, trace.Str(f.path), uint64(len(f.ino.durable)))
	return nil
}

// Stat implements afero.File.
func (f *File) Stat() (os.FileInfo, error) {
	f.fs.lock()
	defer f.fs.unlock()
	if f.closed {
		return nil, pathErr("stat", f.name, os.ErrClosed)
	}
	return newInfo(path.Base(f.path), f.ino), nil
}

// Readdir implements afero.File; entries come sorted by name.
func (f *File) Readdir(count int) ([]os.FileInfo, error) {
	f.fs.lock()
	defer f.fs.unlock()
	if f.closed {
		return nil, pathErr("readdir", f.name, os.ErrClosed)
	}
	if !f.ino.dir {
		return nil, pathErr("readdir", f.name, syscall.ENOTDIR)
	}
	names := f.fs.d.childrenLocked(f.path)
	if f.dirPos > len(names) {
		f.dirPos = len(names)
	}
	names = names[f.dirPos:]
	if count > 0 && len(names) > count {
		names = names[:count]
	}
	f.dirPos += len(names)
	out := make([]os.FileInfo, len(names))
	for i, name := range names {
		out[i] = newInfo(name, f.fs.d.cur[path.Join(f.path, name)])
	}
	if count > 0 && len(out) == 0 {
		return nil, io.EOF
	}
	return out, nil
}

// Readdirnames implements afero.File.
func (f *File) Readdirnames(n int) ([]string, error) {
	infos, err := f.Readdir(n)
	names := make([]string, len(infos))
	for i, fi := range infos {
		names[i] = fi.Name()
	}
	return names, err
}

type info struct {
	name  string
	size  int64
	dir   bool
	mtime time.Time
}

func newInfo(name string, ino *inode) *info {
	return &info{name: name, size: int64(len(ino.data)), dir: ino.dir, mtime: ino.mtime}
}

func (i *info) Name() string { return i.name }
func (i *info) Size() int64  { return i.size }
func (i *info) Mode() os.FileMode {
	if i.dir {
		return os.ModeDir | 0o755
	}
	return 0o644
}
func (i *info) ModTime() time.Time { return i.mtime }
func (i *info) IsDir() bool        { return i.dir }
func (i *info) Sys() any           { return nil }
