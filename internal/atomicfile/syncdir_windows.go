package atomicfile

import (
	"fmt"
	"os"
)

// syncDir cannot flush dir on Windows: FlushFileBuffers needs a handle open
// for writing, which a directory cannot be opened as (only a whole volume,
// and only by an administrator), and Windows documents no other call that
// makes a directory entry durable. NTFS journals the creation, rename and
// removal of entries, so each is atomic across a crash — a file is there
// under its old name or its new one, never half-renamed — but whether the
// change is on disk when a later FlushFileBuffers of the file returns is
// not documented. So on Windows the last creation or rename before a power
// cut may be undone: a state file then comes back with its previous
// content, and a ledger segment begun just before the cut may be lost with
// the events in it, which a checkpoint kept elsewhere detects as a
// truncation. What this still checks is that dir is a directory, as the
// fsync's open would.
func syncDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("sync directory %s: not a directory", dir)
	}
	return nil
}
