//go:build unix

package fsprov

import (
	"io/fs"
	"syscall"
)

// idOf returns the device and inode of a file from its os.Lstat, os.Stat or
// File.Stat information (Dev and Ino differ in type between Unix systems).
func idOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}

// supported: the provider's protections all hold on Unix.
func supported() error { return nil }
