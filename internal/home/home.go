// Package home resolves and guards warden's state directory (--home).
//
// Everything warden keeps between runs — the host key, the state database, the
// audit ledger, the compilation cache — lives below one directory so that a test,
// a CI job or a second profile can run fully isolated by pointing --home (or
// WARDEN_HOME) somewhere else. The directory holds secrets and native code, so it
// is created private (0700, or its Windows equivalent: see package private) and
// refused when someone other than its owner can write to it,
// and no grant may reach it: Protected (protect.go) tells whether a filesystem
// pattern reaches a home, cache or policy file in any spelling, and every place
// a grant is made or a manifest judged asks it.
package home

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wardenproject/warden/internal/private"
)

// EnvVar names the environment variable that overrides the default home.
const EnvVar = "WARDEN_HOME"

// Resolve returns the absolute home directory: flag if set, else $WARDEN_HOME,
// else "warden" under the OS user configuration directory. It does not create it.
func Resolve(flag string) (string, error) {
	dir := flag
	if dir == "" {
		dir = os.Getenv(EnvVar)
	}
	if dir == "" {
		cfg, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("resolve home: no --home, no $%s and no user config directory: %w", EnvVar, err)
		}
		dir = filepath.Join(cfg, "warden")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve home %q: %w", dir, err)
	}
	return abs, nil
}

// ErrUnsafe is returned (wrapped) when a directory warden must trust is writable
// by someone other than its owner, or not owned by the current user.
var ErrUnsafe = errors.New("unsafe permissions")

// Ensure creates dir (and parents) private to the current user if missing —
// mode 0700, or on Windows an access list of the user, SYSTEM and
// Administrators (package private) — and checks that an existing dir is a
// directory owned by the current user that no one else can change. Use it for
// every directory that holds keys, state or native code.
func Ensure(dir string) error {
	if err := private.MkdirAll(dir); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return CheckPrivate(dir)
}

// CheckPrivate reports ErrUnsafe when path is a symbolic link, is not owned by
// the current user, or lets others change it (a directory) or access it at all
// (a file); package private says what that means on each system.
func CheckPrivate(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("check %s: is a symbolic link: %w", path, ErrUnsafe)
	}
	if err := private.Check(path, fi); err != nil {
		return fmt.Errorf("check %s: %w: %w", path, err, ErrUnsafe)
	}
	return nil
}
