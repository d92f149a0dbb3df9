// Package fsprov is the filesystem provider: it performs file effects that the
// gate has already authorised, on the host, without ever leaving the grant.
//
// Every operation opens the grant's base directory with os.Root (Go 1.24+),
// which refuses to leave that directory even through symlinks or races, and
// then walks the path itself, component by component, following symlinks found
// inside the root (relative ones, and absolute ones that point back inside it)
// so that it learns the real path of the target. That real path is checked
// against the grant a second time: a symlink planted inside a granted directory
// that points elsewhere inside the root but outside the pattern is refused, as
// is one that points outside the root. The file is then opened through the
// root, and the opened file must be the very file that was checked (same
// device and inode), so a swap between check and open is refused too.
//
// When the resolved path differs from the requested one, the grant's Check
// (the gate's second decision: protected directories, policy deny and ask
// rules) is called with both, after the pattern re-check and before anything
// is opened or changed; the target then opened is the one that was checked.
//
// The package sits under hostapi/internal so that nothing outside hostapi can
// import it: the only way to reach a file is through the gate.
package fsprov

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// ErrOutside: the path, once symlinks are followed, lies outside the grant.
var ErrOutside = errors.New("path resolves outside the grant")

// ErrChanged: the file changed between the check and the open (a race with
// another process); the operation was not done.
var ErrChanged = errors.New("file changed while it was being opened")

// maxHops bounds symlink following, as the kernel's MAXSYMLINKS does.
const maxHops = 40

// Grant is what the provider needs of a capability: the directory to root
// operations at and the check to re-apply to resolved paths.
type Grant struct {
	// Base is the longest literal directory prefix of the granted pattern
	// (resource.Pattern.Base), or the literal path itself.
	Base string
	// Match reports whether a clean absolute host path lies within the grant
	// (resource.Pattern.MatchPath).
	Match func(abs string) bool
	// Check, when set, is asked about a path that resolves (through a
	// symlink) somewhere other than where it was requested, after Match
	// accepted the resolved path. A non-nil error refuses the operation and
	// is returned unchanged, so the caller can recognise its own refusal. It is never called when the two paths are equal: the
	// caller already decided on the requested path.
	Check Checker
}

// Checker decides on a resolved path (see Grant.Check).
type Checker interface {
	CheckResolved(requested, real string) error
}

// target is a path resolved inside a root.
type target struct {
	root   *os.Root
	rootAt string      // the directory root was opened at
	rel    string      // path of the target relative to rootAt, "." for rootAt
	real   string      // clean absolute host path of the target, symlinks followed
	info   fs.FileInfo // Lstat of the target; nil when it does not exist
	// parent is the Lstat of the directory holding a target that does not
	// exist yet, nil when that directory is the root itself: what is created
	// must land in the directory that was checked.
	parent fs.FileInfo
}

func (t *target) close() { t.root.Close() }

// openRoot opens the grant's base as a root. A base that is a file (a literal
// file pattern) or does not exist yet is rooted at its parent: the re-check
// on the resolved path still keeps the operation inside the pattern.
func openRoot(g Grant) (*os.Root, string, error) {
	if g.Base == "" || g.Base[0] != '/' || g.Match == nil {
		return nil, "", fmt.Errorf("filesystem grant has no absolute base: %w", ErrOutside)
	}
	r, err := os.OpenRoot(g.Base)
	if err == nil {
		return r, g.Base, nil
	}
	// os.OpenRoot reports a file as a plain "not a directory" error, so the
	// fallback does not depend on the error's type.
	if g.Base == "/" || errors.Is(err, fs.ErrPermission) {
		return nil, "", err
	}
	parent := path.Dir(g.Base)
	r, perr := os.OpenRoot(parent)
	if perr != nil {
		return nil, "", err
	}
	return r, parent, nil
}

// resolve finds abs inside the grant. abs must be clean and absolute. With
// followLast false a symlink in the last component is the target itself
// (delete and rename act on the link, not on what it points to). A missing
// last component is allowed (info is nil); a missing directory on the way is
// fs.ErrNotExist.
func resolve(g Grant, abs string, followLast bool) (*target, error) {
	if !g.Match(abs) {
		return nil, fmt.Errorf("%s: %w", abs, ErrOutside)
	}
	root, at, err := openRoot(g)
	if err != nil {
		return nil, err
	}
	t, err := walk(root, at, abs, followLast)
	if err != nil {
		root.Close()
		return nil, err
	}
	if !g.Match(t.real) {
		root.Close()
		if t.real != abs {
			return nil, fmt.Errorf("%s resolves through a symlink to %s: %w", abs, t.real, ErrOutside)
		}
		return nil, fmt.Errorf("%s: %w", abs, ErrOutside)
	}
	if t.real != abs && g.Check != nil {
		if err := g.Check.CheckResolved(abs, t.real); err != nil {
			root.Close()
			return nil, err
		}
	}
	return t, nil
}

