package audit

import (
	"errors"

	"golang.org/x/sys/windows"
)

// noRoomOS: Windows reports a full disk, a full quota and a file over the
// volume's size limit with its own codes, which syscall's ENOSPC, EDQUOT and
// EFBIG (numbers Go invented for Windows) never match.
func noRoomOS(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL) ||
		errors.Is(err, windows.ERROR_DISK_QUOTA_EXCEEDED) || errors.Is(err, windows.ERROR_FILE_TOO_LARGE)
}
