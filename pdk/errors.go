package pdk

import (
	"errors"
	"fmt"
)

// Code is a stable error code that a plugin can branch on. The host's codes are
// listed in warden's docs/host-api.md; they never change meaning.
type Code string

// Codes the host returns. A tool may return these or its own.
const (
	CodeDenied        Code = "denied"          // the policy, a grant or a person said no
	CodeNotDeclared   Code = "not_declared"    // outside the plugin's manifest
	CodeTokenInvalid  Code = "token_invalid"   // missing, forged, wrong audience, revoked
	CodeTokenExpired  Code = "token_expired"   // past its lifetime: request a new one
	CodeDeclined      Code = "declined"        // a confirmation was declined or timed out
	CodeInvalidParams Code = "invalid_params"  // params do not match the method's schema
	CodeUnknownMethod Code = "unknown_method"  // no such host method
	CodeNotFound      Code = "not_found"       // the resource does not exist
	CodeExists        Code = "exists"          // the resource already exists
	CodeNotDir        Code = "not_a_directory" // a path component is not a directory
	CodeIsDir         Code = "is_a_directory"  // a file operation on a directory
	CodeTooLarge      Code = "too_large"       // a size cap was hit
	CodeQuota         Code = "quota_exceeded"  // a storage quota was hit
	CodeTimeout       Code = "timeout"         // the call's deadline passed
	CodeIO            Code = "io_error"        // the host failed to perform an allowed action
	CodeInternal      Code = "internal"        // a bug; the message says what
	CodeUnavailable   Code = "unavailable"     // the host is shutting down
	CodeToolError     Code = "tool_error"      // a tool returned a plain Go error
	CodeUnknownTool   Code = "unknown_tool"    // no tool of that name is registered
	CodeNoHost        Code = "no_host"         // not running under warden (native build)
)

// Error is an error with a stable code, as returned by the host or by a tool.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, pdk.ErrDenied) matches any denial whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is; each matches every *Error with its code.
var (
	ErrDenied       = &Error{Code: CodeDenied}
	ErrNotDeclared  = &Error{Code: CodeNotDeclared}
	ErrTokenInvalid = &Error{Code: CodeTokenInvalid}
	ErrTokenExpired = &Error{Code: CodeTokenExpired}
	ErrDeclined     = &Error{Code: CodeDeclined}
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrExists       = &Error{Code: CodeExists}
	ErrTooLarge     = &Error{Code: CodeTooLarge}
	ErrTimeout      = &Error{Code: CodeTimeout}
	ErrNoHost       = &Error{Code: CodeNoHost, Message: "not running inside warden: host calls need GOOS=wasip1 and a warden host"}
)

// Errorf returns an *Error with code and a formatted message; a tool returns
// it to hand its caller a stable code.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err: the code of the first *Error in its chain,
// "" for nil, and CodeToolError for any other error.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeToolError
}
