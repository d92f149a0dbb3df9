package hostapi

// The filesystem methods: how each maps to (resource, action), and how it
// runs through the filesystem provider.

import (
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi/internal/fsprov"
	"github.com/wardenproject/warden/resource"
)

// cleanAbs turns a guest path into the clean absolute host path every check
// uses. ".." is resolved lexically here ("/data/../etc" is "/etc", which the
// grant for /data does not cover); symlinks are resolved by the provider.
func cleanAbs(p, field string) (string, *Error) {
	if !strings.HasPrefix(p, "/") {
		return "", Errorf(CodeInvalidParams, "%s %q is not an absolute path; host paths start with /", field, Sanitize(p, 200))
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", Errorf(CodeInvalidParams, "%s holds a NUL byte", field)
	}
	return path.Clean(p), nil
}

func fsAccess(field, action string) func(a *args) ([]Access, *Error) {
	return func(a *args) ([]Access, *Error) {
		p, herr := cleanAbs(a.Str(field), field)
		if herr != nil {
			return nil, herr
		}
		return []Access{{Kind: resource.Filesystem, Name: "filesystem:" + p, Path: p, Action: action}}, nil
	}
}

func fsAltAccess(field, action, alt string) func(a *args) ([]Access, *Error) {
	f := fsAccess(field, action)
	return func(a *args) ([]Access, *Error) {
		acc, herr := f(a)
		if herr == nil {
			acc[0].Alt = alt
		}
		return acc, herr
	}
}

// fsRenameAccess: moving a file out of a place needs read and delete there
// (else rename would be a way to read what only delete was granted on), and
// write where it lands.
func fsRenameAccess(a *args) ([]Access, *Error) {
	from, herr := cleanAbs(a.Str("from"), "from")
	if herr != nil {
		return nil, herr
	}
	to, herr := cleanAbs(a.Str("to"), "to")
	if herr != nil {
		return nil, herr
	}
	return []Access{
		{Kind: resource.Filesystem, Name: "filesystem:" + from, Path: from, Action: "delete"},
		{Kind: resource.Filesystem, Name: "filesystem:" + from, Path: from, Action: "read"},
		{Kind: resource.Filesystem, Name: "filesystem:" + to, Path: to, Action: "write"},
	}, nil
}

// fsError maps a provider error to its stable code. Messages name only the
// path the guest asked for, never where a symlink pointed. A refusal the
// gate itself made on a resolved path comes back as it was made.
func fsError(err error, method, p string) *Error {
	if he, ok := hostError(err); ok {
		return he
	}
	var pe *fsprov.ProtectedError
	if errors.As(err, &pe) {
		how := protIdentity
		switch {
		case pe.Holds:
			how = protHolds
		case pe.ViaLink:
			how = protViaLink
		}
		he := protectedError(method, p, how)
		he.Err = err
		return he
	}
	var nr *fsprov.NotRegularError
	if errors.As(err, &nr) {
		return &Error{Code: CodeDenied, Err: err, Message: method + ": " + Sanitize(p, 512) + " is " + nr.Kind +
			", not a regular file or directory; warden opens only regular files and directories"}
	}
	var code Code
	var msg string
	switch {
	case errors.Is(err, fsprov.ErrUnsupportedOS):
		code, msg = CodeDenied, "cannot be reached: warden's filesystem capability does not run on this operating system yet"
	case errors.Is(err, fsprov.ErrOutside):
		code, msg = CodeDenied, "resolves (through a symlink or \"..\") outside the capability that was checked"
	case errors.Is(err, fsprov.ErrChanged):
		code, msg = CodeIO, "changed while it was being opened; try again"
	case errors.Is(err, fsprov.ErrTooLarge):
		code, msg = CodeTooLarge, "is over the host's size cap for one call; read or write it in pieces"
	case errors.Is(err, context.DeadlineExceeded):
		code, msg = CodeTimeout, "the call's deadline passed"
	case errors.Is(err, context.Canceled):
		code, msg = CodeUnavailable, "the call was cancelled"
	case errors.Is(err, fs.ErrNotExist):
		code, msg = CodeNotFound, "does not exist"
	case errors.Is(err, fs.ErrExist):
		code, msg = CodeExists, "already exists"
	case errors.Is(err, syscall.ENOTDIR):
		code, msg = CodeNotDir, "has a path component that is not a directory"
	case fsprov.ErrIsDir(err), errors.Is(err, syscall.EISDIR):
		code, msg = CodeIsDir, "is a directory"
	case errors.Is(err, syscall.ENOTEMPTY):
		code, msg = CodeExists, "is a directory that is not empty"
	case errors.Is(err, syscall.ELOOP):
		code, msg = CodeIO, "has too many levels of symlinks"
	case errors.Is(err, fs.ErrPermission):
		code, msg = CodeDenied, "is not accessible to the host process (operating system permissions)"
	default:
		code, msg = CodeIO, "could not be accessed on the host"
	}
	return &Error{Code: code, Message: method + ": " + Sanitize(p, 512) + " " + msg, Err: err}
}

