package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wardenproject/warden/manifest"
)

// Names of the files every bundle holds besides its payload. A payload file may
// not take one of these names.
const (
	ManifestFile   = manifest.FileName // "manifest.json"
	SBOMFile       = "sbom.cdx.json"
	ProvenanceFile = "provenance.intoto.json"
	SignatureFile  = "signature.dsse.json"
)

// Extension is the conventional file name extension of a bundle.
const Extension = ".wdnb"

// reserved reports whether name is one of the bundle's own documents.
func reserved(name string) bool {
	switch name {
	case ManifestFile, SBOMFile, ProvenanceFile, SignatureFile:
		return true
	}
	return false
}

// Errors a caller may branch on with errors.Is. Every error from Read wraps
// ErrUnsafe or ErrMalformed.
var (
	// ErrUnsafe: the archive holds something warden refuses to extract (a link,
	// a device, an absolute or climbing name, a duplicate, an entry over a cap).
	ErrUnsafe = errors.New("unsafe bundle")
	// ErrMalformed: the file is not a well-formed bundle (not a tar, no
	// manifest, a manifest that does not parse).
	ErrMalformed = errors.New("malformed bundle")
	// ErrNotBuilt: Pack found Go source but no built entry file.
	ErrNotBuilt = errors.New("plugin entry not built")
	// ErrPublisherMismatch: Sign was given a key other than the one the manifest
	// names in publisher.key_id.
	ErrPublisherMismatch = errors.New("signing key is not the manifest's publisher key")
)

// Bundle is the verified-in-memory content of one bundle: file names and bytes.
// It is immutable; Sign returns a new Bundle.
type Bundle struct {
	files    map[string][]byte
	names    []string // sorted bytewise
	manifest *manifest.Manifest
}

// File is one named file of a bundle.
type File struct {
	Name string
	Data []byte
}

// New makes a Bundle of files after the same name checks Read applies. It
// needs a manifest.json that parses.
func New(files []File) (*Bundle, error) {
	b := &Bundle{files: make(map[string][]byte, len(files))}
	folded := make(map[string]string, len(files))
	for _, f := range files {
		if err := checkName(f.Name); err != nil {
			return nil, err
		}
		if err := checkCollision(folded, f.Name); err != nil {
			return nil, err
		}
		b.files[f.Name] = f.Data
		b.names = append(b.names, f.Name)
	}
	slices.Sort(b.names)
	if err := checkDirFileClash(b.names); err != nil {
		return nil, err
	}
	src, ok := b.files[ManifestFile]
	if !ok {
		return nil, fmt.Errorf("bundle has no %s: %w", ManifestFile, ErrMalformed)
	}
	m, err := manifest.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("bundle %s does not parse: %w: %w", ManifestFile, err, ErrMalformed)
	}
	b.manifest = m
	return b, nil
}

// Names returns the bundle's file names in bytewise order.
func (b *Bundle) Names() []string { return slices.Clone(b.names) }

// File returns the bytes of the named file. The caller must not modify them.
func (b *Bundle) File(name string) ([]byte, bool) {
	d, ok := b.files[name]
	return d, ok
}

// Manifest returns the parsed manifest. The caller must not modify it.
func (b *Bundle) Manifest() *manifest.Manifest { return b.manifest }

// Signed reports whether the bundle carries a signature envelope.
func (b *Bundle) Signed() bool { _, ok := b.files[SignatureFile]; return ok }

// Size returns the total size of the bundle's files in bytes.
func (b *Bundle) Size() int64 {
	var n int64
	for _, d := range b.files {
		n += int64(len(d))
	}
	return n
}

// with returns a copy of b with name set to data.
func (b *Bundle) with(name string, data []byte) *Bundle {
	c := &Bundle{files: make(map[string][]byte, len(b.files)+1), manifest: b.manifest}
	for k, v := range b.files {
		c.files[k] = v
	}
	if _, ok := c.files[name]; !ok {
		c.names = append(slices.Clone(b.names), name)
		slices.Sort(c.names)
	} else {
		c.names = slices.Clone(b.names)
	}
	c.files[name] = data
	return c
}

