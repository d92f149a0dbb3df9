package fsprov

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"time"
)

// ErrTooLarge: a read or write is over the host's cap.
var ErrTooLarge = errors.New("over the size cap")

// HashPrefix marks a content hash in results and audit events.
const HashPrefix = "sha256:"

// HashOf returns "sha256:<hex>" of b.
func HashOf(b []byte) string {
	s := sha256.Sum256(b)
	return HashPrefix + hex.EncodeToString(s[:])
}

func hashString(h hash.Hash) string {
	return HashPrefix + hex.EncodeToString(h.Sum(nil))
}

// ReadResult is what Read returns.
type ReadResult struct {
	Data []byte
	Size int64 // the whole file's size
}

// Read reads up to length bytes (length < 0: to the end) of abs from offset.
// It refuses with ErrTooLarge when more than max bytes would be returned.
func Read(ctx context.Context, g Grant, abs string, offset, length, max int64) (ReadResult, error) {
	t, err := resolve(g, abs, true)
	if err != nil {
		return ReadResult{}, err
	}
	defer t.close()
	if t.info == nil {
		return ReadResult{}, &fs.PathError{Op: "read", Path: abs, Err: fs.ErrNotExist}
	}
	if t.info.IsDir() {
		return ReadResult{}, &fs.PathError{Op: "read", Path: abs, Err: errIsDir}
	}
	f, err := t.openChecked(os.O_RDONLY, 0)
	if err != nil {
		return ReadResult{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ReadResult{}, err
	}
	size := fi.Size()
	n := size - offset
	if n < 0 {
		n = 0
	}
	if length >= 0 && length < n {
		n = length
	}
	if n > max {
		return ReadResult{}, fmt.Errorf("read %s: %d bytes wanted, the cap is %d; read in pieces with offset and length: %w", abs, n, max, ErrTooLarge)
	}
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return ReadResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return ReadResult{}, err
	}
	return ReadResult{Data: buf[:got], Size: size}, nil
}

var errIsDir = errors.New("is a directory")

// ErrIsDir reports whether err says the target is a directory.
func ErrIsDir(err error) bool { return errors.Is(err, errIsDir) }

// PendingWrite is a write whose target is resolved and whose before-hash is
// known, but which has not touched the file yet: the gate makes its intent
// durable in between.
type PendingWrite struct {
	t          *target
	append     bool
	createOnly bool
	h          hash.Hash // state after the existing content
	before     string
	existed    bool
}

// PrepareWrite resolves abs and hashes its current content.
func PrepareWrite(ctx context.Context, g Grant, abs string, appendMode, createOnly bool) (*PendingWrite, error) {
	t, err := resolve(g, abs, true)
	if err != nil {
		return nil, err
	}
	w := &PendingWrite{t: t, append: appendMode, createOnly: createOnly, h: sha256.New()}
	if t.info != nil {
		if createOnly {
			t.close()
			return nil, &fs.PathError{Op: "create", Path: abs, Err: fs.ErrExist}
		}
		if t.info.IsDir() {
			t.close()
			return nil, &fs.PathError{Op: "write", Path: abs, Err: errIsDir}
		}
		f, err := t.openChecked(os.O_RDONLY, 0)
		if err != nil {
			t.close()
			return nil, err
		}
		_, err = io.Copy(w.h, ctxReader{ctx, f})
		f.Close()
		if err != nil {
			t.close()
			return nil, err
		}
		w.before = hashString(w.h)
		w.existed = true
	}
	return w, nil
}

// Real is the resolved host path that will be written.
func (w *PendingWrite) Real() string { return w.t.real }

// BeforeHash is the hash of the whole file before the write, "" for a new file.
func (w *PendingWrite) BeforeHash() string { return w.before }

// Abort releases a write that will not happen.
func (w *PendingWrite) Abort() { w.t.close() }

// WriteResult is what Commit returns.
type WriteResult struct {
	Bytes int64
	After string
}

// Commit writes data (replacing or appending) and returns the hash of the
// whole file after. The file is truncated only after it is known to be the
// checked file, never by O_TRUNC on a path that might have been swapped.
func (w *PendingWrite) Commit(data []byte) (WriteResult, error) {
	defer w.t.close()
	flag := os.O_WRONLY
	if w.append {
		flag |= os.O_APPEND
	}
	f, err := w.t.openChecked(flag, 0o644)
	if err != nil {
		return WriteResult{}, err
	}
	if !w.append && w.existed {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return WriteResult{}, err
		}
	}
	n, err := f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return WriteResult{Bytes: int64(n)}, err
	}
	h := w.h
	if !w.append {
		h = sha256.New()
	}
	h.Write(data)
	return WriteResult{Bytes: int64(n), After: hashString(h)}, nil
}

// Entry is one directory entry.
type Entry struct {
	Name string
	Type string // file, dir, symlink, other
	Size int64
}

// TypeOf names the type of a file mode as the host API does.
func TypeOf(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "other"
}

