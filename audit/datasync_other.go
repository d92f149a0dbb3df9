//go:build unix && !linux

package audit

import (
	"os"
	"syscall"
)

func datasync(f *os.File) error { return f.Sync() }

func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == syscall.EWOULDBLOCK {
		return ErrLocked
	}
	return err
}
