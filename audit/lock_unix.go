//go:build unix

package audit

import (
	"os"
	"syscall"
)

// lockFile takes the ledger's exclusive lock on f without waiting: one writing
// process per ledger directory. The kernel drops it when the process exits,
// so a crash never leaves the ledger locked.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == syscall.EWOULDBLOCK {
		return ErrLocked
	}
	return err
}