// List returns the entries of directory abs for which visible(entryPath)
// is true, sorted by name.
func List(ctx context.Context, g Grant, abs string, visible func(string) bool) ([]Entry, error) {
	t, err := resolve(g, abs, true)
	if err != nil {
		return nil, err
	}
	defer t.close()
	if t.info == nil {
		return nil, &fs.PathError{Op: "list", Path: abs, Err: fs.ErrNotExist}
	}
	f, err := t.openChecked(os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(des))
	for _, de := range des {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Visibility is judged on the name the guest asked with, so that a
		// listing through a symlinked directory shows what that name grants.
		if !visible(path.Join(abs, de.Name())) {
			continue
		}
		e := Entry{Name: de.Name(), Type: TypeOf(de.Type())}
		if fi, err := de.Info(); err == nil && fi.Mode().IsRegular() {
			e.Size = fi.Size()
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Info is the metadata Stat returns.
type Info struct {
	Name  string
	Type  string
	Size  int64
	Mode  fs.FileMode
	MTime time.Time
}

// Stat returns the metadata of abs, symlinks followed.
func Stat(g Grant, abs string) (Info, error) {
	t, err := resolve(g, abs, true)
	if err != nil {
		return Info{}, err
	}
	defer t.close()
	if t.info == nil {
		return Info{}, &fs.PathError{Op: "stat", Path: abs, Err: fs.ErrNotExist}
	}
	return Info{Name: path.Base(abs), Type: TypeOf(t.info.Mode()), Size: t.info.Size(), Mode: t.info.Mode().Perm(), MTime: t.info.ModTime()}, nil
}

// StatFile returns the metadata of a resolved target as fs.FileInfo.
func StatFile(g Grant, abs string) (fs.FileInfo, error) {
	t, err := resolve(g, abs, true)
	if err != nil {
		return nil, err
	}
	defer t.close()
	if t.info == nil {
		return nil, &fs.PathError{Op: "stat", Path: abs, Err: fs.ErrNotExist}
	}
	return t.info, nil
}

// Delete removes the file or empty directory abs. A symlink is removed
// itself, never what it points to. intent is called with the resolved path
// once it is checked and before anything is removed; an error from it aborts.
// The entry is then removed relative to a handle on the directory that was
// checked, and only if it is still the entry that was checked.
func Delete(g Grant, abs string, intent func(real string) error) error {
	t, err := resolve(g, abs, false)
	if err != nil {
		return err
	}
	defer t.close()
	if t.info == nil {
		return &fs.PathError{Op: "delete", Path: abs, Err: fs.ErrNotExist}
	}
	if t.rel == "." {
		return fmt.Errorf("delete %s: it is the granted directory itself: %w", abs, ErrOutside)
	}
	if !t.prot.mayMove(t.info) {
		return &ProtectedError{Path: abs, Holds: true}
	}
	if err := intent(t.real); err != nil {
		return err
	}
	d, name, err := t.openParent()
	if err != nil {
		return err
	}
	defer d.close()
	if err := d.sameEntry(name, t.info); err != nil {
		return err
	}
	return d.remove(name, t.info.IsDir())
}

// Mkdir creates directory abs (its parent must exist). intent is called as
// for Delete; the directory is made relative to a handle on the parent that
// was checked.
func Mkdir(g Grant, abs string, intent func(real string) error) error {
	t, err := resolve(g, abs, true)
	if err != nil {
		return err
	}
	defer t.close()
	if t.info != nil {
		return &fs.PathError{Op: "mkdir", Path: abs, Err: fs.ErrExist}
	}
	if err := intent(t.real); err != nil {
		return err
	}
	d, name, err := t.openParent()
	if err != nil {
		return err
	}
	defer d.close()
	return d.mkdir(name, 0o755)
}

// Rename moves from to to. Both are resolved in their own grant (the last
// component of each is not followed). intent is called with both resolved
// paths once both are checked and before anything moves. Then both parent
// directories are opened and checked by identity, the source entry must
// still be the one checked and the destination entry the one checked (or
// still absent), and one renameat2 between the two handles moves it, with
// RENAME_NOREPLACE when the destination was absent (docs/threat-model.md
// Neither side may be warden's state or a directory holding it (an
// overwritten destination included).
func Rename(gFrom Grant, from string, gTo Grant, to string, intent func(realFrom, realTo string) error) error {
	tf, err := resolve(gFrom, from, false)
	if err != nil {
		return err
	}
	defer tf.close()
	if tf.info == nil {
		return &fs.PathError{Op: "rename", Path: from, Err: fs.ErrNotExist}
	}
	tt, err := resolve(gTo, to, false)
	if err != nil {
		return err
	}
	defer tt.close()
	if tf.rel == "." || tt.rel == "." {
		return fmt.Errorf("rename %s to %s: a granted directory itself cannot be moved: %w", from, to, ErrOutside)
	}
	if !tf.prot.mayMove(tf.info) {
		return &ProtectedError{Path: from, Holds: true}
	}
	if tt.info != nil && !tt.prot.mayMove(tt.info) {
		return &ProtectedError{Path: to, Holds: true}
	}
	if err := intent(tf.real, tt.real); err != nil {
		return err
	}
	pf, nf, err := tf.openParent()
	if err != nil {
		return err
	}
	defer pf.close()
	pt, nt, err := tt.openParent()
	if err != nil {
		return err
	}
	defer pt.close()
	if err := pf.sameEntry(nf, tf.info); err != nil {
		return err
	}
	if tt.info != nil {
		if err := pt.sameEntry(nt, tt.info); err != nil {
			return err
		}
	}
	return rename(pf, nf, pt, nt, tt.info == nil)
}

// Writes reports whether an open flag can change the file.
func Writes(flag int) bool {
	return flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0
}

// Open opens abs with flag for the capability filesystem and returns the
// file, its resolved path and whether it is a directory. For a flag that
// writes, intent is called with the resolved path and the content before
// (Hash "" for a new file) before anything is changed; an error from intent
// aborts the open. A file opened to write is opened read-write underneath,
// so that its after-hash can be taken at close.
func Open(ctx context.Context, g Grant, abs string, flag int, perm fs.FileMode, intent func(real string, before Hash) error) (*os.File, string, error) {
	t, err := resolve(g, abs, true)
	if err != nil {
		return nil, "", err
	}
	defer t.close()
	if t.info == nil && flag&os.O_CREATE == 0 {
		return nil, "", &fs.PathError{Op: "open", Path: abs, Err: fs.ErrNotExist}
	}
	if t.info != nil && flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL {
		return nil, "", &fs.PathError{Op: "open", Path: abs, Err: fs.ErrExist}
	}
	writes := Writes(flag)
	if writes && t.info != nil && t.info.IsDir() {
		return nil, "", &fs.PathError{Op: "open", Path: abs, Err: errIsDir}
	}
	if t.info != nil {
		// Before the intent: a FIFO or device is refused, not announced.
		if err := checkOpenable(abs, t.info); err != nil {
			return nil, "", err
		}
	}
	if writes {
		var before Hash
		if t.info != nil && t.info.Mode().IsRegular() {
			f, err := t.openChecked(os.O_RDONLY, 0)
			if err != nil {
				return nil, "", err
			}
			before, err = HashFile(ctx, f, MaxHashBytes)
			f.Close()
			if err != nil {
				// The call's deadline passed: no intent, no open.
				return nil, "", err
			}
		}
		if err := intent(t.real, before); err != nil {
			return nil, "", err
		}
	}
	open := flag &^ (os.O_TRUNC | os.O_CREATE | os.O_EXCL | os.O_WRONLY | os.O_RDWR)
	if writes {
		open |= os.O_RDWR
	}
	f, err := t.openChecked(open, perm)
	if err != nil {
		return nil, "", err
	}
	if flag&os.O_TRUNC != 0 && t.info != nil {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, "", err
		}
	}
	return f, t.real, nil
}

// MaxHashBytes bounds the content hashed for one audit event (the before-hash
// of a file opened to write, the after-hash at its close). SHA-256 runs at
// about 1.4 GB/s on the machines warden is measured on, so this is a fraction
// of a second; a larger file, which a plugin can make in an instant by
// truncating a sparse file upwards, is recorded as not hashed, with its size,
// instead of holding the host for minutes.
const MaxHashBytes = 256 << 20

// Hash is the content hash of a file for an audit event, or why it was not
// taken.
type Hash struct {
	Sum     string // "sha256:<hex>"; "" when the file did not exist or was not hashed
	Skipped string // "" when hashed; else SkipTooLarge or SkipDeadline
	Size    int64  // the file's size when it was hashed or skipped
}

// Reasons a Hash was skipped.
const (
	SkipTooLarge = "too_large" // over MaxHashBytes
	SkipDeadline = "deadline"  // the call's context ended first
)

// HashFile hashes f's whole content, read with ReadAt so that the file offset
// is untouched. It never runs past ctx or past limit bytes: a file over limit is
// a Hash skipped as SkipTooLarge with a nil error, so that the event is
// recorded without the hash rather than awaiting it; when ctx ends first the
// Hash is skipped as SkipDeadline and the error is ctx's, since a caller that
// needs the hash before an effect (the intent of an open) must stop there,
// while one that only records it (a close) records the skip.
func HashFile(ctx context.Context, f *os.File, limit int64) (Hash, error) {
	size := int64(-1)
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	if size > limit {
		return Hash{Skipped: SkipTooLarge, Size: size}, nil
	}
	h := sha256.New()
	// One byte past the bound tells a file that grew while it was hashed.
	n, err := io.Copy(h, ctxReader{ctx, io.NewSectionReader(f, 0, limit+1)})
	switch {
	case ctx.Err() != nil:
		return Hash{Skipped: SkipDeadline, Size: max(size, n)}, ctx.Err()
	case err != nil:
		return Hash{}, err
	case n > limit:
		return Hash{Skipped: SkipTooLarge, Size: n}, nil
	}
	return Hash{Sum: hashString(h), Size: n}, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
