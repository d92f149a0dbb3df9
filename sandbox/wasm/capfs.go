package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wardenproject/warden/hostapi"
)

// capFS is the guest's whole filesystem, mounted at "/": guest paths are host
// absolute paths, and every operation asks the gate with the instance's
// tokens. It never touches the host filesystem itself: opening, resolving
// symlinks and checking the resolved path against the grants are the gate's
// job, so a file reached with os.ReadFile is checked and audited exactly like
// one reached with the fs.read host method.
//
// Refusals map to errno values like this (docs/abi.md):
//
//	not_found                                   ENOENT
//	denied, not_declared, declined, token_*     EACCES
//	exists / not_a_directory / is_a_directory   EEXIST / ENOTDIR / EISDIR
//	invalid_params                              EINVAL
//	unknown_method                              ENOSYS
//	quota_exceeded                              EIO (see errnoOf)
//	anything else                               EIO
//
// Whether a path outside every grant exists is never visible: the gate
// refuses it with the same code whether or not it exists, so the guest sees
// EACCES either way. The root directory itself is synthetic and lists
// nothing.
type capFS struct {
	experimentalsys.UnimplementedFS
	inst *Instance
	open int // host files open now; see maxOpenFiles
}

// maxOpenFiles bounds the host descriptors one instance holds, so a guest that
// opens without closing exhausts its own budget (EAGAIN), not the host's.
const maxOpenFiles = 256

// Host methods the filesystem uses besides Gate.OpenFile; docs/host-api.md
// gives their schemas.
const (
	methodStat   = "fs.stat"
	methodMkdir  = "fs.mkdir"
	methodDelete = "fs.delete"
	methodRename = "fs.rename"
)

func (f *capFS) ctx() context.Context {
	if c := f.inst.callCtx; c != nil {
		return c
	}
	return context.Background()
}

// hostPath turns a path wazero hands the mount (relative to "/", already
// cleaned by wazero, which this does not rely on) into a clean absolute host
// path. A NUL byte would truncate the path in a C API downstream: refused.
func hostPath(name string) (string, experimentalsys.Errno) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", experimentalsys.EINVAL
	}
	return path.Clean("/" + name), 0
}

// errnoOf maps a gate or file error to the errno the guest sees.
func errnoOf(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	var he *hostapi.Error
	if errors.As(err, &he) {
		switch he.Code {
		case hostapi.CodeNotFound:
			return experimentalsys.ENOENT
		case hostapi.CodeDenied, hostapi.CodeNotDeclared, hostapi.CodeDeclined,
			hostapi.CodeTokenInvalid, hostapi.CodeTokenExpired, hostapi.CodeMethodForbidden:
			return experimentalsys.EACCES
		case hostapi.CodeExists:
			return experimentalsys.EEXIST
		case hostapi.CodeNotDir:
			return experimentalsys.ENOTDIR
		case hostapi.CodeIsDir:
			return experimentalsys.EISDIR
		case hostapi.CodeInvalidParams:
			return experimentalsys.EINVAL
		case hostapi.CodeUnknownMethod:
			return experimentalsys.ENOSYS
		case hostapi.CodeQuota:
			// EDQUOT or ENOSPC would say it best, but wazero v1.12's
			// sys.Errno has neither (nor EFBIG), and its WASI layer turns
			// any value it lacks into EIO. EIO it is, said here so that the
			// day wazero adds EDQUOT this is the line to change; the
			// ledger's budget.write event says what happened.
			return experimentalsys.EIO
		default:
			return experimentalsys.EIO
		}
	}
	return experimentalsys.UnwrapOSError(err)
}

// osFlags converts wazero's open flags to os.OpenFile flags.
func osFlags(fl experimentalsys.Oflag) int {
	var o int
	switch fl & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		o = os.O_RDWR
	case experimentalsys.O_WRONLY:
		o = os.O_WRONLY
	default:
		o = os.O_RDONLY
	}
	for _, m := range []struct {
		w experimentalsys.Oflag
		o int
	}{
		{experimentalsys.O_APPEND, os.O_APPEND},
		{experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL},
		{experimentalsys.O_TRUNC, os.O_TRUNC},
		{experimentalsys.O_SYNC, os.O_SYNC},
	} {
		if fl&m.w != 0 {
			o |= m.o
		}
	}
	return o
}

// OpenFile implements experimentalsys.FS.
func (f *capFS) OpenFile(name string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	p, errno := hostPath(name)
	if errno != 0 {
		return nil, errno
	}
	o := osFlags(flag)
	if p == "/" {
		if o&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC) != 0 {
			return nil, experimentalsys.EISDIR
		}
		return &rootDir{}, 0
	}
	if f.open >= maxOpenFiles {
		return nil, experimentalsys.EAGAIN
	}
	hf, err := f.inst.gate.OpenFile(f.ctx(), f.inst.caller, "", p, o, perm)
	if err != nil {
		return nil, errnoOf(err)
	}
	f.open++
	cf := &capFile{f: hf, fs: f, write: o&(os.O_WRONLY|os.O_RDWR) != 0, read: o&os.O_WRONLY == 0, append: o&os.O_APPEND != 0}
	fi, err := hf.Stat()
	if err != nil {
		cf.Close()
		return nil, errnoOf(err)
	}
	if flag&experimentalsys.O_DIRECTORY != 0 && !fi.IsDir() {
		cf.Close()
		return nil, experimentalsys.ENOTDIR
	}
	cf.dir = fi.IsDir()
	return cf, 0
}

