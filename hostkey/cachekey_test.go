package hostkey

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wardenproject/warden/internal/home"
)

func TestCacheSecretCreatedOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := CacheSecret(dir)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		}()
	}
	wg.Wait()
	for _, s := range got {
		if len(s) != CacheSecretLen || !bytes.Equal(s, got[0]) {
			t.Fatalf("concurrent first reads disagree or are short: %x vs %x", s, got[0])
		}
	}
	fi, err := os.Stat(filepath.Join(dir, CacheSecretFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, %v; want mode 0600", fi, err)
	}
	again, err := CacheSecret(dir)
	if err != nil || !bytes.Equal(again, got[0]) {
		t.Fatalf("second read: %x, %v", again, err)
	}
}

func TestCacheSecretRefusesUnsafeFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string)
		want  error
	}{
		{"readable by others", func(t *testing.T, path string) {
			mustT(t, os.WriteFile(path, bytes.Repeat([]byte("ab"), CacheSecretLen), 0o600))
			mustT(t, os.Chmod(path, 0o644))
		}, home.ErrUnsafe},
		{"a symbolic link", func(t *testing.T, path string) {
			other := filepath.Join(t.TempDir(), "s")
			mustT(t, os.WriteFile(other, bytes.Repeat([]byte("ab"), CacheSecretLen), 0o600))
			mustT(t, os.Symlink(other, path))
		}, home.ErrUnsafe},
		{"not hex", func(t *testing.T, path string) {
			mustT(t, os.WriteFile(path, []byte("not a secret\n"), 0o600))
		}, ErrCorrupt},
		{"too short", func(t *testing.T, path string) {
			mustT(t, os.WriteFile(path, []byte("abcd\n"), 0o600))
		}, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			mustT(t, os.Mkdir(dir, 0o700))
			tc.setup(t, filepath.Join(dir, CacheSecretFile))
			if _, err := CacheSecret(dir); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
