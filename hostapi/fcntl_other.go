//go:build !unix

package hostapi

import "errors"

// fcntlFlags: these systems have no F_GETFL. appends then reports false, so
// a write past the end is charged for the hole it leaves: the budget errs
// on the side of counting too much.
func fcntlFlags(uintptr) (int, error) {
	return 0, errors.ErrUnsupported
}