// statResult is the fs.stat result this filesystem reads.
type statResult struct {
	Type  string    `json:"type"` // file, dir, symlink, other
	Size  int64     `json:"size"`
	Mode  uint32    `json:"mode"` // permission bits
	MTime time.Time `json:"mtime"`
}

// stat asks the gate. The gate resolves symlinks before it checks a path, so
// Lstat is Stat here: the guest never sees a link, only what the grant covers.
func (f *capFS) stat(name string) (sys.Stat_t, experimentalsys.Errno) {
	p, errno := hostPath(name)
	if errno != 0 {
		return sys.Stat_t{}, errno
	}
	if p == "/" {
		return rootStat(), 0
	}
	var res statResult
	if errno := f.callJSON(methodStat, pathParams{Path: p}, &res); errno != 0 {
		return sys.Stat_t{}, errno
	}
	mode := fs.FileMode(res.Mode).Perm()
	switch res.Type {
	case "dir":
		mode |= fs.ModeDir
	case "symlink":
		mode |= fs.ModeSymlink
	case "other":
		mode |= fs.ModeIrregular
	}
	mt := res.MTime.UnixNano()
	return sys.Stat_t{Mode: mode, Nlink: 1, Size: res.Size, Atim: mt, Mtim: mt, Ctim: mt}, 0
}

type pathParams struct {
	Path string `json:"path"`
}

// Stat implements experimentalsys.FS.
func (f *capFS) Stat(name string) (sys.Stat_t, experimentalsys.Errno) { return f.stat(name) }

// Lstat implements experimentalsys.FS; see stat.
func (f *capFS) Lstat(name string) (sys.Stat_t, experimentalsys.Errno) { return f.stat(name) }

// Mkdir implements experimentalsys.FS. The host chooses the mode.
func (f *capFS) Mkdir(name string, _ fs.FileMode) experimentalsys.Errno {
	return f.pathOp(methodMkdir, name)
}

// Rmdir implements experimentalsys.FS: fs.delete removes empty directories.
func (f *capFS) Rmdir(name string) experimentalsys.Errno { return f.pathOp(methodDelete, name) }

// Unlink implements experimentalsys.FS.
func (f *capFS) Unlink(name string) experimentalsys.Errno { return f.pathOp(methodDelete, name) }

// Rename implements experimentalsys.FS.
func (f *capFS) Rename(from, to string) experimentalsys.Errno {
	pf, e1 := hostPath(from)
	pt, e2 := hostPath(to)
	if e1 != 0 || e2 != 0 {
		return experimentalsys.EINVAL
	}
	if pf == "/" || pt == "/" {
		return experimentalsys.EACCES
	}
	return f.callJSON(methodRename, struct {
		From string `json:"from"`
		To   string `json:"to"`
	}{pf, pt}, nil)
}

// Readlink implements experimentalsys.FS. Since the gate resolves every link
// before it checks a path, no path the guest sees is a link: EINVAL, as for a
// regular file.
func (f *capFS) Readlink(name string) (string, experimentalsys.Errno) {
	if _, errno := hostPath(name); errno != 0 {
		return "", errno
	}
	return "", experimentalsys.EINVAL
}

// Symlink and Link are refused: a link made by a guest is a tool for
// escaping a grant, and no plugin needs one.
func (f *capFS) Symlink(_, _ string) experimentalsys.Errno { return experimentalsys.EPERM }

// Link implements experimentalsys.FS; see Symlink.
func (f *capFS) Link(_, _ string) experimentalsys.Errno { return experimentalsys.EPERM }

func (f *capFS) pathOp(method, name string) experimentalsys.Errno {
	p, errno := hostPath(name)
	if errno != 0 {
		return errno
	}
	if p == "/" {
		return experimentalsys.EACCES
	}
	return f.callJSON(method, pathParams{Path: p}, nil)
}

func (f *capFS) callJSON(method string, params any, result any) experimentalsys.Errno {
	b, err := json.Marshal(params)
	if err != nil {
		return experimentalsys.EINVAL
	}
	res, err := f.inst.gate.Call(f.ctx(), f.inst.caller, method, "", b)
	if err != nil {
		return errnoOf(err)
	}
	if result != nil && json.Unmarshal(res, result) != nil {
		return experimentalsys.EIO
	}
	return 0
}

// rootStat describes the synthetic root: a directory that lists nothing.
func rootStat() sys.Stat_t {
	return sys.Stat_t{Mode: fs.ModeDir | 0o555, Nlink: 1}
}

// rootDir is "/": wazero opens it to make the preopen, and a guest may list
// it, but it holds nothing; grants are reached by their full paths.
type rootDir struct {
	experimentalsys.UnimplementedFile
}

