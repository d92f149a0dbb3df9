//go:build unix

package hostkey

import (
	"fmt"
	"os"
	"syscall"
)

// withLock runs f while holding an exclusive flock on path. The kernel drops
// the lock if the process dies, so a crash never leaves the ring locked.
func withLock(path string, f func() error) error {
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer lf.Close()
	for {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return f()
}
