package bundle

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// epoch is the modification time of every entry: 1970-01-01T00:00:00Z. A fixed
// time (rather than SOURCE_DATE_EPOCH) keeps a bundle's bytes independent of
// the environment that packed it.
var epoch = time.Unix(0, 0).UTC()

// Encode writes b in its canonical form: an uncompressed ustar archive, entries
// in bytewise name order, mode 0644, uid and gid 0, no owner names, mtime 0,
// and a PAX "path" record only for a name that ustar cannot hold. The same
// Bundle always encodes to the same bytes.
//
// progress, if not nil, is called with the payload bytes written so far and
// the total.
func (b *Bundle) Encode(w io.Writer, progress func(done, total int64)) error {
	tw := tar.NewWriter(w)
	total := b.Size()
	var done int64
	for _, n := range b.names {
		data := b.files[n]
		h := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     n,
			Mode:     0o644,
			Size:     int64(len(data)),
			ModTime:  epoch,
			// No Format: archive/tar then picks ustar, and PAX only for
			// a name ustar cannot hold. Both are deterministic.
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("write bundle entry %s: %w", n, err)
		}
		// Write in 1 MiB steps so that progress moves on a large payload.
		for off := 0; off < len(data); {
			end := min(off+1<<20, len(data))
			if _, err := tw.Write(data[off:end]); err != nil {
				return fmt.Errorf("write bundle entry %s: %w", n, err)
			}
			done += int64(end - off)
			off = end
			if progress != nil {
				progress(done, total)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finish bundle archive: %w", err)
	}
	return nil
}

// WriteFile writes b to path atomically: into a temporary file in the same
// directory, synced, then renamed over path. A reader of path sees the old
// bundle or the new one, never half of one.
func (b *Bundle) WriteFile(path string, progress func(done, total int64)) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := b.Encode(bw, progress); err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	ok = true
	return nil
}
