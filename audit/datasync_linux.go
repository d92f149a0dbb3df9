package audit

import (
	"os"
	"syscall"
)

// datasync flushes f's data and the metadata needed to read it back (its
// size); fdatasync skips timestamps, which the ledger never needs.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
