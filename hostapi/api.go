package hostapi

// This file fixes the types that the sandboxes and the gate share, so that both
// sides can be written at once. The Gate itself lives in gate.go.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/wardenproject/warden/policy"
)

// Caller identifies the sandboxed instance making a host call. The sandbox fills
// it from its own instance record, never from anything the guest sends: that is
// what authenticates the caller.
type Caller struct {
	Plugin         string // plugin id (the manifest name), the token subject
	Version        string
	Publisher      string
	PublisherKeyID string
	Instance       string // instance id, the token audience
	Session        string
	// Tokens are the capability tokens minted for this instance. A call that
	// names no token is checked against each of them in turn.
	Tokens []string
	// Manifest is the plugin's declared permissions, from its verified
	// bundle or source directory. The policy refuses everything outside it;
	// nil declares nothing, so every capability-checked call is refused.
	Manifest *policy.Manifest
	// Budget is what the current invocation may still spend (Quota); the
	// sandbox sets it for each invocation. Nil bounds nothing beyond the
	// per-call caps: only a caller that is not a tool invocation (an
	// embedding program calling the gate itself) leaves it nil.
	Budget *Budget
}

// Code is a stable error code a guest (or a program) can branch on. Codes never
// change meaning once published; docs/host-api.md lists them.
type Code string

const (
	CodeDenied          Code = "denied"           // the policy, a grant or a person said no
	CodeNotDeclared     Code = "not_declared"     // outside the plugin's manifest
	CodeTokenInvalid    Code = "token_invalid"    // missing, forged, wrong audience/subject, revoked
	CodeTokenExpired    Code = "token_expired"    // valid but past its lifetime: request a new one
	CodeDeclined        Code = "declined"         // a confirmation was declined, cancelled or timed out
	CodeInvalidParams   Code = "invalid_params"   // params do not match the method's schema
	CodeUnknownMethod   Code = "unknown_method"   // no such host method
	CodeNotFound        Code = "not_found"        // the resource does not exist
	CodeExists          Code = "exists"           // the resource already exists
	CodeNotDir          Code = "not_a_directory"  // a path component is not a directory
	CodeIsDir           Code = "is_a_directory"   // a file operation on a directory
	CodeTooLarge        Code = "too_large"        // a size cap was hit
	CodeQuota           Code = "quota_exceeded"   // a storage quota was hit
	CodeTimeout         Code = "timeout"          // the call's deadline passed
	CodeIO              Code = "io_error"         // the host failed to perform an allowed action
	CodeInternal        Code = "internal"         // a bug in warden; the message says what
	CodeUnavailable     Code = "unavailable"      // the host is shutting down or the plugin is quarantined
	CodeMethodForbidden Code = "forbidden_method" // a method the guest may never call (reserved)
)

// Error is the typed error every host call returns on failure. It crosses the
// sandbox boundary as {"code": ..., "message": ...}.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Err is the underlying cause on the host side; it never crosses the boundary.
	Err error `json:"-"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the stable code of err, or CodeInternal when err carries none.
func CodeOf(err error) Code {
	var he *Error
	if errors.As(err, &he) {
		return he.Code
	}
	return CodeInternal
}

// File is an open file handed out by the gate to a sandbox's capability
// filesystem. Opening it was checked and audited for every access its flags
// allow; reads and writes go straight to the host file, after a re-check
// that costs a few atomic loads while nothing was revoked (so that bulk data
// does not pay a policy check per read), and refuse what the open was not
// authorised for. Close appends the outcome event with bytes moved and, for
// writes, the content hash after.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	// WriterAt is pwrite: the checks of Write, refused on a file opened
	// with O_APPEND.
	io.WriterAt
	io.Seeker
	io.Closer
	// CloseContext is Close with the after-hash of a written file bounded
	// by ctx (the current call's): past it, the close is recorded with the
	// hash marked as skipped instead of awaiting it.
	CloseContext(ctx context.Context) error
	Stat() (fs.FileInfo, error)
	// ReadDir lists a directory opened with OpenFile; entries outside every
	// grant are left out.
	ReadDir(n int) ([]fs.DirEntry, error)
	// Sync flushes the file to stable storage.
	Sync() error
	// Truncate changes the size of a file opened for writing.
	Truncate(size int64) error
}
