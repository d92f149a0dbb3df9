// Package home resolves and guards warden's state directory (--home).
//
// Everything warden keeps between runs — the host key, the state database, the
// audit ledger, the compilation cache — lives below one directory so that a test,
// a CI job or a second profile can run fully isolated by pointing --home (or
// WARDEN_HOME) somewhere else. The directory holds secrets and native code, so it
// is created 0700 and refused when someone other than its owner can write to it,
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
	"syscall"
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

// Ensure creates dir (and parents) with mode 0700 if missing and checks that an
// existing dir is a directory owned by the current user and not writable by group
// or others. Use it for every directory that holds keys, state or native code.
func Ensure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return CheckPrivate(dir)
}

// CheckPrivate reports ErrUnsafe when path is not owned by the current user or
// is writable by group or others (for directories) or readable by them (for files).
func CheckPrivate(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("check %s: is a symbolic link: %w", path, ErrUnsafe)
	}
	perm := fi.Mode().Perm()
	bad := perm & 0o022
	if !fi.IsDir() {
		bad = perm & 0o077
	}
	if bad != 0 {
		return fmt.Errorf("check %s: mode %#o lets other users in (run: chmod go-rwx %s): %w", path, perm, path, ErrUnsafe)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("check %s: owned by uid %d, not by you (uid %d): %w", path, st.Uid, os.Getuid(), ErrUnsafe)
	}
	return nil
}
