package fsprov

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// renameat is renameat2(2); with noReplace, RENAME_NOREPLACE makes the
// kernel refuse (EEXIST) to replace an entry that appeared after the check.
// A file system that does not support the flag (EINVAL) gets a plain
// renameat after one more check that the name is still free, a window of
// two system calls.
func renameat(ffd int, from string, tfd int, to string, noReplace bool) error {
	if !noReplace {
		return unix.Renameat(ffd, from, tfd, to)
	}
	err := unix.Renameat2(ffd, from, tfd, to, unix.RENAME_NOREPLACE)
	if err != syscall.EINVAL && err != syscall.ENOSYS {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, to, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return syscall.EEXIST
	} else if err != syscall.ENOENT {
		return err
	}
	return unix.Renameat(ffd, from, tfd, to)
}
