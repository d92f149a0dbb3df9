package hostkey

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// withLock runs f while holding an exclusive LockFileEx on path, Windows'
// counterpart of flock: it waits for another holder, and Windows drops the
// lock when the handle closes or the process dies, so a crash never leaves
// the ring locked.
func withLock(path string, f func() error) error {
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer lf.Close()
	const allBytes = ^uint32(0)
	h := windows.Handle(lf.Fd())
	if err := windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK, 0, allBytes, allBytes, new(windows.Overlapped)); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer windows.UnlockFileEx(h, 0, allBytes, allBytes, new(windows.Overlapped))
	return f()
}
