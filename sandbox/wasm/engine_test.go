package wasm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/home"
)

// Attack: a compilation cache that another user can write would let them
// plant native code that runs in the host. The engine must refuse to start.
func TestEngineRefusesUnsafeCacheDir(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, parent string) string
	}{
		{"world-writable cache dir", func(t *testing.T, parent string) string {
			dir := filepath.Join(parent, "wasm")
			must(t, os.Mkdir(dir, 0o700))
			must(t, os.Chmod(dir, 0o777))
			return dir
		}},
		{"group-writable cache dir", func(t *testing.T, parent string) string {
			dir := filepath.Join(parent, "wasm")
			must(t, os.Mkdir(dir, 0o700))
			must(t, os.Chmod(dir, 0o770))
			return dir
		}},
		{"world-writable parent", func(t *testing.T, parent string) string {
			must(t, os.Chmod(parent, 0o777))
			return filepath.Join(parent, "wasm")
		}},
		{"cache dir is a symlink", func(t *testing.T, parent string) string {
			other := t.TempDir()
			dir := filepath.Join(parent, "wasm")
			must(t, os.Symlink(other, dir))
			return dir
		}},
		{"planted entry readable by others", func(t *testing.T, parent string) string {
			dir := filepath.Join(parent, "wasm")
			must(t, os.MkdirAll(filepath.Join(dir, "wazero-x"), 0o700))
			must(t, os.WriteFile(filepath.Join(dir, "wazero-x", "entry"), []byte("native code"), 0o666))
			must(t, os.Chmod(filepath.Join(dir, "wazero-x", "entry"), 0o666))
			return dir
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), "cache")
			must(t, os.Mkdir(parent, 0o700))
			dir := tc.setup(t, parent)
			e, err := NewEngine(ctx, cacheConfig(dir))
			if err == nil {
				e.Close(ctx)
				t.Fatal("NewEngine accepted an unsafe compilation cache")
			}
			if !errors.Is(err, home.ErrUnsafe) {
				t.Fatalf("error %v does not wrap home.ErrUnsafe", err)
			}
		})
	}
}

func TestEngineCreatesPrivateCacheDir(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cache", "wasm")
	must(t, os.MkdirAll(filepath.Dir(dir), 0o700))
	e, err := NewEngine(ctx, cacheConfig(dir))
	must(t, err)
	defer e.Close(ctx)
	fi, err := os.Stat(dir)
	must(t, err)
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir mode %v, want 0700", fi.Mode().Perm())
	}
	// The cache is used: compiling writes an entry, and a second engine
	// starts from it (the entry files pass the ownership check).
	if _, err := e.Compile(ctx, watGuest(t), ""); err != nil {
		t.Fatal(err)
	}
	e2, err := NewEngine(ctx, cacheConfig(dir))
	must(t, err)
	e2.Close(ctx)
}

func TestCompileChecksDigestAndABI(t *testing.T) {
	ctx := context.Background()
	e := testEngine(t)
	wasm := watGuest(t)
	if _, err := e.Compile(ctx, wasm, "sha256:"+strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "verified digest") {
		t.Fatalf("wrong digest accepted: %v", err)
	}
	m, err := e.Compile(ctx, wasm, "")
	must(t, err)
	if _, err := e.Compile(ctx, wasm, m.Digest()); err != nil {
		t.Fatalf("right digest refused: %v", err)
	}
	for _, tc := range []struct{ name, wat, want string }{
		{"foreign import", "abi_foreign_import", `imports env.steal`},
		{"unknown warden import", "abi_unknown_import", `warden does not provide`},
		{"wrong call signature", "abi_wrong_signature", `signature`},
		{"no warden_call", "abi_no_call", `does not export warden_call`},
		{"no memory", "abi_no_memory", `memory`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Compile(ctx, watModule(t, tc.wat), "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Attack: bytes that changed after the caller verified them are refused with
// a *DigestError, even though the compile (which runs beside the hash) would
// succeed, and a digest mismatch wins over an ABI error in the report.
func TestCompileRefusesChangedBytes(t *testing.T) {
	ctx := context.Background()
	e := testEngine(t)
	good := watGuest(t)
	want, err := e.Compile(ctx, good, "")
	must(t, err)
	defer want.Close(ctx)
	changed := bytes.Clone(good)
	changed = append(changed, 0, 6, 4, 'n', 'o', 't', 'e', 'x') // a custom section "note": still a valid module
	if _, err := e.Compile(ctx, changed, ""); err != nil {
		t.Fatalf("the changed module must be valid for this test: %v", err)
	}
	_, err = e.Compile(ctx, changed, want.Digest())
	var de *DigestError
	if !errors.As(err, &de) || !errors.Is(err, ErrDigestMismatch) || de.Want != want.Digest() || de.Got == want.Digest() {
		t.Fatalf("changed bytes: got %v, want a *DigestError naming both digests", err)
	}
	noABI := watModule(t, "no_abi")
	if _, err := e.Compile(ctx, noABI, want.Digest()); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("wrong bytes that also break the ABI: got %v, want the digest mismatch", err)
	}
	if _, err := e.Compile(ctx, good, strings.ToUpper(want.Digest()[len("sha256:"):])); err == nil {
		t.Fatal("a digest without its sha256: prefix was accepted")
	}
}
