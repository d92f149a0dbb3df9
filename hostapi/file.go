package hostapi

// This file is the capability filesystem's entry. OpenFile is gated and
// audited at open, for every access the open's flags allow; reads and writes
// then go straight to the host file, each after a re-check that costs a few
// atomic loads while nothing was revoked (fileAuth), and Close records what
// moved.

import (
	"context"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi/internal/fsprov"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
)

// Audit actions of the capability filesystem's opens (the other filesystem
// operations are the catalogue's fs.* methods).
const (
	ActionOpen  = "fs.open"
	ActionClose = "fs.close"
	// ActionRecheck records the refusal of a read or write on a file whose
	// authorisation ended after it was opened (a token revoked or expired,
	// a grant removed). It is written once per file: every later access of
	// that file is refused without another event.
	ActionRecheck = "fs.recheck"
)

// openAccesses maps an open's flags to the accesses it must be authorised
// for: read when the file can be read through it (O_RDONLY, O_RDWR), write
// when the open can change the file (fsprov.Writes: O_WRONLY, O_RDWR,
// O_CREATE, O_TRUNC, O_APPEND, whatever the access mode). A read-only open
// may be authorised by list instead of read; it then serves only a
// directory listing.
func openAccesses(abs string, flag int) ([]Access, *Error) {
	name := "filesystem:" + abs
	mode := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	if mode == os.O_WRONLY|os.O_RDWR {
		return nil, Errorf(CodeInvalidParams, "%s: %s: the flags ask for both O_WRONLY and O_RDWR", ActionOpen, Sanitize(abs, 512))
	}
	reads, writes := mode != os.O_WRONLY, fsprov.Writes(flag)
	switch {
	case reads && writes:
		return []Access{
			{Kind: resource.Filesystem, Name: name, Path: abs, Action: "read"},
			{Kind: resource.Filesystem, Name: name, Path: abs, Action: "write"},
		}, nil
	case writes:
		return []Access{{Kind: resource.Filesystem, Name: name, Path: abs, Action: "write"}}, nil
	}
	return []Access{{Kind: resource.Filesystem, Name: name, Path: abs, Action: "read", Alt: "list"}}, nil
}