func runFSRead(ctx context.Context, c *call) ([]byte, *Error) {
	a := &c.acc[0]
	off, _ := c.args.Int("offset")
	length, ok := c.args.Int("length")
	if !ok {
		length = -1
	}
	r, err := fsprov.Read(ctx, c.grant(0, 0, 0), a.Path, off, length, c.g.cfg.MaxRead)
	if err != nil {
		return nil, fsError(err, c.name, a.Path)
	}
	sum := fsprov.HashOf(r.Data)
	c.ev.Bytes = int64(len(r.Data))
	c.setDetail("sha256", sum)
	b := make([]byte, 0, base64.StdEncoding.EncodedLen(len(r.Data))+128)
	b = append(b, `{"data":"`...)
	b = base64.StdEncoding.AppendEncode(b, r.Data)
	b = append(b, `","sha256":"`...)
	b = append(b, sum...)
	b = append(b, `","size":`...)
	b = strconv.AppendInt(b, r.Size, 10)
	return append(b, '}'), nil
}

func runFSWrite(ctx context.Context, c *call) ([]byte, *Error) {
	a := &c.acc[0]
	data := c.args.Bytes("data")
	if int64(len(data)) > c.g.cfg.MaxWrite {
		return nil, Errorf(CodeTooLarge, "%s: %d bytes is over the host's cap of %d for one write; append in pieces", c.name, len(data), c.g.cfg.MaxWrite)
	}
	w, err := fsprov.PrepareWrite(ctx, c.grant(0, 0, 0), a.Path, c.args.Bool("append"), c.args.Bool("create_only"))
	if err != nil {
		return nil, fsError(err, c.name, a.Path)
	}
	if herr := c.intent(c.ev.Resource, w.BeforeHash(), int64(len(data)), c.ev.Detail); herr != nil {
		w.Abort()
		return nil, herr
	}
	res, err := w.Commit(data)
	c.ev.BeforeHash, c.ev.AfterHash, c.ev.Bytes = w.BeforeHash(), res.After, res.Bytes
	if err != nil {
		return nil, fsError(err, c.name, a.Path)
	}
	b := make([]byte, 0, 200)
	b = append(b, `{"after_hash":"`...)
	b = append(b, res.After...)
	b = append(b, '"')
	if w.BeforeHash() != "" {
		b = append(b, `,"before_hash":"`...)
		b = append(b, w.BeforeHash()...)
		b = append(b, '"')
	}
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, res.Bytes, 10)
	return append(b, '}'), nil
}

// visibleFunc reports whether a host path lies in, or leads to, the grant of
// any filesystem capability the caller holds (or the explicit token).
func (c *call) visibleFunc() func(string) bool {
	var pats []resource.Pattern
	expect := capability.Expect{Subject: c.caller.Plugin, Audience: c.caller.Instance}
	for _, t := range c.caller.Tokens {
		if capa, err := c.g.cfg.Tokens.Verify(t, expect, c.start); err == nil && capa.Resource.Kind() == resource.Filesystem {
			pats = append(pats, capa.Resource)
		}
	}
	for _, capa := range c.caps {
		if capa != nil && capa.Resource.Kind() == resource.Filesystem {
			pats = append(pats, capa.Resource)
		}
	}
	return func(p string) bool {
		for _, pat := range pats {
			if pat.MatchPath(p) || strings.HasPrefix(pat.Base(), p+"/") {
				return true
			}
		}
		return false
	}
}

