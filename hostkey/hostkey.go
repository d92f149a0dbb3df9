// Package hostkey keeps the host's Ed25519 signing keys: the key that signs
// capability tokens and audit checkpoints.
//
// The keyring lives in one directory (normally <home>/keys, mode 0700):
//
//	index.json            key history: id, public key, created, retired
//	host-<hex>.key        the current private key, PKCS#8 PEM, mode 0600
//	cache.key             the compilation cache's MAC secret (CacheSecret), mode 0600
//	lock                  a lock (flock; LockFileEx on Windows) taken while the ring changes
//
// A key is generated on first use. Rotate makes a new current key and retires
// the old one: tokens and checkpoints are signed with the current key and
// verified with the current or the previous one, so rotation never breaks a
// token that is still alive. The retired private key is deleted; its public
// key stays in the index so that old audit checkpoints stay verifiable.
//
// Signing goes through the small Signer interface so an OS keychain or a
// hardware token can replace the file key without touching any caller. Key
// ids are keyid.Of(public key). Checkpoint signatures are plain Ed25519
// signatures, so a NoteSigner is a thin adapter that makes the same key a
// golang.org/x/mod/sumdb/note signer (C2SP signed-note, algorithm byte 0x01).
package hostkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/keyfile"
)

// Signer signs with one Ed25519 key. Sign returns a plain Ed25519 signature
// (RFC 8032, pure Ed25519) over msg.
type Signer interface {
	KeyID() string
	Public() ed25519.PublicKey
	Sign(msg []byte) ([]byte, error)
}

// NewSigner returns a Signer for an in-memory private key.
func NewSigner(priv ed25519.PrivateKey) Signer {
	pub := priv.Public().(ed25519.PublicKey)
	return &keySigner{id: keyid.Of(pub), pub: pub, priv: priv}
}

type keySigner struct {
	id   string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func (s *keySigner) KeyID() string                   { return s.id }
func (s *keySigner) Public() ed25519.PublicKey       { return s.pub }
func (s *keySigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

// KeyInfo describes one key of the ring.
type KeyInfo struct {
	ID      string            `json:"id"`
	Public  ed25519.PublicKey `json:"public"` // base64 in JSON
	Created time.Time         `json:"created"`
	Retired time.Time         `json:"retired,omitzero"`
	Current bool              `json:"current"`
}

// ErrCorrupt is returned when the key index or the key file do not agree.
var ErrCorrupt = errors.New("host keyring is inconsistent")

const (
	indexName   = "index.json"
	lockName    = "lock"
	formatV1    = 1
	maxIndexLen = 1 << 20
)

// index is the on-disk index.json. Keys are in creation order; the last one
// is current, all others are retired.
type index struct {
	Version int        `json:"version"`
	Keys    []indexKey `json:"keys"`
}

type indexKey struct {
	ID      string    `json:"id"`
	Public  []byte    `json:"public"`
	Created time.Time `json:"created"`
	Retired time.Time `json:"retired,omitzero"`
	File    string    `json:"file,omitempty"` // private key file, current key only
}

// Ring is the host keyring. It is safe for concurrent use.
type Ring struct {
	dir string

	mu       sync.RWMutex
	current  Signer
	keys     []indexKey // history, oldest first
	previous ed25519.PublicKey
	prevID   string
}

// Open opens the keyring in dir, creating dir (0700) and a first key if
// there is none. Two processes opening a fresh dir at once end up with the
// same key: creation happens under an exclusive file lock.
func Open(dir string) (*Ring, error) {
	if err := home.Ensure(dir); err != nil {
		return nil, fmt.Errorf("open host keyring: %w", err)
	}
	r := &Ring{dir: dir}
	err := withLock(filepath.Join(dir, lockName), func() error {
		idx, err := r.readIndex()
		if errors.Is(err, fs.ErrNotExist) {
			idx = &index{Version: formatV1}
			if err := r.addKey(idx, time.Now()); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		return r.load(idx)
	})
	if err != nil {
		return nil, fmt.Errorf("open host keyring %s: %w", dir, err)
	}
	return r, nil
}

// Dir returns the keyring directory.
func (r *Ring) Dir() string { return r.dir }

// Signer returns the current signing key.
func (r *Ring) Signer() Signer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current
}

// Lookup returns the public key with the given id if it is the current or
// the previous key. Older retired keys are not returned: a token signed with
// them has long expired, and refusing them bounds what a leaked old key can do.
func (r *Ring) Lookup(keyID string) (ed25519.PublicKey, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if keyID == r.current.KeyID() {
		return r.current.Public(), true
	}
	if r.prevID != "" && keyID == r.prevID {
		return r.previous, true
	}
	return nil, false
}

// Keys returns the whole key history, oldest first, public keys included (the
// audit verifier needs retired keys to check old checkpoints).
func (r *Ring) Keys() []KeyInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]KeyInfo, len(r.keys))
	for i, k := range r.keys {
		out[i] = KeyInfo{ID: k.ID, Public: ed25519.PublicKey(k.Public), Created: k.Created, Retired: k.Retired, Current: i == len(r.keys)-1}
	}
	return out
}

