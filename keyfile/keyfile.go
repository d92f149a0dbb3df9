// Package keyfile reads and writes Ed25519 key files: the host key, publisher
// signing keys and the public halves that verifiers are given.
//
// Formats follow the standards every other tool already speaks:
//
//   - a private key is PKCS#8 (RFC 5208, RFC 8410 for Ed25519) in a PEM block
//     "PRIVATE KEY" — the form `openssl genpkey -algorithm ed25519` writes;
//   - a public key is SubjectPublicKeyInfo (RFC 5280, RFC 8410) in a PEM block
//     "PUBLIC KEY" — the form `openssl pkey -pubout` writes.
//
// Where it differs from a plain PEM writer, and why:
//
//   - A private key may be protected by a passphrase. Instead of the legacy
//     PEM "Proc-Type: ENCRYPTED" scheme (MD5 key derivation, deprecated) or
//     PKCS#8 EncryptedPrivateKeyInfo (PBES2, a parameter zoo), the PKCS#8 PEM
//     text is encrypted as a whole with age (https://age-encryption.org/v1)
//     to an scrypt passphrase recipient and stored ASCII-armored. The file then
//     starts "-----BEGIN AGE ENCRYPTED FILE-----" and `age -d FILE` recovers the
//     plain PEM with any age implementation.
//   - Files are written atomically (temporary file, fsync, hard link into
//     place) with mode 0600 and never replace an existing file: losing a
//     signing key to an accidental overwrite is worse than an error.
//   - A private key file that group or others may read or write is refused at
//     load, with the chmod command that fixes it, the way ssh refuses a loose
//     identity file.
//   - ParsePublic also accepts the two short forms people paste: the raw
//     32-byte key in standard base64, and a golang.org/x/mod/sumdb/note verifier
//     key "name+hash+base64(0x01||key)".
package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"filippo.io/age"
	"filippo.io/age/armor"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/internal/private"
)

// PEM block types.
const (
	PrivateBlock = "PRIVATE KEY"
	PublicBlock  = "PUBLIC KEY"
)

// maxFileSize bounds what ReadPrivate and ReadPublic read: a key file is a few
// hundred bytes, and a key path pointed at a huge file must not exhaust memory.
const maxFileSize = 64 << 10

// scryptWorkFactor is the age scrypt cost (log2 N) used when encrypting.
// 18 is age's own default (about a second and 256 MiB); tests lower it.
var scryptWorkFactor = 18

// Stable errors a caller may branch on with errors.Is.
var (
	// ErrEncrypted is returned when a private key is passphrase-protected and
	// no passphrase function was given.
	ErrEncrypted = errors.New("key file is encrypted with a passphrase")
	// ErrPassphrase is returned when the passphrase does not decrypt the key.
	ErrPassphrase = errors.New("wrong passphrase")
	// ErrFormat is returned for anything that is not a key in a known format.
	ErrFormat = errors.New("not an Ed25519 key in a known format")
	// ErrUnsafe (the same value as home.ErrUnsafe) is returned when a private
	// key file is readable or writable by other users, or not owned by you.
	ErrUnsafe = home.ErrUnsafe
)

// MarshalPrivate returns the file contents for priv: PKCS#8 PEM, or, if
// passphrase is not empty, that PEM encrypted with age to an scrypt recipient
// and armored.
func MarshalPrivate(priv ed25519.PrivateKey, passphrase []byte) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("marshal private key: %d bytes, want %d: %w", len(priv), ed25519.PrivateKeySize, ErrFormat)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	plain := pem.EncodeToMemory(&pem.Block{Type: PrivateBlock, Bytes: der})
	if len(passphrase) == 0 {
		return plain, nil
	}
	r, err := age.NewScryptRecipient(string(passphrase))
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	r.SetWorkFactor(scryptWorkFactor)
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	return buf.Bytes(), nil
}

// ParsePrivate parses the contents of a private key file. passphrase is
// called only when the key is encrypted; a nil passphrase then yields
// ErrEncrypted.
func ParsePrivate(data []byte, passphrase func() ([]byte, error)) (ed25519.PrivateKey, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte(armor.Header)) {
		if passphrase == nil {
			return nil, ErrEncrypted
		}
		pass, err := passphrase()
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		id, err := age.NewScryptIdentity(string(pass))
		if err != nil {
			return nil, fmt.Errorf("decrypt private key: %w", err)
		}
		r, err := age.Decrypt(armor.NewReader(bytes.NewReader(trimmed)), id)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) {
				return nil, fmt.Errorf("decrypt private key: %w", ErrPassphrase)
			}
			return nil, fmt.Errorf("decrypt private key: %v: %w", err, ErrFormat)
		}
		plain, err := io.ReadAll(io.LimitReader(r, maxFileSize))
		if err != nil {
			return nil, fmt.Errorf("decrypt private key: %v: %w", err, ErrFormat)
		}
		data = plain
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != PrivateBlock {
		return nil, fmt.Errorf("parse private key: no %q PEM block: %w", PrivateBlock, ErrFormat)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("parse private key: data after the PEM block: %w", ErrFormat)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("parse private key: PEM headers (legacy PEM encryption?) are not supported: %w", ErrFormat)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %v: %w", err, ErrFormat)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("parse private key: a %T, not Ed25519: %w", k, ErrFormat)
	}
	return priv, nil
}

