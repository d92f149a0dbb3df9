//go:build unix && !linux

package fsprov

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// renameat is renameat(2). These systems have no portable RENAME_NOREPLACE,
// so with noReplace the destination is checked to be free first, a window
// of two system calls.
func renameat(ffd int, from string, tfd int, to string, noReplace bool) error {
	if noReplace {
		var st unix.Stat_t
		if err := unix.Fstatat(tfd, to, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			return syscall.EEXIST
		} else if err != syscall.ENOENT {
			return err
		}
	}
	return unix.Renameat(ffd, from, tfd, to)
}
