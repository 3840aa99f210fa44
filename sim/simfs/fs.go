package simfs

import (
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/afero"

	"github.com/jocko/jocko/sim/trace"
)

// FS is one incarnation's view of a Disk; it implements afero.Fs. After the
// incarnation crashes every call blocks forever.
type FS struct {
	d   *Disk
	inc *incarnation
}

var _ afero.Fs = (*FS)(nil)

// Disk returns the disk under this file system.
func (fs *FS) Disk() *Disk { return fs.d }

// lock takes the disk lock, first sleeping for slow I/O; it never returns
// for a dead incarnation.
func (fs *FS) lock() {
	fs.d.sleep()
	fs.d.mu.Lock()
	if fs.inc.dead {
		fs.d.mu.Unlock()
		select {} // a dead process runs no code
	}
}

func (fs *FS) unlock() { fs.d.mu.Unlock() }

func pathErr(op, p string, err error) error { return &os.PathError{Op: op, Path: p, Err: err} }

// Name implements afero.Fs.
func (fs *FS) Name() string { return "simfs" }

// Create implements afero.Fs.
func (fs *FS) Create(name string) (afero.File, error) {
	return fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Open implements afero.Fs.
func (fs *FS) Open(name string) (afero.File, error) { return fs.OpenFile(name, os.O_RDONLY, 0) }

// OpenFile implements afero.Fs.
func (fs *FS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	p := clean(name)
	fs.lock()
	defer fs.unlock()
	d := fs.d
	ino := d.cur[p]
	if ino == nil {
		if flag&os.O_CREATE == 0 {
			return nil, pathErr("open", name, os.ErrNotExist)
		}
		if par := d.cur[parent(p)]; par == nil || !par.dir {
			return nil, pathErr("open", name, os.ErrNotExist)
		}
		if d.full() {
			d.tr.Record(trace.FSFault, d.hid, faultNoSpace, trace.Str(p))
			return nil, pathErr("open", name, syscall.ENOSPC)
		}
		ino = &inode{mtime: time.Now()}
		d.cur[p] = ino
	} else if flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL {
		return nil, pathErr("open", name, os.ErrExist)
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if ino.dir && writable {
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	if flag&os.O_TRUNC != 0 && writable {
		d.truncateLocked(ino, 0)
	}
	return &File{fs: fs, name: name, path: p, ino: ino, flag: flag}, nil
}

// Mkdir implements afero.Fs.
func (fs *FS) Mkdir(name string, perm os.FileMode) error {
	p := clean(name)
	fs.lock()
	defer fs.unlock()
	if fs.d.cur[p] != nil {
		return pathErr("mkdir", name, os.ErrExist)
	}
	if par := fs.d.cur[parent(p)]; par == nil || !par.dir {
		return pathErr("mkdir", name, os.ErrNotExist)
	}
	fs.d.cur[p] = &inode{dir: true, mtime: time.Now()}
	return nil
}

// MkdirAll implements afero.Fs.
func (fs *FS) MkdirAll(name string, perm os.FileMode) error {
	p := clean(name)
	fs.lock()
	defer fs.unlock()
	for _, a := range ancestors(p) {
		ino := fs.d.cur[a]
		if ino == nil {
			fs.d.cur[a] = &inode{dir: true, mtime: time.Now()}
		} else if !ino.dir {
			return pathErr("mkdir", a, syscall.ENOTDIR)
		}
	}
	return nil
}

// Remove implements afero.Fs.
func (fs *FS) Remove(name string) error {
	p := clean(name)
	fs.lock()
	defer fs.unlock()
	ino := fs.d.cur[p]
	if ino == nil || p == "/" {
		return pathErr("remove", name, os.ErrNotExist)
	}
	if ino.dir && len(fs.d.childrenLocked(p)) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	fs.d.used -= int64(len(ino.data))
	delete(fs.d.cur, p)
	return nil
}

// RemoveAll implements afero.Fs.
func (fs *FS) RemoveAll(name string) error {
	p := clean(name)
	fs.lock()
	defer fs.unlock()
	for _, q := range sortedPaths(fs.d.cur) {
		if q == p || strings.HasPrefix(q, p+"/") {
			fs.d.used -= int64(len(fs.d.cur[q].data))
			delete(fs.d.cur, q)
		}
	}
	return nil
}

// Rename implements afero.Fs. It replaces newname if it exists; renaming a
// directory moves its current entries (durable ones follow per SyncDir).
func (fs *FS) Rename(oldname, newname string) error {
	op, np := clean(oldname), clean(newname)
	fs.lock()
	defer fs.unlock()
	d := fs.d
	ino := d.cur[op]
	if ino == nil {
		return pathErr("rename", oldname, os.ErrNotExist)
	}
	if par := d.cur[parent(np)]; par == nil || !par.dir {
		return pathErr("rename", newname, os.ErrNotExist)
	}
	if d.full() {
		// A new directory entry needs a block, as on a full ext4.
		d.tr.Record(trace.FSFault, d.hid, faultNoSpace, trace.Str(np))
		return pathErr("rename", newname, syscall.ENOSPC)
	}
	if old := d.cur[np]; old != nil && old != ino {
		d.used -= int64(len(old.data))
	}
	for _, q := range sortedPaths(d.cur) {
		if strings.HasPrefix(q, op+"/") {
			d.cur[np+q[len(op):]] = d.cur[q]
			delete(d.cur, q)
		}
	}
	delete(d.cur, op)
	d.cur[np] = ino
	return nil
}

// Stat implements afero.Fs.
func (fs *FS) Stat(name string) (os.FileInfo, error) {
	p := clean(name)
	fs.lock()
	defer fs.unlock()
	ino := fs.d.cur[p]
	if ino == nil {
		return nil, pathErr("stat", name, os.ErrNotExist)
	}
	return newInfo(path.Base(p), ino), nil
}

// Chmod implements afero.Fs (modes are not modelled).
func (fs *FS) Chmod(name string, mode os.FileMode) error { return fs.exists("chmod", name) }

// Chown implements afero.Fs (owners are not modelled).
func (fs *FS) Chown(name string, uid, gid int) error { return fs.exists("chown", name) }

// Chtimes implements afero.Fs.
func (fs *FS) Chtimes(name string, atime, mtime time.Time) error {
	p := clean(name)
	fs.lock()
	defer fs.unlock()
	ino := fs.d.cur[p]
	if ino == nil {
		return pathErr("chtimes", name, os.ErrNotExist)
	}
	ino.mtime = mtime
	return nil
}

func (fs *FS) exists(op, name string) error {
	fs.lock()
	defer fs.unlock()
	if fs.d.cur[clean(name)] == nil {
		return pathErr(op, name, os.ErrNotExist)
	}
	return nil
}

// childrenLocked lists the names directly under dir, sorted.
func (d *Disk) childrenLocked(dir string) []string {
	var out []string
	for _, p := range sortedPaths(d.cur) {
		if p != "/" && parent(p) == dir {
			out = append(out, path.Base(p))
		}
	}
	return out
}

func (d *Disk) truncateLocked(ino *inode, size int) {
	if size < len(ino.data) {
		d.used -= int64(len(ino.data) - size)
		ino.data = ino.data[:size]
	} else {
		d.used += int64(size - len(ino.data))
		ino.data = append(ino.data, make([]byte, size-len(ino.data))...)
	}
	ino.dirtyFrom = min(ino.dirtyFrom, size)
	ino.mtime = time.Now()
}

// full reports whether the disk has no byte left (a capacity is set and
// used): creating a file or renaming one then fails with ENOSPC.
func (d *Disk) full() bool { return d.capacity > 0 && d.used >= d.capacity }