func (*rootDir) IsDir() (bool, experimentalsys.Errno)                { return true, 0 }
func (*rootDir) Stat() (sys.Stat_t, experimentalsys.Errno)           { return rootStat(), 0 }
func (*rootDir) Seek(fileOffset, int) (int64, experimentalsys.Errno) { return 0, 0 }
func (*rootDir) Readdir(int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	return nil, 0
}
func (*rootDir) Read([]byte) (int, experimentalsys.Errno)         { return 0, experimentalsys.EISDIR }
func (*rootDir) Pread([]byte, int64) (int, experimentalsys.Errno) { return 0, experimentalsys.EISDIR }

// fileOffset is int64 under another name only so that go vet's stdmethods
// check, which expects io.Seeker's Seek to return error, lets sys.File's Seek
// (which returns sys.Errno) through.
type fileOffset = int64

// capFile adapts a hostapi.File the gate opened to wazero's sys.File.
type capFile struct {
	experimentalsys.UnimplementedFile
	f           hostapi.File
	fs          *capFS
	closed      bool
	dir         bool
	read, write bool
	append      bool
	dirents     []experimentalsys.Dirent // listed on first Readdir
	listed      bool
	direntPos   int
}

func (c *capFile) IsDir() (bool, experimentalsys.Errno) { return c.dir, 0 }
func (c *capFile) IsAppend() bool                       { return c.append }

// SetAppend is refused: append mode is chosen at open, where the gate saw it.
func (c *capFile) SetAppend(bool) experimentalsys.Errno { return experimentalsys.ENOSYS }

func (c *capFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	fi, err := c.f.Stat()
	if err != nil {
		return sys.Stat_t{}, errnoOf(err)
	}
	return sys.NewStat_t(fi), 0
}

func (c *capFile) Read(p []byte) (int, experimentalsys.Errno) {
	if c.dir {
		return 0, experimentalsys.EISDIR
	}
	if !c.read {
		return 0, experimentalsys.EBADF
	}
	n, err := c.f.Read(p)
	if err == io.EOF {
		err = nil
	}
	return n, errnoOf(err)
}

func (c *capFile) Pread(p []byte, off int64) (int, experimentalsys.Errno) {
	if c.dir {
		return 0, experimentalsys.EISDIR
	}
	if !c.read {
		return 0, experimentalsys.EBADF
	}
	n, err := c.f.ReadAt(p, off)
	if err == io.EOF {
		err = nil
	}
	return n, errnoOf(err)
}

func (c *capFile) Seek(off fileOffset, whence int) (int64, experimentalsys.Errno) {
	if c.dir {
		// Only a rewind makes sense for a directory; wazero asks for one when
		// the guest restarts a listing.
		if off == 0 && whence == io.SeekStart {
			c.direntPos = 0
			c.listed = false
			c.dirents = nil
			return 0, 0
		}
		return 0, experimentalsys.EINVAL
	}
	n, err := c.f.Seek(off, whence)
	return n, errnoOf(err)
}

// maxDirents bounds one directory listing held in host memory.
const maxDirents = 1 << 16

func (c *capFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if !c.dir {
		return nil, experimentalsys.EBADF
	}
	if !c.listed {
		ents, err := c.f.ReadDir(-1)
		if err != nil && err != io.EOF {
			return nil, errnoOf(err)
		}
		if len(ents) > maxDirents {
			ents = ents[:maxDirents]
		}
		c.dirents = make([]experimentalsys.Dirent, 0, len(ents))
		for _, e := range ents {
			c.dirents = append(c.dirents, experimentalsys.Dirent{Name: e.Name(), Type: e.Type()})
		}
		c.listed = true
		c.direntPos = 0
	}
	rest := c.dirents[c.direntPos:]
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	c.direntPos += len(rest)
	return rest, 0
}

func (c *capFile) Write(p []byte) (int, experimentalsys.Errno) {
	if c.dir {
		return 0, experimentalsys.EISDIR
	}
	if !c.write {
		return 0, experimentalsys.EBADF
	}
	n, err := c.f.Write(p)
	return n, errnoOf(err)
}

func (c *capFile) Pwrite(p []byte, off int64) (int, experimentalsys.Errno) {
	if c.dir {
		return 0, experimentalsys.EISDIR
	}
	if !c.write {
		return 0, experimentalsys.EBADF
	}
	n, err := c.f.WriteAt(p, off)
	return n, errnoOf(err)
}

func (c *capFile) Truncate(size int64) experimentalsys.Errno {
	if c.dir {
		return experimentalsys.EISDIR
	}
	if !c.write {
		return experimentalsys.EBADF
	}
	return errnoOf(c.f.Truncate(size))
}

func (c *capFile) Sync() experimentalsys.Errno     { return errnoOf(c.f.Sync()) }
func (c *capFile) Datasync() experimentalsys.Errno { return errnoOf(c.f.Sync()) }
func (c *capFile) Close() experimentalsys.Errno {
	if c.closed {
		return experimentalsys.EBADF
	}
	c.closed = true
	c.fs.open--
	// The current call's context bounds the after-hash of a written file;
	// outside a call, Instance.Close supplies one.
	return errnoOf(c.f.CloseContext(c.fs.ctx()))
}
