//go:build !unix

package fsprov

import "io/fs"

// idOf: the file information of these systems carries no device and inode,
// so no identity is recorded and only the gate's name checks apply (see
// Protection).
func idOf(fs.FileInfo) (fileID, bool) { return fileID{}, false }
