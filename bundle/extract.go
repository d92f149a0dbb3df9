package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/wardenproject/warden/manifest"
)

// ErrExists: Extract's destination already exists.
var ErrExists = errors.New("destination already exists")

// Extract writes every file of b below dest, which must not exist yet. The files
// go into a fresh private temporary directory next to dest, opened through
// os.Root so that nothing can be written outside it, and the directory is
// renamed to dest only when every file is written and synced: dest holds the
// whole bundle or does not exist.
//
// Directories are 0700 and files 0600, except the entry of a process plugin,
// which is 0700: modes in the archive are ignored because they are not signed.
func Extract(b *Bundle, dest string) error {
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("extract bundle to %s: %w", dest, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("extract bundle to %s: %w", dest, err)
	}
	parent := filepath.Dir(dest)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	defer root.Close()
	m := b.Manifest()
	for _, name := range b.names {
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
		}
		mode := os.FileMode(0o600)
		if name == m.Entry && m.Runtime == manifest.RuntimeProcess {
			mode = 0o700
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return fmt.Errorf("extract %s: %w", name, err)
		}
		_, werr := f.Write(b.files[name])
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("extract %s: %w", name, werr)
		}
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("extract bundle to %s: %w", dest, err)
	}
	ok = true
	return nil
}
