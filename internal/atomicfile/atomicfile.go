// Package atomicfile replaces small state files so that a crash leaves either
// the old content or the new, never a mix: the bytes go to a temporary file in
// the same directory, are fsynced, renamed over the target, and the directory
// is fsynced so that the rename itself survives a power cut (on Windows, which
// has no directory fsync, the rename's durability rests on NTFS: see SyncDir).
//
// Cursors, trust state, spool entries: every file warden rewrites in place and
// later trusts goes through here, so there is one implementation to get right.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data, created with mode perm.
func Write(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	werr := f.Chmod(perm)
	if werr == nil {
		_, werr = f.Write(data)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return SyncDir(dir)
}

// WriteSynced writes data to path opened with flag (O_WRONLY is implied) and
// mode 0600, and fsyncs it before closing. It is for files whose caller makes
// the final step atomic itself: an O_EXCL create, or a rename that follows.
func WriteSynced(path string, data []byte, flag int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|flag, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SyncDir fsyncs a directory, making the creation, rename or removal of its
// entries durable. Windows cannot flush a directory: there it only checks
// that dir is one (syncdir_windows.go says what durability rests on).
func SyncDir(dir string) error { return syncDir(dir) }
