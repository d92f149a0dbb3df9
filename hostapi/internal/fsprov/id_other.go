//go:build !unix

package fsprov

import (
	"fmt"
	"io/fs"
	"runtime"
)

// idOf: the file information of these systems carries no device and inode,
// so no identity is recorded (see Protection).
func idOf(fs.FileInfo) (fileID, bool) { return fileID{}, false }

// supported refuses every operation here. The provider's protections are
// Unix ones, and none has its counterpart on these systems yet: a grant's
// pattern is a "/"-rooted path, which Windows resolves on the current drive
// (so "/Users/u" reaches C:\Users\u, where no name check looks for warden's
// home); warden's own state has no identity to protect it by (Windows'
// would be the volume serial number and file index, which FileInfo does not
// carry); and names are matched byte-exact on a file system that folds
// case, 8.3 short names and trailing dots. Failing closed here, the one
// place every operation passes, keeps a plugin's file access from running
// unprotected: each call is refused, and the gate records the refusal.
func supported() error {
	return fmt.Errorf("the filesystem provider does not run on %s yet: %w", runtime.GOOS, ErrUnsupportedOS)
}