func within(at, abs string) (string, bool) {
	if abs == at {
		return "", true
	}
	if at == "/" {
		return abs[1:], true
	}
	if strings.HasPrefix(abs, at) && abs[len(at)] == '/' {
		return abs[len(at)+1:], true
	}
	return "", false
}

func walk(root *os.Root, at, abs string, followLast bool) (*target, error) {
	rest, ok := within(at, abs)
	if !ok {
		return nil, fmt.Errorf("%s is not under %s: %w", abs, at, ErrOutside)
	}
	todo := splitRel(rest)
	var cur []string
	var infoBuf [16]fs.FileInfo
	infos := infoBuf[:0] // infos[i] is the Lstat of cur[:i+1]
	var info, parent fs.FileInfo
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return nil, fmt.Errorf("%s climbs above %s: %w", abs, at, ErrOutside)
			}
			cur = cur[:len(cur)-1]
			infos = infos[:len(infos)-1]
			info = nil
			continue
		}
		cand := strings.Join(append(cur[:len(cur):len(cur)], c), "/")
		fi, err := root.Lstat(cand)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && len(todo) == 0 {
				if len(infos) > 0 {
					parent = infos[len(infos)-1]
				}
				cur = append(cur, c)
				info = nil
				break
			}
			return nil, err
		}
		last := len(todo) == 0
		if fi.Mode()&fs.ModeSymlink != 0 && (!last || followLast) {
			hops++
			if hops > maxHops {
				return nil, &fs.PathError{Op: "resolve", Path: abs, Err: syscall.ELOOP}
			}
			dest, err := root.Readlink(cand)
			if err != nil {
				return nil, err
			}
			if path.IsAbs(dest) {
				r, ok := within(at, path.Clean(dest))
				if !ok {
					return nil, fmt.Errorf("%s: symlink %s points to %s: %w", abs, path.Join(at, cand), dest, ErrOutside)
				}
				cur, infos = cur[:0], infos[:0]
				todo = append(splitRel(r), todo...)
			} else {
				todo = append(splitRel(dest), todo...)
			}
			continue
		}
		if !last && !fi.IsDir() {
			return nil, &fs.PathError{Op: "resolve", Path: abs, Err: syscall.ENOTDIR}
		}
		cur = append(cur, c)
		infos = append(infos, fi)
		info = fi
	}
	rel := strings.Join(cur, "/")
	t := &target{root: root, rootAt: at, rel: rel, info: info}
	if info == nil {
		t.parent = parent
	}
	if rel == "" {
		t.rel = "."
		t.real = at
		if t.info == nil {
			fi, err := root.Lstat(".")
			if err != nil {
				return nil, err
			}
			t.info = fi
		}
	} else {
		t.real = path.Join(at, rel)
	}
	return t, nil
}

func splitRel(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// openChecked opens the resolved target through its root and makes sure the
// open file is the file that was checked.
func (t *target) openChecked(flag int, perm fs.FileMode) (*os.File, error) {
	var f *os.File
	var err error
	if t.info == nil {
		// A new file: O_EXCL never follows a symlink, and it is created in
		// the very directory that was checked, so what is created is
		// exactly the checked path.
		err = t.inParent(func(r *os.Root, name string) error {
			f, err = r.OpenFile(name, flag|os.O_CREATE|os.O_EXCL, perm)
			return err
		})
	} else {
		f, err = t.root.OpenFile(t.rel, flag, perm)
	}
	if err != nil {
		if t.info == nil && errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%s appeared while it was being created: %w", t.real, ErrChanged)
		}
		return nil, err
	}
	if t.info != nil {
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if !os.SameFile(fi, t.info) {
			f.Close()
			return nil, fmt.Errorf("%s: %w", t.real, ErrChanged)
		}
	}
	return f, nil
}

// inParent runs op on the last component of a target that does not exist
// yet, through a root at its parent directory, once that directory is known
// to be the one the walk checked: a directory on the way swapped for a
// symlink after the check (by another process) would otherwise move the new
// entry somewhere the gate never decided on.
func (t *target) inParent(op func(r *os.Root, name string) error) error {
	if t.parent == nil {
		return op(t.root, t.rel)
	}
	dir, name := path.Split(t.rel)
	pr, err := t.root.OpenRoot(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return err
	}
	defer pr.Close()
	fi, err := pr.Stat(".")
	if err != nil {
		return err
	}
	if !os.SameFile(fi, t.parent) {
		return fmt.Errorf("%s: its directory %w", t.real, ErrChanged)
	}
	return op(pr, name)
}
