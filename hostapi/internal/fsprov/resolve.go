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
// Changes go through directory handles. Delete, rename, mkdir and the
// creation of a new file open the directory holding the target (relative to
// the root) after the gate's intent event is durable, check that it is the
// directory the walk checked (device and inode), check that the entry is
// still the file that was checked, and then act relative to that handle
// (unlinkat, renameat2, mkdirat, openat with O_EXCL). The intent's fsync is a
// wide window: a directory on the way swapped for a symlink in it (by
// another program) makes the call fail, instead of removing, moving or
// creating something where the gate never decided.
//
// Warden's own state is refused by identity as well as by the gate's names
// (Protection, protect.go): the walk refuses every component, target and
// opened file that is a protected device and inode, whatever name led
// there, and delete and rename refuse to move or remove a directory that
// holds protected state.
//
// Only regular files and directories are opened. Every open of an existing
// file adds O_NONBLOCK, and a FIFO, socket or device is refused (ErrNotRegular)
// before it is opened: open(2) of a FIFO waits for a writer forever, and a
// device is no file a plugin was granted.
//
// The provider runs on Unix only. Elsewhere (Windows) every operation is
// refused with ErrUnsupportedOS, since its paths, identities and name
// matching are Unix ones (id_other.go says which protection is missing).
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

// ErrUnsupportedOS: the provider does not run on this operating system
// (see supported in id_other.go); every operation is refused.
var ErrUnsupportedOS = errors.New("its protections are not built for this operating system")

// ErrNotRegular: the target is neither a regular file nor a directory (a
// FIFO, a socket, a device); nothing opens it.
var ErrNotRegular = errors.New("not a regular file or directory")

// NotRegularError is the refusal of a FIFO, socket or device; Kind names
// which, for the message.
type NotRegularError struct {
	Path string
	Kind string // "a named pipe (FIFO)", "a socket", "a device", ...
}

func (e *NotRegularError) Error() string {
	return e.Path + " is " + e.Kind + ", " + ErrNotRegular.Error()
}

// Is makes errors.Is(err, ErrNotRegular) true.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// KindOf names the type of a file that is not regular or a directory.
func KindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "an irregular file"
}

// checkOpenable refuses what open(2) must not be asked to open.
func checkOpenable(p string, fi fs.FileInfo) error {
	if m := fi.Mode(); !m.IsRegular() && !m.IsDir() {
		return &NotRegularError{Path: p, Kind: KindOf(m)}
	}
	return nil
}

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
	// Protect, when set, is warden's own state by identity: no walk passes
	// through it and no change moves or removes what holds it.
	Protect *Protection
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
	// dir is the Lstat of the directory holding the target's last
	// component, nil when that directory is the root itself (whose open
	// descriptor cannot change): what is created, removed or renamed must
	// be in the directory that was checked.
	dir  fs.FileInfo
	prot *Protection
}

func (t *target) close() { t.root.Close() }

// openRoot opens the grant's base as a root. A base that is a file (a literal
// file pattern) or does not exist yet is rooted at its parent: the re-check
// on the resolved path still keeps the operation inside the pattern.
func openRoot(g Grant) (*os.Root, string, error) {
	if err := supported(); err != nil {
		return nil, "", err
	}
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
	t, err := walk(root, at, abs, followLast, g.Protect)
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

// walk resolves abs under root. With prot active, the root itself and every
// component it looks at (directories on the way, symlinks followed, the
// target) must not be warden's state by identity: the one Lstat per
// component the walk makes anyway gives the device and inode, so the check
// is a map lookup per component, plus one stat of the root.
func walk(root *os.Root, at, abs string, followLast bool, prot *Protection) (*target, error) {
	rest, ok := within(at, abs)
	if !ok {
		return nil, fmt.Errorf("%s is not under %s: %w", abs, at, ErrOutside)
	}
	var rootInfo fs.FileInfo
	if prot.active() {
		fi, err := root.Stat(".")
		if err != nil {
			return nil, err
		}
		if prot.isState(fi) {
			return nil, &ProtectedError{Path: abs}
		}
		rootInfo = fi
	}
	todo := splitRel(rest)
	var cur []string
	var infoBuf [16]fs.FileInfo
	infos := infoBuf[:0] // infos[i] is the Lstat of cur[:i+1]
	var info fs.FileInfo
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
				cur = append(cur, c)
				info = nil
				break
			}
			return nil, err
		}
		if prot.isState(fi) {
			return nil, &ProtectedError{Path: abs, ViaLink: hops > 0}
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
	t := &target{root: root, rootAt: at, rel: rel, info: info, prot: prot}
	// infos holds the Lstat of every component of cur but a missing last
	// one, so the directory holding the last component is infos[len(cur)-2].
	if len(cur) >= 2 {
		t.dir = infos[len(cur)-2]
	}
	if rel == "" {
		t.rel = "."
		t.real = at
		if t.info == nil {
			t.info = rootInfo
		}
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
// open file is the file that was checked. Only a regular file or a
// directory is opened, and never in a way that can block (O_NONBLOCK): a
// FIFO or device swapped in after the check fails the identity check
// instead of hanging the host.
func (t *target) openChecked(flag int, perm fs.FileMode) (*os.File, error) {
	if t.info == nil {
		// A new file: O_EXCL never follows a symlink, and it is created in
		// the very directory that was checked, so what is created is
		// exactly the checked path.
		d, name, err := t.openParent()
		if err != nil {
			return nil, err
		}
		defer d.close()
		f, err := d.create(name, flag, perm)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("%s appeared while it was being created: %w", t.real, ErrChanged)
			}
			return nil, err
		}
		return f, nil
	}
	if err := checkOpenable(t.real, t.info); err != nil {
		return nil, err
	}
	f, err := t.root.OpenFile(t.rel, flag|oNonblock, perm)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !os.SameFile(fi, t.info) {
		f.Close()
		return nil, fmt.Errorf("%s: %w", t.real, ErrChanged)
	}
	if t.prot.isState(fi) { // the walk checked t.info, which fi is; kept for the class
		f.Close()
		return nil, &ProtectedError{Path: t.real}
	}
	return f, nil
}

// openParent opens the directory holding the target's last component as a
// handle, once it is known to be the directory the walk checked: a
// directory on the way swapped for a symlink after the check (by another
// process) would otherwise move the change somewhere the gate never decided
// on. It returns the handle and the last component's name.
func (t *target) openParent() (*dirHandle, string, error) {
	if t.rel == "." {
		return nil, "", fmt.Errorf("%s is the granted directory itself: %w", t.real, ErrOutside)
	}
	dir, name := path.Split(t.rel)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	d, fi, err := openDir(t.root, dir, path.Dir(t.real))
	if err != nil {
		// Its name no longer leads to a directory inside the root: gone,
		// replaced by a file, or by a symlink out of the root.
		if errors.Is(err, fs.ErrPermission) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("%s: its directory %w (%v)", t.real, ErrChanged, err)
	}
	if t.dir != nil && !os.SameFile(fi, t.dir) {
		d.close()
		return nil, "", fmt.Errorf("%s: its directory %w", t.real, ErrChanged)
	}
	return d, name, nil
}
