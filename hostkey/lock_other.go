//go:build !unix && !windows

package hostkey

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// withLock runs f while holding path, created exclusively. Without flock a
// crashed holder leaves the file behind; after 10 s of waiting the error
// says which file to remove.
func withLock(path string, f func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			lf.Close()
			defer os.Remove(path)
			return f()
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lock %s: held for more than 10 s; if no warden is running, remove the file", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
