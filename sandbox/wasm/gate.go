package wasm

import (
	"context"
	"encoding/json"
	"io/fs"

	"github.com/wardenproject/warden/hostapi"
)

// Gate is the one door out of the sandbox, as this package consumes it. The
// sandbox names the caller from its own instance record; it never takes an
// identity from the guest. Errors are *hostapi.Error values with a stable
// code; anything else reaches the guest as "internal" without its text.
type Gate interface {
	// Call runs the host method with JSON params. An empty token means "any of
	// the caller's tokens".
	Call(ctx context.Context, c hostapi.Caller, method, token string, params json.RawMessage) (json.RawMessage, error)
	// OpenFile opens the absolute host path with os.OpenFile flags, after
	// resolving it on the host and checking it against the caller's tokens.
	OpenFile(ctx context.Context, c hostapi.Caller, token, path string, flag int, perm fs.FileMode) (hostapi.File, error)
}