func runFSList(ctx context.Context, c *call) ([]byte, *Error) {
	a := &c.acc[0]
	entries, err := fsprov.List(ctx, c.grant(0, 0, 0), a.Path, c.visibleFunc())
	if err != nil {
		return nil, fsError(err, c.name, a.Path)
	}
	b := make([]byte, 0, 64+48*len(entries))
	b = append(b, `{"entries":[`...)
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, e.Name)
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, e.Size, 10)
		b = append(b, `,"type":"`...)
		b = append(b, e.Type...)
		b = append(b, `"}`...)
	}
	c.ev.Bytes = int64(len(entries))
	return append(b, "]}"...), nil
}

func runFSStat(_ context.Context, c *call) ([]byte, *Error) {
	a := &c.acc[0]
	info, err := fsprov.Stat(c.grant(0, 0, 0), a.Path)
	if err != nil {
		return nil, fsError(err, c.name, a.Path)
	}
	b := make([]byte, 0, 128+len(info.Name))
	b = append(b, `{"mode":`...)
	b = strconv.AppendUint(b, uint64(info.Mode), 10)
	b = append(b, `,"mtime":"`...)
	b = info.MTime.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","name":`...)
	b = appendJSONString(b, info.Name)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, info.Size, 10)
	b = append(b, `,"type":"`...)
	b = append(b, info.Type...)
	return append(b, `"}`...), nil
}

func runFSDelete(_ context.Context, c *call) ([]byte, *Error) {
	a := &c.acc[0]
	err := fsprov.Delete(c.grant(0, 0, 0), a.Path, c.intentFor)
	if err != nil {
		return nil, fsError(err, c.name, a.Path)
	}
	return []byte(`{}`), nil
}

func runFSMkdir(_ context.Context, c *call) ([]byte, *Error) {
	a := &c.acc[0]
	if err := fsprov.Mkdir(c.grant(0, 0, 0), a.Path, c.intentFor); err != nil {
		return nil, fsError(err, c.name, a.Path)
	}
	return []byte(`{}`), nil
}

// intentFor writes the intent of a delete or mkdir once the provider has
// resolved and checked the path (the event's resource is then the resolved
// one, see resolvedCheck).
func (c *call) intentFor(string) error {
	if herr := c.intent(c.ev.Resource, "", 0, c.ev.Detail); herr != nil {
		return herr
	}
	return nil
}

func runFSRename(_ context.Context, c *call) ([]byte, *Error) {
	from, to := &c.acc[0], &c.acc[2]
	// The from path must be covered by one capability for both read and
	// delete; the provider resolves it in the delete grant and re-checks the
	// read grant on the result. Each side's resolved path is decided on
	// again for its own actions (delete and read; write).
	gd, gr := c.grant(0, 0, 1), grantOf(c.caps[1])
	gFrom := fsprov.Grant{Base: gd.Base, Match: func(p string) bool { return gd.Match(p) && gr.Match(p) }, Check: gd.Check, Protect: gd.Protect}
	c.setDetail("to", to.Name)
	err := fsprov.Rename(gFrom, from.Path, c.grant(1, 2, 2), to.Path, func(_, _ string) error {
		if herr := c.intent(c.ev.Resource, "", 0, c.ev.Detail); herr != nil {
			return herr
		}
		return nil
	})
	if err != nil {
		return nil, fsError(err, c.name, from.Path+" -> "+to.Path)
	}
	return []byte(`{}`), nil
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		ch := s[i]
		if ch >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...) // a file name that is not UTF-8
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&0xf])
		default:
			b = append(b, ch)
		}
		i++
	}
	return append(b, '"')
}
