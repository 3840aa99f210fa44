package jio

import (
	"errors"

	"github.com/spf13/afero"
)

// DiskSpace is the capacity and free space of the file system holding a
// path, in bytes.
type DiskSpace struct {
	Total int64 // 0: unknown (no limit known)
	Free  int64 // bytes an unprivileged writer may still use
}

// Used is the share of the file system in use, from 0 to 1 (0 when the
// capacity is unknown).
func (s DiskSpace) Used() float64 {
	if s.Total <= 0 {
		return 0
	}
	return float64(s.Total-s.Free) / float64(s.Total)
}

// DiskSpacer is a file system that knows its capacity (the simulator's
// disk).
type DiskSpacer interface {
	DiskSpace(path string) (DiskSpace, error)
}

// ErrNoDiskSpace is returned by DiskSpaceOf for a file system that cannot
// tell its capacity (afero's in-memory one, or a platform without statfs).
var ErrNoDiskSpace = errors.New("file system capacity unknown")

// DiskSpaceOf returns the space of the file system holding path: statfs
// for the OS file system, DiskSpacer's answer for a simulated one.
func DiskSpaceOf(fs afero.Fs, path string) (DiskSpace, error) {
	switch f := fs.(type) {
	case DiskSpacer:
		return f.DiskSpace(path)
	case *afero.OsFs:
		return statfs(path)
	}
	return DiskSpace{}, ErrNoDiskSpace
}
