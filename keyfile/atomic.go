package keyfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wardenproject/warden/internal/private"
)

// writeNew writes data to path — private to the user when secret (mode
// 0600, or its Windows access list: private.Restrict), else readable by
// anyone (0644, a public key) — atomically and exclusively: the
// bytes go to a temporary file in the same directory, are synced, and are then
// hard-linked to path, which fails if path exists. A reader therefore sees
// either no file or the whole file, and two writers racing for the same path
// cannot both win — which is what hostkey relies on when two processes
// generate the first host key at once.
func writeNew(path string, data []byte, secret bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	perm := func() error { return tmp.Chmod(0o644) }
	if secret {
		perm = func() error { return private.Restrict(tmp) }
	}
	if err := perm(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("write %s: the file already exists; move it away or choose another name: %w", path, fs.ErrExist)
		}
		// Some file systems have no hard links; O_EXCL still keeps the
		// no-overwrite promise, at the cost of a window where the file is
		// partly written.
		f, err2 := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err2 != nil {
			return fmt.Errorf("write %s: %w", path, err2)
		}
		if err2 = private.Restrict(f); err2 == nil {
			_, err2 = f.Write(data)
		}
		if err2 == nil {
			err2 = f.Sync()
		}
		if cerr := f.Close(); err2 == nil {
			err2 = cerr
		}
		if err2 != nil {
			os.Remove(path)
			return fmt.Errorf("write %s: %w", path, err2)
		}
	}
	syncDir(dir)
	return nil
}

// syncDir makes a new directory entry durable. Best effort: not every
// platform can fsync a directory, and the data itself is already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
