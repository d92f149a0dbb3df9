package hostapi

// This file is the capability filesystem's entry: OpenFile is gated and
// audited once, at open; reads and writes then go straight to the host file,
// so bulk data pays no policy check per read, and Close records what moved.

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostapi/internal/fsprov"
	"github.com/wardenproject/warden/resource"
)

// Audit actions of the capability filesystem's opens (the other filesystem
// operations are the catalogue's fs.* methods).
const (
	ActionOpen  = "fs.open"
	ActionClose = "fs.close"
)

// OpenFile opens the host file p for caller, authorised by token (or by any
// of caller.Tokens when token is ""), with os.OpenFile's flag and perm. A
// read-only open needs the read action, or list when p is a directory; a
// flag that can change the file (O_WRONLY, O_RDWR, O_CREATE, O_TRUNC,
// O_APPEND) needs write, and writes a durable intent event, with the hash of
// the content before, ahead of any change. The returned File's Close records
// the bytes moved and, for writes, the hash after. Errors are *Error.
func (g *Gate) OpenFile(ctx context.Context, caller Caller, token, p string, flag int, perm fs.FileMode) (File, error) {
	c := &call{g: g, ctx: ctx, caller: &caller, start: g.now(), name: ActionOpen}
	if herr := c.admit(2); herr != nil { // its open and its close
		return nil, herr
	}
	abs, herr := cleanAbs(p, "path")
	if herr != nil {
		return nil, c.refuse(herr, "gate", "invalid params")
	}
	writes := fsprov.Writes(flag)
	a := Access{Kind: resource.Filesystem, Name: "filesystem:" + abs, Path: abs, Action: "read", Alt: "list"}
	if writes {
		a = Access{Kind: resource.Filesystem, Name: "filesystem:" + abs, Path: abs, Action: "write"}
	}
	c.acc = append(c.accBuf[:0], a)
	c.ev.Resource = a.Name
	if herr := c.authorize(token); herr != nil {
		return nil, herr
	}
	listOnly := c.acc[0].Action == "list"
	var before string
	var intentErr *Error
	f, _, err := fsprov.Open(ctx, c.grant(0, 0, 0), abs, flag, perm, func(_, b string) error {
		before = b
		if herr := c.intent(c.ev.Resource, b, 0, c.ev.Detail); herr != nil {
			intentErr = herr
			return herr
		}
		return nil
	})
	if err != nil {
		if intentErr != nil {
			return nil, intentErr
		}
		return nil, c.fail(fsError(err, ActionOpen, abs))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, c.fail(fsError(err, ActionOpen, abs))
	}
	if listOnly && !fi.IsDir() {
		f.Close()
		return nil, c.fail(Errorf(CodeDenied, "%s: %s is granted for listing only, and it is not a directory", ActionOpen, Sanitize(abs, 512)))
	}
	gf := &gateFile{f: f, g: g, path: abs, read: !writes || flag&(os.O_RDWR) != 0, write: writes && flag&(os.O_WRONLY|os.O_RDWR) != 0,
		dir: fi.IsDir(), before: before, start: c.start}
	gf.budget = caller.Budget
	if gf.dir {
		gf.visible = c.visibleFunc()
	}
	c.fillEvent(&gf.ev)
	// The resolved path's decision and names (resolvedCheck) carry over to
	// the close event.
	gf.ev.Resource, gf.ev.CapHash, gf.ev.Decision, gf.ev.Detail = c.ev.Resource, c.ev.CapHash, c.ev.Decision, c.ev.Detail
	if !writes {
		// Reads are recorded at once; the close event adds the bytes.
		if herr := c.outcome(audit.OutcomeOK, nil); herr != nil {
			f.Close()
			return nil, herr
		}
	}
	return gf, nil
}

