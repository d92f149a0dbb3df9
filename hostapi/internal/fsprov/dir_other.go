//go:build !unix

package fsprov

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
)

// oNonblock: these systems have no O_NONBLOCK open flag; the file's type is
// refused before the open (see checkOpenable).
const oNonblock = 0

// dirHandle, on systems without the *at system calls in the standard
// library, is the directory's path inside the grant's root, checked by
// identity when opened: each change goes through the root by that path, so
// a symlink swapped in after the check is still followed only inside the
// root (os.Root), and a rename between two directories goes through a root
// at their common directory (docs/threat-model.md R-4 stays open here).
// None of it runs today: the provider refuses every operation on these
// systems before it opens a root (supported, id_other.go).
type dirHandle struct {
	root *os.Root
	rel  string // relative to root, "." for the root itself
	real string
}

func openDir(root *os.Root, rel, real string) (*dirHandle, fs.FileInfo, error) {
	fi, err := root.Stat(rel)
	if err != nil {
		return nil, nil, err
	}
	if !fi.IsDir() {
		return nil, nil, &fs.PathError{Op: "open", Path: real, Err: errors.New("not a directory")}
	}
	return &dirHandle{root: root, rel: rel, real: real}, fi, nil
}

func (d *dirHandle) close() {}

func (d *dirHandle) name(n string) string { return path.Join(d.rel, n) }

func (d *dirHandle) sameEntry(name string, want fs.FileInfo) error {
	fi, err := d.root.Lstat(d.name(name))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s disappeared: %w", path.Join(d.real, name), ErrChanged)
	}
	if err != nil {
		return err
	}
	if !os.SameFile(fi, want) {
		return fmt.Errorf("%s: %w", path.Join(d.real, name), ErrChanged)
	}
	return nil
}

func (d *dirHandle) absent(name string) error {
	_, err := d.root.Lstat(d.name(name))
	switch {
	case err == nil:
		return fmt.Errorf("%s appeared: %w", path.Join(d.real, name), ErrChanged)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return err
}

func (d *dirHandle) remove(name string, _ bool) error { return d.root.Remove(d.name(name)) }

func (d *dirHandle) mkdir(name string, perm fs.FileMode) error {
	return d.root.Mkdir(d.name(name), perm)
}

func (d *dirHandle) create(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return d.root.OpenFile(d.name(name), flag|os.O_CREATE|os.O_EXCL, perm)
}

func rename(from *dirHandle, fromName string, to *dirHandle, toName string, noReplace bool) error {
	if noReplace {
		if err := to.absent(toName); err != nil {
			return err
		}
	}
	src, dst := path.Join(from.real, fromName), path.Join(to.real, toName)
	common := commonDir(src, dst)
	r, err := os.OpenRoot(common)
	if err != nil {
		return err
	}
	defer r.Close()
	rf, _ := within(common, src)
	rt, _ := within(common, dst)
	return r.Rename(rf, rt)
}

func commonDir(a, b string) string {
	d := path.Dir(a)
	for {
		if _, ok := within(d, b); ok && d != b {
			return d
		}
		if d == "/" {
			return d
		}
		d = path.Dir(d)
	}
}
