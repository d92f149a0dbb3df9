package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// Limits bound the work and memory one bundle can cause. The zero value of a
// field means its default.
type Limits struct {
	// MaxFileSize bounds the bundle file as read from disk or the network.
	MaxFileSize int64
	// MaxEntrySize bounds one entry's size.
	MaxEntrySize int64
	// MaxTotalSize bounds the uncompressed archive stream, headers included,
	// and so the sum of all entries.
	MaxTotalSize int64
	// MaxEntries bounds the number of entries.
	MaxEntries int
	// MaxRatio bounds uncompressed bytes per compressed byte for a gzip-wrapped
	// bundle, measured as the stream is read.
	MaxRatio int64
}

// Defaults: a Go wasip1 plugin is 2–20 MB; the caps leave room for assets and
// stop a bundle from filling memory. Gzip reaches about 4:1 on wasm and 10:1 on
// JSON; 100:1 only a bomb reaches.
const (
	DefaultMaxFileSize  = 256 << 20
	DefaultMaxEntrySize = 128 << 20
	DefaultMaxTotalSize = 256 << 20
	DefaultMaxEntries   = 4096
	DefaultMaxRatio     = 100
)

// DefaultLimits returns the limits Read uses for a zero Limits.
func DefaultLimits() Limits {
	return Limits{
		MaxFileSize:  DefaultMaxFileSize,
		MaxEntrySize: DefaultMaxEntrySize,
		MaxTotalSize: DefaultMaxTotalSize,
		MaxEntries:   DefaultMaxEntries,
		MaxRatio:     DefaultMaxRatio,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = d.MaxFileSize
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = d.MaxEntrySize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = d.MaxTotalSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	return l
}

// ReadFile reads the bundle at path with Read.
func ReadFile(path string, lim Limits) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	defer f.Close()
	b, err := Read(f, lim)
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: %w", path, err)
	}
	return b, nil
}

// Read reads a whole bundle into memory and checks every entry before returning
// anything: only regular files, safe unique names, sizes under lim. A plain tar
// and a gzip-compressed tar are both accepted; pack writes plain tar.
func Read(r io.Reader, lim Limits) (*Bundle, error) {
	lim = lim.withDefaults()
	raw, err := io.ReadAll(io.LimitReader(r, lim.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(len(raw)) > lim.MaxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes: %w", lim.MaxFileSize, ErrUnsafe)
	}
	var stream io.Reader = bytes.NewReader(raw)
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("gzip header: %v: %w", err, ErrMalformed)
		}
		zr.Multistream(false)
		// The ratio is checked against the whole compressed file, which is
		// already in memory: no bomb gets more than MaxRatio×len(raw) bytes out.
		ratioCap := lim.MaxRatio * int64(len(raw))
		stream = &capReader{r: zr, n: min(ratioCap, lim.MaxTotalSize), err: ratioErr(ratioCap, lim.MaxTotalSize, lim.MaxRatio)}
	} else {
		stream = &capReader{r: stream, n: lim.MaxTotalSize, err: fmt.Errorf("archive is larger than %d bytes: %w", lim.MaxTotalSize, ErrUnsafe)}
	}
	return readTar(stream, lim)
}

func ratioErr(ratioCap, totalCap, ratio int64) error {
	if ratioCap < totalCap {
		return fmt.Errorf("compression ratio over %d:1 (a compression bomb?): %w", ratio, ErrUnsafe)
	}
	return fmt.Errorf("uncompressed archive is larger than %d bytes: %w", totalCap, ErrUnsafe)
}

func readTar(stream io.Reader, lim Limits) (*Bundle, error) {
	tr := tar.NewReader(stream)
	var files []File
	folded := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, ErrUnsafe) {
				return nil, err
			}
			return nil, fmt.Errorf("not a tar archive: %v: %w", err, ErrMalformed)
		}
		if len(files) >= lim.MaxEntries {
			return nil, fmt.Errorf("more than %d entries: %w", lim.MaxEntries, ErrUnsafe)
		}
		if err := checkHeader(h, lim); err != nil {
			return nil, err
		}
		if err := checkCollision(folded, h.Name); err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(tr, h.Size+1))
		if err != nil {
			if errors.Is(err, ErrUnsafe) {
				return nil, err
			}
			return nil, fmt.Errorf("entry %q: %v: %w", h.Name, err, ErrMalformed)
		}
		if int64(len(data)) != h.Size {
			return nil, fmt.Errorf("entry %q: %d bytes, header says %d: %w", h.Name, len(data), h.Size, ErrMalformed)
		}
		files = append(files, File{Name: h.Name, Data: data})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("archive is empty: %w", ErrMalformed)
	}
	return New(files)
}

// checkHeader refuses every entry that is not a plain regular file with a safe
// name and a size under the cap.
func checkHeader(h *tar.Header, lim Limits) error {
	switch h.Typeflag {
	case tar.TypeReg:
	case tar.TypeSymlink:
		return fmt.Errorf("entry %q is a symbolic link to %q: %w", h.Name, h.Linkname, ErrUnsafe)
	case tar.TypeLink:
		return fmt.Errorf("entry %q is a hard link to %q: %w", h.Name, h.Linkname, ErrUnsafe)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return fmt.Errorf("entry %q is a device or pipe: %w", h.Name, ErrUnsafe)
	case tar.TypeDir:
		return fmt.Errorf("entry %q is a directory entry; bundles hold only files: %w", h.Name, ErrUnsafe)
	default:
		return fmt.Errorf("entry %q has tar type %q; bundles hold only regular files: %w", h.Name, h.Typeflag, ErrUnsafe)
	}
	if err := checkName(h.Name); err != nil {
		return err
	}
	if h.Size < 0 || h.Size > lim.MaxEntrySize {
		return fmt.Errorf("entry %q is %d bytes, over the %d-byte cap: %w", h.Name, h.Size, lim.MaxEntrySize, ErrUnsafe)
	}
	for k := range h.PAXRecords {
		if k != "path" && k != "size" {
			return fmt.Errorf("entry %q has PAX record %q; bundles use only path and size: %w", h.Name, k, ErrUnsafe)
		}
	}
	return nil
}

// capReader returns err once more than n bytes have been read.
type capReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n < 0 {
		return 0, c.err
	}
	if int64(len(p)) > c.n+1 {
		p = p[:c.n+1]
	}
	k, err := c.r.Read(p)
	c.n -= int64(k)
	if c.n < 0 {
		return 0, c.err
	}
	return k, err
}
