package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wardenproject/warden/manifest"
)

// PackOptions adjust Pack. The zero value packs the manifest's entry alone.
type PackOptions struct {
	// Include lists extra payload files, slash-separated and relative to the
	// plugin directory.
	Include []string
	// Build runs `GOOS=wasip1 GOARCH=wasm go build -trimpath
	// -buildmode=c-shared -o ENTRY .` in the plugin directory first, for a Go
	// wasm plugin, always, replacing any entry already there. Without it a
	// missing entry is ErrNotBuilt.
	Build bool
	// GoCommand is the go binary Build runs; "" means "go" from PATH.
	GoCommand string
	// ToolVersion is warden's version, recorded in the SBOM and provenance.
	ToolVersion string
	// Timestamp, when not zero, is recorded as the SBOM's and provenance's
	// time (set it from SOURCE_DATE_EPOCH). Zero records no time at all.
	Timestamp time.Time
	// Limits bound the payload as Read would; zero fields mean the defaults.
	Limits Limits
}

// Pack builds an unsigned bundle from the plugin directory dir: its
// manifest.json, the entry file and opts.Include, an SBOM and provenance.
// Files are read through os.Root and must be regular files: a symbolic link in
// the plugin directory is refused, not followed.
func Pack(ctx context.Context, dir string, o PackOptions) (*Bundle, error) {
	lim := o.Limits.withDefaults()
	mpath, src, err := manifest.ReadFile(dir)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	m, err := manifest.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", mpath, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	defer root.Close()

	// With Build, a Go plugin is always built, whatever entry is there: an
	// entry left from an earlier build (or a non-trimpath dev build) would
	// ship code that is not the source being signed.
	command := ""
	if _, gerr := root.Lstat("go.mod"); gerr == nil && m.Runtime == manifest.RuntimeWasm {
		_, err := root.Lstat(m.Entry)
		switch {
		case o.Build:
			if command, err = goBuild(ctx, dir, m.Entry, o.GoCommand); err != nil {
				return nil, fmt.Errorf("pack %s: %w", dir, err)
			}
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("pack %s: entry %q does not exist but the directory is Go source: %w", dir, m.Entry, ErrNotBuilt)
		}
	}
	if err := m.Validate(dir, manifest.ValidateOptions{}); err != nil {
		return nil, fmt.Errorf("pack %s: %w", mpath, err)
	}

	names := append([]string{m.Entry}, o.Include...)
	var payload []File
	seen := map[string]bool{}
	var total int64
	for _, n := range names {
		n = path.Clean(filepath.ToSlash(n))
		if seen[n] {
			continue
		}
		seen[n] = true
		if err := checkName(n); err != nil {
			return nil, fmt.Errorf("pack %s: payload file: %w", dir, err)
		}
		if reserved(n) {
			return nil, fmt.Errorf("pack %s: payload file %q has the name of a bundle document; rename it", dir, n)
		}
		data, err := readRegular(root, n, lim.MaxEntrySize)
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", dir, err)
		}
		total += int64(len(data))
		if total > lim.MaxTotalSize {
			return nil, fmt.Errorf("pack %s: payload is larger than %d bytes", dir, lim.MaxTotalSize)
		}
		payload = append(payload, File{Name: n, Data: data})
	}
	slices.SortFunc(payload, func(a, b File) int { return strings.Compare(a.Name, b.Name) })

	entryData := payload[slices.IndexFunc(payload, func(f File) bool { return f.Name == path.Clean(m.Entry) })].Data
	build := readGoBuildInfo(entryData)
	srcDigest := ""
	if build != nil {
		if srcDigest, err = goSourceDigest(root); err != nil {
			return nil, fmt.Errorf("pack %s: %w", dir, err)
		}
	}
	sbom, err := makeSBOM(sbomInput{m: m, payload: payload, build: build, tool: o.ToolVersion, timestamp: o.Timestamp})
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	prov, err := makeProvenance(provenanceInput{
		payload: payload, entry: path.Clean(m.Entry), build: build, command: command,
		sourceDigest: srcDigest, tool: o.ToolVersion, timestamp: o.Timestamp,
	})
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	files := append(payload, File{Name: ManifestFile, Data: src}, File{Name: SBOMFile, Data: sbom}, File{Name: ProvenanceFile, Data: prov})
	return New(files)
}

// readRegular reads name below root, refusing anything but a regular file.
func readRegular(root *os.Root, name string, max int64) ([]byte, error) {
	fi, err := root.Lstat(name)
	if err != nil {
		return nil, fmt.Errorf("payload file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("payload file %s is not a regular file (%s); bundles hold no links or devices", name, fi.Mode().Type())
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("payload file %s is %d bytes, over the %d-byte cap", name, fi.Size(), max)
	}
	data, err := root.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("payload file: %w", err)
	}
	return data, nil
}

// goBuild builds a Go wasip1 reactor into entry and returns the command line.
func goBuild(ctx context.Context, dir, entry, goCmd string) (string, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	args := []string{"build", "-trimpath", "-buildmode=c-shared", "-o", entry, "."}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	line := "GOOS=wasip1 GOARCH=wasm go " + strings.Join(args, " ")
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build entry with %q: %v\n%s", line, err, strings.TrimSpace(stderr.String()))
	}
	return line, nil
}

// goSourceDigest is the listing hash (as Bundle.Digest) of go.mod, go.sum and
// every .go file below root, skipping directories whose name starts with "."
// or "_" and testdata, as the go command does.
func goSourceDigest(root *os.Root) (string, error) {
	var subs []subject
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "testdata") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if p == "go.mod" || p == "go.sum" || strings.HasSuffix(p, ".go") {
			data, err := root.ReadFile(p)
			if err != nil {
				return err
			}
			subs = append(subs, subjectOf(File{Name: p, Data: data}))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash Go sources: %w", err)
	}
	if len(subs) == 0 {
		return "", nil
	}
	slices.SortFunc(subs, func(a, b subject) int { return strings.Compare(a.Name, b.Name) })
	return listingHash(subs), nil
}
