package wasm

import (
	"errors"
	"fmt"
)

// Errors from Invoke come in three kinds, so that a caller can branch:
//
//   - *ToolError: the tool ran and reported a failure with a code of its own
//     choosing; the instance is healthy and goes back to its pool.
//   - *TrapError: the guest trapped, exited, ran out of memory or stack, or
//     broke the ABI; the instance has been closed and discarded.
//   - *hostapi.Error: a limit the host imposes: CodeTimeout when the deadline
//     passed (the instance is discarded), CodeTooLarge when the input or the
//     result exceeded its cap, CodeUnavailable when the engine or pool is
//     closed.

// ToolError is a failure the tool itself reported in its result envelope.
type ToolError struct {
	Tool    string
	Code    string // the guest's code, e.g. "invalid_params" or "tool_error"
	Message string
}

func (e *ToolError) Error() string {
	return fmt.Sprintf("tool %s failed: %s: %s", e.Tool, e.Code, e.Message)
}

// ErrTrap matches every *TrapError with errors.Is.
var ErrTrap = errors.New("guest trapped")

// TrapError reports that the guest stopped abnormally. The instance that
// trapped has been closed; the engine and the pool keep serving.
type TrapError struct {
	Tool     string
	Exited   bool   // the guest called proc_exit (a Go guest does so on panic or fatal error)
	ExitCode uint32 // valid when Exited
	Err      error  // wazero's error (stack overflow, unreachable, out of bounds, ...)
}

func (e *TrapError) Error() string {
	if e.Exited {
		return fmt.Sprintf("tool %s: the guest exited with code %d (a Go guest does so on panic or out of memory; see the plugin's log)", e.Tool, e.ExitCode)
	}
	return fmt.Sprintf("tool %s: the guest trapped: %v", e.Tool, e.Err)
}

func (e *TrapError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrTrap) true for every TrapError.
func (e *TrapError) Is(target error) bool { return target == ErrTrap }
