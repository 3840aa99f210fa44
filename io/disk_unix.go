//go:build unix

package jio

import "syscall"

// statfs asks the kernel: Bavail (not Bfree) is what a non-root writer
// may use, as df reports it.
func statfs(path string) (DiskSpace, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return DiskSpace{}, err
	}
	bs := int64(st.Bsize)
	return DiskSpace{Total: int64(st.Blocks) * bs, Free: int64(st.Bavail) * bs}, nil
}
