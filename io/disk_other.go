//go:build !unix

package jio

func statfs(string) (DiskSpace, error) { return DiskSpace{}, ErrNoDiskSpace }