// Unsigned returns b without its signature envelope.
func (b *Bundle) Unsigned() *Bundle {
	c := &Bundle{files: make(map[string][]byte, len(b.files)), manifest: b.manifest}
	for _, n := range b.names {
		if n != SignatureFile {
			c.files[n] = b.files[n]
			c.names = append(c.names, n)
		}
	}
	return c
}

// Digest returns the bundle digest, "sha256:" and 64 hex digits: SHA-256 over
// the lines "<hex sha256 of file>  <name>\n" of every file but the signature
// envelope, in bytewise name order (exactly what `sha256sum` prints for the
// sorted extracted files). It names the signed content, so it is the same for
// the signed and the unsigned bundle and for any re-encoding of the archive;
// revocation lists and the compile cache key on it.
func (b *Bundle) Digest() string {
	return "sha256:" + listingHash(b.subjects())
}

// subjects returns every file but the signature with its SHA-256, sorted.
func (b *Bundle) subjects() []subject {
	out := make([]subject, 0, len(b.names))
	for _, n := range b.names {
		if n == SignatureFile {
			continue
		}
		sum := sha256.Sum256(b.files[n])
		out = append(out, subject{Name: n, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}})
	}
	return out
}

// listingHash hashes "<hex>  <name>\n" lines in the order given.
func listingHash(subs []subject) string {
	h := sha256.New()
	for _, s := range subs {
		h.Write([]byte(s.Digest["sha256"]))
		h.Write([]byte("  "))
		h.Write([]byte(s.Name))
		h.Write([]byte("\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// subject is an in-toto ResourceDescriptor with a name and a digest set.
type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// maxNameLen bounds an entry name; path components are bounded by maxElemLen,
// which every common file system accepts.
const (
	maxNameLen = 1024
	maxElemLen = 255
)

// checkName refuses any name that is not a plain relative slash-separated path
// staying inside the extraction directory on every OS warden runs on.
func checkName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("entry %q: %s: %w", name, why, ErrUnsafe)
	}
	switch {
	case name == "":
		return bad("empty name")
	case len(name) > maxNameLen:
		return bad(fmt.Sprintf("name longer than %d bytes", maxNameLen))
	case strings.HasPrefix(name, "/"):
		return bad("absolute path")
	case strings.ContainsRune(name, '\\'):
		return bad("backslash in name (a path separator on Windows)")
	case strings.ContainsRune(name, ':'):
		return bad("colon in name (a drive letter or stream on Windows)")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return bad("control character or invalid UTF-8 in name")
		}
	}
	for _, el := range strings.Split(name, "/") {
		switch {
		case el == "..":
			return bad("'..' climbs out of the bundle")
		case el == "" || el == ".":
			return bad("empty or '.' path element (not a clean path)")
		case len(el) > maxElemLen:
			return bad(fmt.Sprintf("path element longer than %d bytes", maxElemLen))
		}
	}
	return nil
}

// checkCollision refuses a name that equals an earlier one when case is folded:
// the two would be one file on a case-insensitive file system, and which one
// survives extraction would be up to the file system, not the signature.
func checkCollision(folded map[string]string, name string) error {
	k := strings.ToLower(name)
	if prev, ok := folded[k]; ok {
		if prev == name {
			return fmt.Errorf("entry %q appears twice: %w", name, ErrUnsafe)
		}
		return fmt.Errorf("entries %q and %q differ only in case: %w", prev, name, ErrUnsafe)
	}
	folded[k] = name
	return nil
}

// checkDirFileClash refuses "a" next to "a/b": one name would have to be both a
// file and a directory. names must be sorted.
func checkDirFileClash(names []string) error {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[strings.ToLower(n)] = true
	}
	for _, n := range names {
		for i := 0; i < len(n); i++ {
			if n[i] == '/' && set[strings.ToLower(n[:i])] {
				return fmt.Errorf("entry %q is both a file and the directory of %q: %w", n[:i], n, ErrUnsafe)
			}
		}
	}
	return nil
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