// OpenFile opens the host file p for caller, authorised by token (or by any
// of caller.Tokens when token is ""), with os.OpenFile's flag and perm.
//
// The open is authorised for every access its flags allow (openAccesses):
// each through the token check, the policy (and a person where it says ask)
// and, when a symlink moved the path, the same checks on where it leads. A
// directory reached with read must be authorised for list too, since all an
// open directory serves is its listing. The returned File serves only what
// was authorised, and re-checks that before each read or write (see
// fileAuth). Every event of the open names its accesses in detail.access
// (for example "read,write"); its decision is that of the last access
// decided, and a refusal's is the refusing one.
//
// A flag that can change the file writes a durable intent event, with the
// hash of the content before, ahead of any change; a read-only open records
// its event at once. Close records the bytes moved and, for writes, the hash
// after. Errors are *Error.
func (g *Gate) OpenFile(ctx context.Context, caller Caller, token, p string, flag int, perm fs.FileMode) (File, error) {
	c := &call{g: g, ctx: ctx, caller: &caller, start: g.now(), name: ActionOpen}
	if herr := c.admit(2); herr != nil { // its open and its close
		return nil, herr
	}
	abs, herr := cleanAbs(p, "path")
	if herr != nil {
		return nil, c.refuse(herr, "gate", "invalid params")
	}
	acc, herr := openAccesses(abs, flag)
	c.ev.Resource = "filesystem:" + abs
	if herr != nil {
		return nil, c.refuse(herr, "gate", "invalid params")
	}
	c.acc = append(c.accBuf[:0], acc...)
	c.setDetail("access", actionList(c.acc))
	if herr := c.authorize(token); herr != nil {
		return nil, herr
	}
	c.setDetail("access", actionList(c.acc)) // read may have become list
	writes := fsprov.Writes(flag)
	var before fsprov.Hash
	var intentErr *Error
	f, real, err := fsprov.Open(ctx, c.grant(0, 0, len(c.acc)-1), abs, flag, perm, func(_ string, b fsprov.Hash) error {
		before = b
		if herr := c.intent(c.ev.Resource, b.Sum, 0, hashDetail(c.ev.Detail, "before", b)); herr != nil {
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
	if fi.IsDir() && c.acc[0].Action == "read" {
		if herr := c.authorizeMore(token, Access{Kind: resource.Filesystem, Name: c.acc[0].Name, Path: abs, Action: "list"}, real); herr != nil {
			f.Close()
			return nil, herr
		}
	}
	if c.acc[0].Action == "list" && !fi.IsDir() {
		f.Close()
		return nil, c.fail(Errorf(CodeDenied, "%s: %s is granted for listing only, and it is not a directory", ActionOpen, Sanitize(abs, 512)))
	}
	mode := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	gf := &gateFile{f: f, g: g, path: abs, dir: fi.IsDir(), before: before, start: c.start,
		// Belt and braces: what the file serves is what was authorised,
		// whatever the descriptor underneath allows (it is read-write for
		// every open that writes, to take the after-hash).
		read:   c.allowed("list") && fi.IsDir() || c.allowed("read") && !fi.IsDir(),
		write:  c.allowed("write") && mode != os.O_RDONLY,
		append: flag&os.O_APPEND != 0,
	}
	gf.auth = fileAuth{g: g, caller: caller, token: token, acc: append([]Access(nil), c.acc...), names: []string{c.acc[0].Name}}
	if r := "filesystem:" + real; real != "" && r != c.acc[0].Name {
		gf.auth.names = append(gf.auth.names, r)
	}
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

// allowed reports whether the call was authorised for action.
func (c *call) allowed(action string) bool {
	for i := range c.acc {
		if c.acc[i].Action == action {
			return true
		}
	}
	return false
}

func actionList(acc []Access) string {
	s := make([]string, len(acc))
	for i := range acc {
		s[i] = acc[i].Action
	}
	return strings.Join(s, ",")
}

// authorizeMore authorises one more access of a call after its provider
// learnt that it is needed (a directory reached with read must be listable):
// the same checks as authorize, and those of resolvedCheck when a symlink
// moved the path to real.
func (c *call) authorizeMore(token string, a Access, real string) *Error {
	i := len(c.acc)
	c.acc = append(c.acc, a)
	c.setDetail("access", actionList(c.acc))
	capa, herr := c.cover(token, &c.acc[i])
	if herr != nil {
		return c.refuse(herr, "gate", "no capability covers the call")
	}
	c.caps[i] = capa
	if len(c.g.protected) > 0 {
		if how := c.g.protectsVia(capa.Resource.Base(), a.Path, a.Action); how >= 0 {
			if how == protIs {
				how = protViaLink
			}
			return c.refuse(protectedError(c.name, a.Path, how), "gate", reasonProtected)
		}
	}
	if herr := c.decide(&c.acc[i]); herr != nil {
		return herr
	}
	if real != "" && real != a.Path {
		rc := resolvedCheck{c: c, first: i, last: i}
		if err := rc.CheckResolved(a.Path, real); err != nil {
			return c.fail(fsError(err, c.name, a.Path))
		}
	}
	return nil
}

// hashDetail adds to d why the before or after hash (which) was not taken,
// and the file's size then.
func hashDetail(d map[string]string, which string, h fsprov.Hash) map[string]string {
	if h.Skipped == "" {
		return d
	}
	d = mergeDetail(d, which+"_hash_skipped", h.Skipped)
	d[which+"_size"] = itoa(h.Size)
	return d
}

// gateFile is a File opened through the gate.
type gateFile struct {
	f      *os.File
	g      *Gate
	path   string
	read   bool // a file authorised for read, or a directory for list
	write  bool // authorised for write, and opened for writing
	append bool
	dir    bool
	before fsprov.Hash
	start  time.Time
	auth   fileAuth

	visible func(string) bool // for directories: entries shown
	ev      audit.Event       // fields shared with the open event
	budget  *Budget           // the invocation's: writes draw on it

	nread, nwritten atomic.Int64
	closeOnce       sync.Once
	closeErr        error
}

// errNotOpenedFor is EBADF, as POSIX says for a read on a descriptor not
// open for reading: the capability filesystem passes it through.
var errNotOpenedFor = syscall.EBADF

func (f *gateFile) notOpenedFor(op string) error {
	return &fs.PathError{Op: op, Path: f.path, Err: errNotOpenedFor}
}

func (f *gateFile) Read(p []byte) (int, error) {
	if !f.read {
		return 0, f.notOpenedFor("read")
	}
	if err := f.auth.check(f, "read"); err != nil {
		return 0, err
	}
	n, err := f.f.Read(p)
	f.nread.Add(int64(n))
	return n, err
}

func (f *gateFile) ReadAt(p []byte, off int64) (int, error) {
	if !f.read {
		return 0, f.notOpenedFor("read")
	}
	if err := f.auth.check(f, "read"); err != nil {
		return 0, err
	}
	n, err := f.f.ReadAt(p, off)
	f.nread.Add(int64(n))
	return n, err
}

func (f *gateFile) Write(p []byte) (int, error) {
	if !f.write {
		return 0, f.notOpenedFor("write")
	}
	if err := f.auth.check(f, "write"); err != nil {
		return 0, err
	}
	if err := f.charge(int64(len(p))); err != nil {
		return 0, err
	}
	n, err := f.f.Write(p)
	f.nwritten.Add(int64(n))
	return n, err
}

// WriteAt writes at off without moving the file offset (pwrite), with the
// checks of Write. A file opened with O_APPEND refuses it with EINVAL: Linux
// would append whatever off says, so the write would not land where the
// guest asked, and Go's os.File refuses it too.
func (f *gateFile) WriteAt(p []byte, off int64) (int, error) {
	if !f.write {
		return 0, f.notOpenedFor("pwrite")
	}
	if f.append {
		return 0, &fs.PathError{Op: "pwrite", Path: f.path, Err: syscall.EINVAL}
	}
	if err := f.auth.check(f, "write"); err != nil {
		return 0, err
	}
	if err := f.chargeAt(int64(len(p)), off); err != nil {
		return 0, err
	}
	n, err := f.f.WriteAt(p, off)
	f.nwritten.Add(int64(n))
	return n, err
}

func (f *gateFile) Seek(off int64, whence int) (int64, error) { return f.f.Seek(off, whence) }
func (f *gateFile) Sync() error                               { return f.f.Sync() }

func (f *gateFile) Stat() (fs.FileInfo, error) {
	if err := f.auth.check(f, "stat"); err != nil {
		return nil, err
	}
	return f.f.Stat()
}

func (f *gateFile) Truncate(size int64) error {
	if !f.write {
		return f.notOpenedFor("truncate")
	}
	if err := f.auth.check(f, "truncate"); err != nil {
		return err
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
	if !f.read {
		return nil, f.notOpenedFor("readdir")
	}
	if err := f.auth.check(f, "readdir"); err != nil {
		return nil, err
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

// Close is CloseContext with no deadline: the after-hash is then bounded by
// fsprov.MaxHashBytes alone.
func (f *gateFile) Close() error { return f.CloseContext(context.Background()) }

// CloseContext closes the host file and records the outcome: bytes read and
// written and, for a file opened to write, the hash of its whole content, or,
// when the file is over fsprov.MaxHashBytes or ctx ends first, why there is
// none (detail.after_hash_skipped and detail.after_size). The close event is
// always written; the hash is never awaited past ctx.
func (f *gateFile) CloseContext(ctx context.Context) error {
	f.closeOnce.Do(func() {
		ev := f.ev
		ev.Action = ActionClose
		ev.Outcome = audit.OutcomeOK
		ev.Bytes = f.nread.Load() + f.nwritten.Load()
		ev.BeforeHash = f.before.Sum
		ev.Detail = hashDetail(ev.Detail, "before", f.before)
		if f.write {
			after, err := fsprov.HashFile(ctx, f.f, fsprov.MaxHashBytes)
			switch {
			case after.Sum != "":
				ev.AfterHash = after.Sum
			case after.Skipped != "":
				ev.Detail = hashDetail(ev.Detail, "after", after)
			case err != nil:
				ev.Detail = mergeDetail(ev.Detail, "after_hash_skipped", "read_error")
			}
			ev.Detail = mergeDetail(ev.Detail, "written", itoa(f.nwritten.Load()))
		}
		ev.Detail = mergeDetail(ev.Detail, "read", itoa(f.nread.Load()))
		if e := f.auth.failed.Load(); e != nil {
			ev.Detail["refused_after_open"] = string(e.Code)
		}
		f.auth.close()
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

// fileAuth keeps an open file's authorisation current. An open is checked
// once, but a file may stay open for the rest of a call of up to ten
// minutes, across a token revocation or a grant's removal. So each read or
// write first asks whether anything that decided the open changed since it
// was last checked: the revocation set's generation and the policy's grants
// snapshot, two atomic loads, and a timer that clears the last check at the
// earliest token expiry or grant end (a clock read on every access would
// cost more than the rest of the check together). When one did, the open's
// checks run again (token cover and policy, on the requested name and on
// where a symlink led), without asking a person: an answer given at open
// stands for the file's life. If they fail, the file refuses every later
// access with the refusal's code (EACCES in the guest), and one fs.recheck
// event records it.
type fileAuth struct {
	g      *Gate
	caller Caller
	token  string
	acc    []Access // as authorised at open (Alt already chosen)
	names  []string // resource names decided: the requested one, and where a symlink led

	stamp  atomic.Pointer[authStamp] // nil: check before the next access
	failed atomic.Pointer[Error]     // set once: the file refuses everything
	mu     sync.Mutex                // serialises re-checks, the one event and expiry
	expiry *time.Timer               // clears stamp when what it saw ends
	closed bool
}

// authStamp is what a passing re-check saw.
type authStamp struct {
	rev    uint64
	grants *policy.Grants
}

// revocationSource and grantSource are what *capability.Verifier and
// *policy.Engine offer for fileAuth's cheap test; without them every access
// runs the full re-check.
type revocationSource interface {
	Revocations() *capability.RevocationSet
}

type grantSource interface {
	Grants() *policy.Grants
}

// epoch returns what fileAuth compares, and false when the gate's verifier
// or policy cannot tell it.
func (g *Gate) epoch() (uint64, *policy.Grants, bool) {
	if g.revs == nil || g.grantSrc == nil {
		return 0, nil, false
	}
	return g.revs.Generation(), g.grantSrc.Grants(), true
}

func (a *fileAuth) check(f *gateFile, op string) error {
	if e := a.failed.Load(); e != nil {
		return e
	}
	if s := a.stamp.Load(); s != nil {
		if rev, grants, ok := a.g.epoch(); ok && rev == s.rev && grants == s.grants {
			return nil
		}
	}
	if herr := a.recheck(f, op); herr != nil {
		return herr
	}
	return nil
}

func (a *fileAuth) recheck(f *gateFile, op string) *Error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.failed.Load(); e != nil {
		return e
	}
	// Loaded before the checks: a change while they run is seen at the next
	// access, never missed.
	rev, grants, ok := a.g.epoch()
	now := a.g.now()
	until, herr, dec := a.evaluate(now)
	if herr == nil {
		if ok && !a.closed {
			s := &authStamp{rev: rev, grants: grants}
			a.stamp.Store(s)
			if a.expiry != nil {
				a.expiry.Stop()
			}
			a.expiry = time.AfterFunc(time.Duration(until-now.UnixNano()), func() { a.stamp.CompareAndSwap(s, nil) })
		}
		return nil
	}
	herr = Errorf(herr.Code, "%s of %s, opened earlier: %s", op, Sanitize(f.path, 512), herr.Message)
	a.failed.Store(herr)
	ev := f.ev
	ev.Action = ActionRecheck
	ev.Outcome = audit.OutcomeError
	ev.Error = &audit.Error{Code: string(herr.Code), Message: herr.Message}
	ev.Decision = dec
	ev.Detail = mergeDetail(ev.Detail, "op", op)
	ev.Time = now
	ev.DurationNS = max(now.Sub(f.start).Nanoseconds(), 0)
	// The refusal stands even if the ledger refuses its event.
	_, _ = a.g.cfg.Audit.Enqueue(&ev)
	return herr
}

// close stops the expiry timer, which would otherwise hold the file until
// it fires.
func (a *fileAuth) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.expiry != nil {
		a.expiry.Stop()
		a.expiry = nil
	}
	a.stamp.Store(nil)
}

// evaluate runs the open's checks again at now and returns until when they
// hold: the earliest expiry of the tokens and of the policy's decisions.
func (a *fileAuth) evaluate(now time.Time) (int64, *Error, audit.Decision) {
	c := &call{g: a.g, ctx: context.Background(), caller: &a.caller, start: now, name: ActionRecheck}
	until := int64(math.MaxInt64)
	cl := &a.caller
	for _, acc := range a.acc {
		for _, name := range a.names {
			x := Access{Kind: resource.Filesystem, Name: name, Path: strings.TrimPrefix(name, "filesystem:"), Action: acc.Action}
			capa, herr := c.cover(a.token, &x)
			if herr != nil {
				return 0, herr, decisionDeny("gate", "no capability of the instance covers the open file any more")
			}
			until = min(until, capa.Expires.UnixNano())
			d := a.g.cfg.Policy.Decide(policy.Request{
				Publisher: cl.Publisher, PublisherKeyID: cl.PublisherKeyID, Plugin: cl.Plugin, Manifest: cl.Manifest,
				Resource: name, Action: acc.Action, Now: now,
			})
			if d.Effect != policy.Allow && d.Effect != policy.Ask {
				code := CodeDenied
				if d.By == "manifest" {
					code = CodeNotDeclared
				}
				return 0, &Error{Code: code, Message: d.Reason}, audit.Decision{Effect: audit.EffectDeny, By: d.By, Reason: d.Reason}
			}
			if d.MaxTTL > 0 {
				until = min(until, now.Add(d.MaxTTL).UnixNano())
			}
		}
	}
	return until, nil, audit.Decision{}
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

var _ File = (*gateFile)(nil)