// MarshalPublic returns pub as a "PUBLIC KEY" PEM block (SPKI).
func MarshalPublic(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("marshal public key: %d bytes, want %d: %w", len(pub), ed25519.PublicKeySize, ErrFormat)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PublicBlock, Bytes: der}), nil
}

// ParsePublic parses an Ed25519 public key given as a "PUBLIC KEY" PEM block
// (SPKI), as the standard base64 of the raw 32 bytes, or as a note verifier
// key "name+hash+base64(0x01||key)" whose hash is checked.
func ParsePublic(data []byte) (ed25519.PublicKey, error) {
	s := strings.TrimSpace(string(data))
	switch {
	case strings.HasPrefix(s, "-----BEGIN"):
		block, rest := pem.Decode([]byte(s))
		if block == nil || block.Type != PublicBlock {
			return nil, fmt.Errorf("parse public key: no %q PEM block: %w", PublicBlock, ErrFormat)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, fmt.Errorf("parse public key: data after the PEM block: %w", ErrFormat)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %v: %w", err, ErrFormat)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("parse public key: a %T, not Ed25519: %w", k, ErrFormat)
		}
		return pub, nil
	default:
		var noteErr error
		if isNoteVerifierKey(s) {
			pub, err := parseNoteVerifierKey(s)
			if err == nil {
				return pub, nil
			}
			noteErr = err // but raw base64 may look like a note key: try it too
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || len(raw) != ed25519.PublicKeySize || base64.StdEncoding.EncodeToString(raw) != s {
			if noteErr != nil {
				return nil, noteErr
			}
			return nil, fmt.Errorf("parse public key: neither PEM, a note verifier key, nor base64 of 32 bytes: %w", ErrFormat)
		}
		return ed25519.PublicKey(raw), nil
	}
}

// isNoteVerifierKey tells the note form from raw base64, which may itself
// contain '+': a verifier key has a name, an 8-digit hex hash, and a key.
func isNoteVerifierKey(s string) bool {
	name, rest, ok := strings.Cut(s, "+")
	if !ok || name == "" {
		return false
	}
	hash, _, ok := strings.Cut(rest, "+")
	if !ok || len(hash) != 8 {
		return false
	}
	for _, c := range hash {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func parseNoteVerifierKey(s string) (ed25519.PublicKey, error) {
	// note.NewVerifier checks the name, the algorithm byte and the key hash.
	if _, err := note.NewVerifier(s); err != nil {
		return nil, fmt.Errorf("parse note verifier key: %v: %w", err, ErrFormat)
	}
	_, rest, _ := strings.Cut(s, "+")     // name: no '+' in it
	_, key64, _ := strings.Cut(rest, "+") // hash; the key's base64 may hold '+'
	raw, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 1 {
		return nil, fmt.Errorf("parse note verifier key: not an Ed25519 key: %w", ErrFormat)
	}
	return ed25519.PublicKey(raw[1:]), nil
}

// WritePrivate writes priv to path (see MarshalPrivate) with mode 0600. It
// fails, wrapping fs.ErrExist, if path already exists.
func WritePrivate(path string, priv ed25519.PrivateKey, passphrase []byte) error {
	data, err := MarshalPrivate(priv, passphrase)
	if err != nil {
		return err
	}
	return writeNew(path, data, true)
}

// WritePublic writes pub to path as PEM, mode 0644. It fails, wrapping fs.ErrExist, if
// path already exists.
func WritePublic(path string, pub ed25519.PublicKey) error {
	data, err := MarshalPublic(pub)
	if err != nil {
		return err
	}
	// A public key is meant to be handed out: readable by anyone, as
	// ssh-keygen writes .pub files.
	return writeNew(path, data, false)
}

// ReadPrivate reads a private key file written by WritePrivate (or openssl).
// It refuses, with ErrUnsafe, a file that is a symbolic link, not owned by
// the current user, or readable or writable by group or others.
func ReadPrivate(path string, passphrase func() ([]byte, error)) (ed25519.PrivateKey, error) {
	f, err := private.Open(path)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("read private key %s: is a symbolic link; point at the file itself: %w", path, ErrUnsafe)
		}
		return nil, fmt.Errorf("read private key: %w", err)
	}
	defer f.Close()
	// Checked on the open descriptor, so the file cannot be swapped between
	// the check and the read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	if err := checkPrivateMode(path, f, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read private key %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("read private key %s: larger than %d bytes: %w", path, maxFileSize, ErrFormat)
	}
	priv, err := ParsePrivate(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return priv, nil
}

func checkPrivateMode(path string, f *os.File, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("read private key %s: not a regular file: %w", path, ErrUnsafe)
	}
	if err := private.CheckFile(f, fi); err != nil {
		return fmt.Errorf("read private key %s: %w: %w", path, err, ErrUnsafe)
	}
	return nil
}

// ReadPublic reads a public key file in any form ParsePublic accepts.
func ReadPublic(path string) (ed25519.PublicKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read public key %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("read public key %s: larger than %d bytes: %w", path, maxFileSize, ErrFormat)
	}
	pub, err := ParsePublic(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}