// Rotate makes a new current key, retires the current one (which stays
// valid for verification as the previous key) and deletes its private key
// file. It returns the new signer.
func (r *Ring) Rotate() (Signer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := withLock(filepath.Join(r.dir, lockName), func() error {
		// Another process may have rotated since we loaded: start from disk.
		idx, err := r.readIndex()
		if err != nil {
			return err
		}
		now := time.Now()
		old := idx.Keys[len(idx.Keys)-1]
		idx.Keys[len(idx.Keys)-1].Retired = now
		idx.Keys[len(idx.Keys)-1].File = ""
		if err := r.addKey(idx, now); err != nil {
			return err
		}
		if old.File != "" {
			// The index no longer names it; a failure here leaves an
			// unused file, never a broken ring.
			_ = os.Remove(filepath.Join(r.dir, old.File))
		}
		return r.loadLocked(idx)
	})
	if err != nil {
		return nil, fmt.Errorf("rotate host key in %s: %w", r.dir, err)
	}
	return r.current, nil
}

// addKey generates a key, writes its private key file and the index with it
// appended as the current key.
func (r *Ring) addKey(idx *index, now time.Time) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate host key: %w", err)
	}
	id := keyid.Of(pub)
	file := "host-" + id[len(keyid.Prefix):] + ".key"
	if err := keyfile.WritePrivate(filepath.Join(r.dir, file), priv, nil); err != nil {
		return err
	}
	idx.Keys = append(idx.Keys, indexKey{ID: id, Public: pub, Created: now.UTC().Truncate(time.Second), File: file})
	return r.writeIndex(idx)
}

func (r *Ring) readIndex() (*index, error) {
	data, err := os.ReadFile(filepath.Join(r.dir, indexName))
	if err != nil {
		return nil, err
	}
	if len(data) > maxIndexLen {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", indexName, maxIndexLen, ErrCorrupt)
	}
	var idx index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("read %s: %v: %w", indexName, err, ErrCorrupt)
	}
	if idx.Version != formatV1 {
		return nil, fmt.Errorf("read %s: version %d, this warden reads version %d; upgrade warden: %w", indexName, idx.Version, formatV1, ErrCorrupt)
	}
	if len(idx.Keys) == 0 {
		return nil, fmt.Errorf("read %s: no keys: %w", indexName, ErrCorrupt)
	}
	for i, k := range idx.Keys {
		if len(k.Public) != ed25519.PublicKeySize || keyid.Of(k.Public) != k.ID {
			return nil, fmt.Errorf("read %s: key %d: id %q does not match its public key: %w", indexName, i, k.ID, ErrCorrupt)
		}
		last := i == len(idx.Keys)-1
		if last != k.Retired.IsZero() {
			return nil, fmt.Errorf("read %s: key %s: only the last key may be current: %w", indexName, k.ID, ErrCorrupt)
		}
	}
	cur := idx.Keys[len(idx.Keys)-1]
	if cur.File == "" || filepath.Base(cur.File) != cur.File {
		return nil, fmt.Errorf("read %s: current key %s has no key file name: %w", indexName, cur.ID, ErrCorrupt)
	}
	return &idx, nil
}

// writeIndex replaces index.json atomically (temporary file, fsync, rename).
func (r *Ring) writeIndex(idx *index) error {
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	tmp, err := os.CreateTemp(r.dir, "."+indexName+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", indexName, err)
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(r.dir, indexName))
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", indexName, err)
	}
	if d, err := os.Open(r.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func (r *Ring) load(idx *index) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked(idx)
}

func (r *Ring) loadLocked(idx *index) error {
	cur := idx.Keys[len(idx.Keys)-1]
	priv, err := keyfile.ReadPrivate(filepath.Join(r.dir, cur.File), nil)
	if err != nil {
		return err
	}
	s := NewSigner(priv)
	if s.KeyID() != cur.ID {
		return fmt.Errorf("key file %s holds key %s, the index says %s: %w", cur.File, s.KeyID(), cur.ID, ErrCorrupt)
	}
	r.current = s
	r.keys = idx.Keys
	r.previous, r.prevID = nil, ""
	if n := len(idx.Keys); n >= 2 {
		r.previous = idx.Keys[n-2].Public
		r.prevID = idx.Keys[n-2].ID
	}
	return nil
}
