package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wardenproject/warden/manifest"
)

// BuildOptions tunes Build.
type BuildOptions struct {
	// Force rebuilds even when the entry is newer than every source file.
	Force bool
	// Output writes the module there instead of to the manifest's entry in
	// dir, leaving the source directory untouched (warden demo builds the
	// example from a checkout this way).
	Output string
}

// ErrNoGo is returned (wrapped) by Build when no Go toolchain is on PATH.
var ErrNoGo = errors.New("go toolchain not found")

// Build builds the entry of the Go plugin in dir with the stock toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o ENTRY .
//
// the same build pack --build makes, so the code run in development is the
// code shipped (and no path of the build machine is in the module).
//
// It builds only when dir has a go.mod and the entry is missing or older
// than a .go, go.mod or go.sum file in dir (vendored or replaced module
// directories inside dir included); built reports whether it ran the
// compiler. A directory without go.mod is taken as already built. The
// toolchain's output is in the error when the build fails.
func Build(ctx context.Context, dir string, opts BuildOptions) (built bool, err error) {
	// Every path below is absolute: the toolchain runs in dir, so a path
	// relative to this process's directory would be joined onto dir twice
	// (warden init's "warden run notes" once built into notes/notes/).
	shown := dir
	if dir, err = filepath.Abs(dir); err != nil {
		return false, fmt.Errorf("build plugin %s: %w", shown, err)
	}
	_, src, err := manifest.ReadFile(dir)
	if err != nil {
		return false, fmt.Errorf("build plugin %s: %w", dir, err)
	}
	m, err := manifest.Parse(src)
	if err != nil {
		return false, fmt.Errorf("build plugin %s: %w", dir, err)
	}
	entry := filepath.FromSlash(m.Entry)
	if m.Entry == "" || !filepath.IsLocal(entry) {
		return false, fmt.Errorf("build plugin %s: entry %q must be a relative path inside the plugin directory", dir, m.Entry)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return false, nil
	}
	out := filepath.Join(dir, entry)
	if opts.Output != "" {
		if out, err = filepath.Abs(opts.Output); err != nil {
			return false, fmt.Errorf("build plugin %s: %w", dir, err)
		}
	}
	if !opts.Force {
		fi, err := os.Stat(out)
		if err == nil {
			newer, err := sourcesNewer(dir, fi.ModTime())
			if err != nil {
				return false, fmt.Errorf("build plugin %s: %w", dir, err)
			}
			if !newer {
				return false, nil
			}
		}
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return false, fmt.Errorf("build plugin %s: %w: install Go 1.24 or later (https://go.dev/dl) or build the entry yourself with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o %s", dir, ErrNoGo, m.Entry)
	}
	// Build next to the entry and rename, so that a failed build never
	// leaves half a module where the host would load it.
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return false, fmt.Errorf("build plugin %s: %w", dir, err)
	}
	tmp := out + ".building"
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-buildmode=c-shared", "-o", tmp, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	msg, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("build plugin %s: GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared failed: %w\n%s", dir, err, strings.TrimSpace(string(msg)))
	}
	if err := os.Rename(tmp, out); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("build plugin %s: %w", dir, err)
	}
	return true, nil
}

// sourcesNewer reports whether a Go source or module file under dir was
// modified after t. Hidden directories and testdata are skipped.
func sourcesNewer(dir string, t time.Time) (bool, error) {
	newer := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != dir && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") && name != "go.mod" && name != "go.sum" {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.ModTime().After(t) {
			newer = true
			return filepath.SkipAll
		}
		return nil
	})
	return newer, err
}
