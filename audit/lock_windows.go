package audit

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockFile takes the ledger's lock without waiting: an exclusive LockFileEx
// over every byte of the lock file, Windows' counterpart of flock. Windows
// drops it when the handle closes or the process dies, so a crash never
// leaves the ledger locked.
func lockFile(f *os.File) error {
	const allBytes = ^uint32(0)
	err := windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY,
		0, allBytes, allBytes, new(windows.Overlapped))
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return ErrLocked
	}
	return err
}
