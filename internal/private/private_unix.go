//go:build unix

package private

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Open opens path to read it, refusing a symbolic link in its last
// component (an error wrapping syscall.ELOOP) and never waiting on a FIFO
// (O_NONBLOCK; the caller refuses what is not a regular file).
func Open(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// CheckFile reports why the open file f, whose File.Stat is fi, is not
// private to the current user; nil when it is. It judges the open file, so
// the file cannot be swapped between the check and the read.
func CheckFile(f *os.File, fi fs.FileInfo) error { return check(f.Name(), fi, false) }

// Check reports why path, whose os.Lstat is fi, is not private: a directory
// others may change, or a file others may access at all.
func Check(path string, fi fs.FileInfo) error { return check(path, fi, fi.IsDir()) }

func check(path string, fi fs.FileInfo, dir bool) error {
	perm := fi.Mode().Perm()
	if dir && perm&0o022 != 0 {
		return fmt.Errorf("mode %#o lets other users in (run: chmod go-rwx %s)", perm, path)
	}
	if !dir && perm&0o077 != 0 {
		return fmt.Errorf("mode %#o lets other users in; run: chmod 600 %s", perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("owned by uid %d, not by you (uid %d); run: chown %d %s", st.Uid, os.Getuid(), os.Getuid(), path)
	}
	return nil
}

// MkdirAll creates dir and its missing parents with mode 0700.
func MkdirAll(dir string) error { return os.MkdirAll(dir, 0o700) }

// Restrict makes the file f, just created by this process, private: mode
// 0600.
func Restrict(f *os.File) error { return f.Chmod(0o600) }
