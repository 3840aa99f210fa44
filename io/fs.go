package jio

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/spf13/afero"
)

// SyncDir makes the creation, removal or rename of entries in dir durable.
// On a real file system that is an fsync of the directory; the simulator's
// file system treats it the same way. File systems that cannot open a
// directory for sync (afero's MemMapFs) are treated as always durable.
func SyncDir(fs afero.Fs, dir string) error {
	f, err := fs.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	cerr := f.Close()
	if err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return cerr
}

// WriteFileSynced creates (or truncates) path, writes data and fsyncs it.
// The file's name is not durable until its directory is synced.
func WriteFileSynced(fs afero.Fs, path string, data []byte) error {
	f, err := fs.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteFileAtomic replaces path with data durably: write a temporary file,
// fsync it, rename it over path, fsync the directory.
func WriteFileAtomic(fs afero.Fs, path string, data []byte) error {
	tmp := path + ".tmp"
	if err := WriteFileSynced(fs, tmp, data); err != nil {
		return err
	}
	if err := fs.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(fs, filepath.Dir(path))
}
