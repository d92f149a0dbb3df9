package hostkey

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/wardenproject/warden/internal/atomicfile"
	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/internal/private"
)

// CacheSecretFile is the file, in the keyring directory, that holds the
// compilation cache's secret.
const CacheSecretFile = "cache.key"

// CacheSecretLen is the length of the compilation cache's secret in bytes.
const CacheSecretLen = 32

// CacheSecret returns the secret that authenticates the entries of the
// home's compilation cache (sandbox/wasm seals each with HMAC-SHA256 under
// it), creating it the first time: 32 random bytes, hex, mode 0600. Creation
// happens under the keyring's lock, so processes starting together agree.
//
// It is a secret of its own rather than one derived from the host key: the
// host key rotates (every cache entry would then fail its MAC and look
// tampered with), may be passphrase-protected or live where its private
// bytes cannot be read (the Signer interface), and a key with one use needs
// no domain separation from signatures. Deleting the file rotates it; every
// entry is then refused once (and reported) and compiled again.
func CacheSecret(dir string) ([]byte, error) {
	if err := home.Ensure(dir); err != nil {
		return nil, fmt.Errorf("compilation cache secret: %w", err)
	}
	path := filepath.Join(dir, CacheSecretFile)
	if s, err := readCacheSecret(path); !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	var s []byte
	err := withLock(filepath.Join(dir, lockName), func() error {
		var err error
		if s, err = readCacheSecret(path); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		s = make([]byte, CacheSecretLen)
		if _, err := rand.Read(s); err != nil {
			return err
		}
		return atomicfile.Write(path, []byte(hex.EncodeToString(s)+"\n"), 0o600)
	})
	if err != nil {
		return nil, fmt.Errorf("compilation cache secret %s: %w", path, err)
	}
	return s, nil
}

// readCacheSecret reads the secret, refusing a symbolic link, a file others
// may read or write, one owned by another user, and anything that is not 64
// hex digits. A missing file is fs.ErrNotExist, unwrapped by context.
func readCacheSecret(path string) ([]byte, error) {
	f, err := private.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("read %s: is a symbolic link: %w", path, home.ErrUnsafe)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file: %w", path, home.ErrUnsafe)
	}
	if err := private.CheckFile(f, fi); err != nil {
		return nil, fmt.Errorf("read %s: %w: %w", path, err, home.ErrUnsafe)
	}
	data, err := io.ReadAll(io.LimitReader(f, 2*CacheSecretLen+2))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	s, err := hex.DecodeString(strings.TrimSuffix(string(data), "\n"))
	if err != nil || len(s) != CacheSecretLen {
		return nil, fmt.Errorf("read %s: not %d bytes in hex: %w (delete it to make a new one; cached code is then compiled again)", path, CacheSecretLen, ErrCorrupt)
	}
	return s, nil
}
