//go:build unix

package fsprov

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"syscall"

	"golang.org/x/sys/unix"
)

// oNonblock is added to every open of an existing file: open(2) of a FIFO
// waits for a writer (forever, with no deadline a host function could
// watch), of a device may do anything the driver likes. With O_NONBLOCK the
// open returns at once, and the file's type is then refused (see
// checkOpenable). Regular files and directories ignore the flag.
const oNonblock = syscall.O_NONBLOCK

// dirHandle is an open directory that the walk checked: entries are looked
// up, created, removed and renamed relative to it (the *at system calls),
// never through a path, so that a directory on the way swapped for a
// symlink after the check cannot redirect the change.
type dirHandle struct {
	f    *os.File
	real string // the directory's resolved path, for messages
}

// openDir opens rel (relative to root, "." for the root itself) as a
// directory handle and returns its information for the identity check.
func openDir(root *os.Root, rel, real string) (*dirHandle, fs.FileInfo, error) {
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return &dirHandle{f: f, real: real}, fi, nil
}

func (d *dirHandle) close() { d.f.Close() }

// at runs fn with the directory's descriptor, which stays open meanwhile.
func (d *dirHandle) at(fn func(fd int) error) error {
	rc, err := d.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// sameEntry checks that the entry name of d is still the file want (the
// walk's Lstat of it): same device and inode, not followed if a link.
func (d *dirHandle) sameEntry(name string, want fs.FileInfo) error {
	wid, ok := idOf(want)
	if !ok {
		return fmt.Errorf("%s: no identity to re-check: %w", path.Join(d.real, name), ErrChanged)
	}
	var st unix.Stat_t
	err := d.at(func(fd int) error { return unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) })
	if errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("%s disappeared: %w", path.Join(d.real, name), ErrChanged)
	}
	if err != nil {
		return &fs.PathError{Op: "lstat", Path: path.Join(d.real, name), Err: err}
	}
	if (fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}) != wid {
		return fmt.Errorf("%s: %w", path.Join(d.real, name), ErrChanged)
	}
	return nil
}

// remove unlinks the entry name (rmdir when dir).
func (d *dirHandle) remove(name string, dir bool) error {
	flags := 0
	if dir {
		flags = unix.AT_REMOVEDIR
	}
	if err := d.at(func(fd int) error { return unix.Unlinkat(fd, name, flags) }); err != nil {
		return &fs.PathError{Op: "remove", Path: path.Join(d.real, name), Err: err}
	}
	return nil
}

// mkdir creates the directory name.
func (d *dirHandle) mkdir(name string, perm fs.FileMode) error {
	if err := d.at(func(fd int) error { return unix.Mkdirat(fd, name, uint32(perm.Perm())) }); err != nil {
		return &fs.PathError{Op: "mkdir", Path: path.Join(d.real, name), Err: err}
	}
	return nil
}

// create makes the new regular file name (O_CREATE|O_EXCL, which never
// follows a symlink) and opens it with flag.
func (d *dirHandle) create(name string, flag int, perm fs.FileMode) (*os.File, error) {
	nfd := -1
	err := d.at(func(fd int) error {
		for {
			n, err := unix.Openat(fd, name, flag|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
			if err == syscall.EINTR {
				continue
			}
			nfd = n
			return err
		}
	})
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: path.Join(d.real, name), Err: err}
	}
	return os.NewFile(uintptr(nfd), path.Join(d.real, name)), nil
}

// rename moves the entry fromName of from to toName of to in one
// renameat(2) between the two handles. With noReplace it refuses to
// replace an entry that appeared at toName after the check.
func rename(from *dirHandle, fromName string, to *dirHandle, toName string, noReplace bool) error {
	err := from.at(func(ffd int) error {
		return to.at(func(tfd int) error { return renameat(ffd, fromName, tfd, toName, noReplace) })
	})
	if err != nil {
		return &os.LinkError{Op: "rename", Old: path.Join(from.real, fromName), New: path.Join(to.real, toName), Err: err}
	}
	return nil
}
