package storage

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/afero"
)

var errInjected = errors.New("injected fault")

// faultFS fails the failAt-th file operation (1-based; 0 never) with
// errInjected, pebble errorfs style. A failed write writes half its bytes
// first. Every open, create, remove, rename, mkdir, stat, read, write,
// sync, truncate and seek counts.
type faultFS struct {
	afero.Fs
	mu     sync.Mutex
	ops    int
	failAt int
	failed string // the operation that failed
}

func (f *faultFS) step(op, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops++
	if f.ops == f.failAt {
		f.failed = op + " " + name
		return errInjected
	}
	return nil
}

func (f *faultFS) wrap(file afero.File, err error) (afero.File, error) {
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

func (f *faultFS) Create(name string) (afero.File, error) {
	if err := f.step("create", name); err != nil {
		return nil, err
	}
	return f.wrap(f.Fs.Create(name))
}

func (f *faultFS) Open(name string) (afero.File, error) {
	if err := f.step("open", name); err != nil {
		return nil, err
	}
	return f.wrap(f.Fs.Open(name))
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if err := f.step("openfile", name); err != nil {
		return nil, err
	}
	return f.wrap(f.Fs.OpenFile(name, flag, perm))
}

func (f *faultFS) Remove(name string) error {
	if err := f.step("remove", name); err != nil {
		return err
	}
	return f.Fs.Remove(name)
}

func (f *faultFS) RemoveAll(name string) error {
	if err := f.step("removeall", name); err != nil {
		return err
	}
	return f.Fs.RemoveAll(name)
}

func (f *faultFS) Rename(o, n string) error {
	if err := f.step("rename", o); err != nil {
		return err
	}
	return f.Fs.Rename(o, n)
}

func (f *faultFS) MkdirAll(name string, perm os.FileMode) error {
	if err := f.step("mkdir", name); err != nil {
		return err
	}
	return f.Fs.MkdirAll(name, perm)
}

func (f *faultFS) Stat(name string) (os.FileInfo, error) {
	if err := f.step("stat", name); err != nil {
		return nil, err
	}
	return f.Fs.Stat(name)
}

type faultFile struct {
	afero.File
	fs *faultFS
}

func (f *faultFile) Write(b []byte) (int, error) {
	if err := f.fs.step("write", f.Name()); err != nil {
		n, _ := f.File.Write(b[:len(b)/2])
		return n, err
	}
	return f.File.Write(b)
}

func (f *faultFile) ReadAt(b []byte, off int64) (int, error) {
	if err := f.fs.step("readat", f.Name()); err != nil {
		return 0, err
	}
	return f.File.ReadAt(b, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.step("sync", f.Name()); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(n int64) error {
	if err := f.fs.step("truncate", f.Name()); err != nil {
		return err
	}
	return f.File.Truncate(n)
}

func (f *faultFile) Seek(off int64, whence int) (int64, error) {
	if err := f.fs.step("seek", f.Name()); err != nil {
		return 0, err
	}
	return f.File.Seek(off, whence)
}

// crashFS is a crashable file system over an in-memory one: it remembers
// each file's content at its last successful fsync. Crash drops what was
// not fsynced, keeping a random (possibly zeroed) torn prefix of it, as a
// power loss may. Directory entries are durable at once (a simplification:
// the log syncs the directory after every change that matters anyway).
type crashFS struct {
	afero.Fs
	mu     sync.Mutex
	synced map[string][]byte
}

func newCrashFS() *crashFS {
	return &crashFS{Fs: afero.NewMemMapFs(), synced: map[string][]byte{}}
}

func (c *crashFS) wrap(f afero.File, err error) (afero.File, error) {
	if err != nil {
		return nil, err
	}
	return &crashFile{File: f, fs: c}, nil
}

func (c *crashFS) Create(name string) (afero.File, error) { return c.wrap(c.Fs.Create(name)) }
func (c *crashFS) Open(name string) (afero.File, error)   { return c.wrap(c.Fs.Open(name)) }
func (c *crashFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	return c.wrap(c.Fs.OpenFile(name, flag, perm))
}

func (c *crashFS) Remove(name string) error {
	c.mu.Lock()
	delete(c.synced, filepath.Clean(name))
	c.mu.Unlock()
	return c.Fs.Remove(name)
}

func (c *crashFS) RemoveAll(name string) error {
	c.mu.Lock()
	for p := range c.synced {
		if p == filepath.Clean(name) || strings.HasPrefix(p, filepath.Clean(name)+"/") {
			delete(c.synced, p)
		}
	}
	c.mu.Unlock()
	return c.Fs.RemoveAll(name)
}

func (c *crashFS) Rename(o, n string) error {
	c.mu.Lock()
	if b, ok := c.synced[filepath.Clean(o)]; ok {
		c.synced[filepath.Clean(n)] = b
		delete(c.synced, filepath.Clean(o))
	} else {
		delete(c.synced, filepath.Clean(n))
	}
	c.mu.Unlock()
	return c.Fs.Rename(o, n)
}

type crashFile struct {
	afero.File
	fs *crashFS
}

func (f *crashFile) Sync() error {
	if err := f.File.Sync(); err != nil {
		return err
	}
	if fi, err := f.fs.Fs.Stat(f.Name()); err != nil || fi.IsDir() {
		return err
	}
	b, err := afero.ReadFile(f.fs.Fs, f.Name())
	if err != nil {
		return err
	}
	f.fs.mu.Lock()
	f.fs.synced[filepath.Clean(f.Name())] = b
	f.fs.mu.Unlock()
	return nil
}

// Crash replaces every file's content with what a power loss could leave:
// the fsynced content, then a random torn prefix of what came after it.
func (c *crashFS) Crash(rng *rand.Rand) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var paths []string
	afero.Walk(c.Fs, "/", func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	sort.Strings(paths) // map and walk order must not decide the outcome
	for _, p := range paths {
		cur, _ := afero.ReadFile(c.Fs, p)
		syn := c.synced[filepath.Clean(p)]
		common := 0
		for common < len(cur) && common < len(syn) && cur[common] == syn[common] {
			common++
		}
		keep := common + rng.IntN(len(cur)-common+1)
		out := append([]byte(nil), cur[:keep]...)
		if rng.IntN(3) == 0 {
			for i := common; i < keep; i++ {
				out[i] = 0 // the length made it to disk, the data did not
			}
		}
		afero.WriteFile(c.Fs, p, out, 0o644)
		c.synced[filepath.Clean(p)] = out
	}
}