// gateFile is a File opened through the gate.
type gateFile struct {
	f      *os.File
	g      *Gate
	path   string
	read   bool
	write  bool
	dir    bool
	before string
	start  time.Time

	visible func(string) bool // for directories: entries shown
	ev      audit.Event       // fields shared with the open event
	budget  *Budget           // the invocation's: writes draw on it

	nread, nwritten atomic.Int64
	closeOnce       sync.Once
	closeErr        error
}

var errNotOpenedFor = errors.New("file not opened for this")

func (f *gateFile) Read(p []byte) (int, error) {
	if !f.read {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: errNotOpenedFor}
	}
	n, err := f.f.Read(p)
	f.nread.Add(int64(n))
	return n, err
}

func (f *gateFile) ReadAt(p []byte, off int64) (int, error) {
	if !f.read {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: errNotOpenedFor}
	}
	n, err := f.f.ReadAt(p, off)
	f.nread.Add(int64(n))
	return n, err
}

func (f *gateFile) Write(p []byte) (int, error) {
	if !f.write {
		return 0, &fs.PathError{Op: "write", Path: f.path, Err: errNotOpenedFor}
	}
	if err := f.charge(int64(len(p))); err != nil {
		return 0, err
	}
	n, err := f.f.Write(p)
	f.nwritten.Add(int64(n))
	return n, err
}

func (f *gateFile) Seek(off int64, whence int) (int64, error) { return f.f.Seek(off, whence) }
func (f *gateFile) Stat() (fs.FileInfo, error)                { return f.f.Stat() }
func (f *gateFile) Sync() error                               { return f.f.Sync() }

func (f *gateFile) Truncate(size int64) error {
	if !f.write {
		return &fs.PathError{Op: "truncate", Path: f.path, Err: errNotOpenedFor}
	}
	if err := f.chargeGrowth(size); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

// ReadDir lists the directory, leaving out entries outside every grant the
// caller held at open. With n > 0 it keeps reading until it has an entry to
// return or reaches the end, as fs.ReadDirFile requires.
func (f *gateFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !f.dir {
		return nil, &fs.PathError{Op: "readdir", Path: f.path, Err: fs.ErrInvalid}
	}
	for {
		des, err := f.f.ReadDir(n)
		out := des[:0]
		for _, de := range des {
			if f.visible(path.Join(f.path, de.Name())) {
				out = append(out, de)
			}
		}
		f.nread.Add(int64(len(out)))
		if len(out) > 0 || err != nil || n <= 0 {
			if n > 0 && len(out) == 0 && err == nil {
				err = io.EOF
			}
			return out, err
		}
	}
}

// Close closes the host file and records the outcome: bytes read and
// written and, for a file opened to write, the hash of its whole content.
func (f *gateFile) Close() error {
	f.closeOnce.Do(func() {
		ev := f.ev
		ev.Action = ActionClose
		ev.Outcome = audit.OutcomeOK
		ev.Bytes = f.nread.Load() + f.nwritten.Load()
		ev.BeforeHash = f.before
		if f.write {
			after, err := fsprov.HashFile(context.Background(), f.f)
			if err == nil {
				ev.AfterHash = after
			}
			ev.Detail = mergeDetail(ev.Detail, "written", itoa(f.nwritten.Load()))
		}
		ev.Detail = mergeDetail(ev.Detail, "read", itoa(f.nread.Load()))
		cerr := f.f.Close()
		ev.Time = f.g.now()
		ev.DurationNS = max(ev.Time.Sub(f.start).Nanoseconds(), 0)
		if _, err := f.g.cfg.Audit.Enqueue(&ev); err != nil {
			f.closeErr = &Error{Code: CodeUnavailable, Message: "the audit ledger refused the file's close event", Err: err}
			return
		}
		if cerr != nil {
			f.closeErr = fsError(cerr, ActionClose, f.path)
		}
	})
	return f.closeErr
}

func mergeDetail(d map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(d)+1)
	for dk, dv := range d {
		out[dk] = dv
	}
	out[k] = v
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
