//go:build unix

package hostapi

import "syscall"

// fcntlFlags returns the file status flags of fd (F_GETFL).
func fcntlFlags(fd uintptr) (int, error) {
	fl, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(fl), nil
}
