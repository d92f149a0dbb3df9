package trust

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wardenproject/warden/bundle"
	"github.com/wardenproject/warden/internal/atomicfile"
	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/keyfile"
)

// Errors a caller may branch on with errors.Is.
var (
	// ErrNotFound: no key with that id in the local registry.
	ErrNotFound = errors.New("key not in the trust registry")
	// ErrRollback: a signed document's version is below the highest seen.
	ErrRollback = errors.New("rollback to an older version refused")
	// ErrBadSignature: a signed document is not signed by the enterprise root.
	ErrBadSignature = errors.New("not signed by the enterprise root key")
	// ErrNoRoot: an enterprise document was given but no root key is set.
	ErrNoRoot = errors.New("no enterprise root key configured")
	// ErrFormat: a document does not follow docs/trust.md.
	ErrFormat = errors.New("malformed trust document")
	// ErrMissing: a stored enterprise document is gone although a version of
	// it was accepted (state.json records a floor above 0).
	ErrMissing = errors.New("stored trust document missing")
)

// Key sources.
const (
	SourceLocal      = "local"      // added with warden trust add
	SourceEnterprise = "enterprise" // from the signed enterprise registry
)

// Key is a trusted publisher key.
type Key struct {
	ID        string            `json:"key_id"`
	Publisher string            `json:"publisher"`
	Public    ed25519.PublicKey `json:"-"`
	Added     time.Time         `json:"added,omitzero"`
	Expires   time.Time         `json:"expires,omitzero"` // zero: never
	Source    string            `json:"source"`
}

// keyJSON is Key on disk and in signed registries: the public key as the
// standard base64 of its 32 raw bytes.
type keyJSON struct {
	ID        string    `json:"key_id"`
	Publisher string    `json:"publisher"`
	PublicKey string    `json:"public_key"`
	Added     time.Time `json:"added,omitzero"`
	Expires   time.Time `json:"expires,omitzero"`
}

func (k keyJSON) key(source string) (Key, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(k.PublicKey)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return Key{}, fmt.Errorf("key %s: public_key is not base64 of a 32-byte Ed25519 key: %w", k.ID, ErrFormat)
	}
	pub := ed25519.PublicKey(raw)
	if keyid.Of(pub) != k.ID {
		return Key{}, fmt.Errorf("key %s: key_id is not the id of public_key (%s): %w", k.ID, keyid.Of(pub), ErrFormat)
	}
	if strings.TrimSpace(k.Publisher) == "" {
		return Key{}, fmt.Errorf("key %s: empty publisher: %w", k.ID, ErrFormat)
	}
	return Key{ID: k.ID, Publisher: k.Publisher, Public: pub, Added: k.Added, Expires: k.Expires, Source: source}, nil
}

func toJSON(k Key) keyJSON {
	return keyJSON{ID: k.ID, Publisher: k.Publisher, PublicKey: base64.StdEncoding.EncodeToString(k.Public), Added: k.Added, Expires: k.Expires}
}

// File names under <home>/trust.
const (
	dirName         = "trust"
	keysFile        = "keys.json"
	rootFile        = "root.pub"
	registryFile    = "registry.dsse.json"
	revocationsFile = "revocations.dsse.json"
	stateFile       = "state.json"
)

// Registry is the trust state of one warden home, loaded by Open. It is a
// snapshot: methods that change it write through to disk and update the
// snapshot, but another process's changes appear only on the next Open.
// It is not safe for concurrent mutation.
type Registry struct {
	dir        string
	local      []Key
	enterprise []Key
	root       ed25519.PublicKey
	state      versions
	revoked    *RevocationList
	now        func() time.Time
}

// versions is state.json: the version floors, and the digest of the document
// accepted at each floor, so that the stored document can be held to exactly
// what was accepted (an older state.json has no digests; they are filled in
// at the next Open or load).
type versions struct {
	Registry          uint64 `json:"registry_version"`
	Revocations       uint64 `json:"revocations_version"`
	RegistryDigest    string `json:"registry_sha256,omitempty"`
	RevocationsDigest string `json:"revocations_sha256,omitempty"`
}

// OpenOption changes how Open treats the stored state.
type OpenOption func(*openConfig)

type openConfig struct{ reload bool }

// ForReload lets Open succeed when a stored enterprise document fails its
// version floor (rolled back or deleted, ErrRollback or ErrMissing): that
// document is simply not in force, and the floors stay, so the caller can
// load a current one with LoadRegistry or LoadRevocations. Every other
// command must open without it, so that a rolled-back list stops warden.
func ForReload() OpenOption { return func(c *openConfig) { c.reload = true } }

// Open loads the trust state under homeDir, re-verifying the stored enterprise
// documents against the root key and against the version floors in
// state.json: a stored document that no longer verifies, is older than its
// floor (or differs from the document accepted at the floor), or is missing
// while a floor is recorded fails Open rather than being ignored — otherwise
// replacing or deleting revocations.dsse.json would un-revoke keys at the next
// start. See ForReload for the way out.
func Open(homeDir string, opts ...OpenOption) (*Registry, error) {
	var oc openConfig
	for _, o := range opts {
		o(&oc)
	}
	dir := filepath.Join(homeDir, dirName)
	if err := home.Ensure(dir); err != nil {
		return nil, fmt.Errorf("open trust registry: %w", err)
	}
	r := &Registry{dir: dir, now: time.Now, revoked: &RevocationList{}}
	var lf struct {
		Keys []keyJSON `json:"keys"`
	}
	if ok, err := r.readJSON(keysFile, &lf); err != nil {
		return nil, err
	} else if ok {
		for _, kj := range lf.Keys {
			k, err := kj.key(SourceLocal)
			if err != nil {
				return nil, fmt.Errorf("open trust registry %s: %w", filepath.Join(dir, keysFile), err)
			}
			r.local = append(r.local, k)
		}
	}
	if _, err := r.readJSON(stateFile, &r.state); err != nil {
		return nil, err
	}
	if data, err := os.ReadFile(filepath.Join(dir, rootFile)); err == nil {
		if r.root, err = keyfile.ParsePublic(data); err != nil {
			return nil, fmt.Errorf("open trust registry: root key %s: %w", filepath.Join(dir, rootFile), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open trust registry: %w", err)
	}
	st := r.state
	if data, err := os.ReadFile(filepath.Join(dir, registryFile)); err == nil {
		doc, err := r.openRegistry(data)
		if err != nil {
			return nil, fmt.Errorf("open trust registry: stored %s: %w", registryFile, err)
		}
		ferr := r.checkStored(registryFile, "registry", doc.doc.Version, data, &st.Registry, &st.RegistryDigest)
		if ferr == nil {
			r.enterprise = doc.keys
		} else if !oc.reload {
			return nil, ferr
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open trust registry: %w", err)
	} else if ferr := r.missingStored(registryFile, "registry", st.Registry); ferr != nil && !oc.reload {
		return nil, ferr
	}
	if data, err := os.ReadFile(filepath.Join(dir, revocationsFile)); err == nil {
		l, err := r.openRevocations(data)
		if err != nil {
			return nil, fmt.Errorf("open trust registry: stored %s: %w", revocationsFile, err)
		}
		ferr := r.checkStored(revocationsFile, "revocations", l.doc.Version, data, &st.Revocations, &st.RevocationsDigest)
		if ferr == nil {
			r.revoked = l
		} else if !oc.reload {
			return nil, ferr
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open trust registry: %w", err)
	} else if ferr := r.missingStored(revocationsFile, "revocations", st.Revocations); ferr != nil && !oc.reload {
		return nil, ferr
	}
	if st != r.state {
		// A stored document newer than its floor (a crash between writing the
		// document and state.json), or a floor without its digest: record it
		// now so the floor never lags what is in force.
		if err := r.writeJSON(stateFile, st); err != nil {
			return nil, err
		}
		r.state = st
	}
	return r, nil
}

// checkStored holds a stored document of the given version to the floor and
// digest recorded in state.json. A newer document raises them (in st, which
// Open writes back).
func (r *Registry) checkStored(file, kind string, version uint64, data []byte, floor *uint64, digest *string) error {
	p := filepath.Join(r.dir, file)
	sum := docDigest(data)
	switch {
	case version < *floor:
		return fmt.Errorf("open trust registry: stored %s is %s version %d, below version %d already accepted (%s): "+
			"it was replaced by an older signed document; reload the current one with 'warden trust %s load FILE|URL': %w",
			p, kind, version, *floor, filepath.Join(r.dir, stateFile), kind, ErrRollback)
	case version == *floor && *digest != "" && *digest != sum:
		return fmt.Errorf("open trust registry: stored %s is %s version %d, but not the version-%d document accepted (its digest is %s, %s was accepted): "+
			"reload the current one with 'warden trust %s load FILE|URL': %w", p, kind, version, *floor, sum, *digest, kind, ErrRollback)
	case version > *floor || *digest == "":
		*floor, *digest = version, sum
	}
	return nil
}

// missingStored refuses a missing document whose kind has a floor: deleting
// the revocation list must not mean "no revocations".
func (r *Registry) missingStored(file, kind string, floor uint64) error {
	if floor == 0 {
		return nil
	}
	return fmt.Errorf("open trust registry: %s is missing, but %s version %d was accepted (%s): "+
		"reload the current one with 'warden trust %s load FILE|URL': %w",
		filepath.Join(r.dir, file), kind, floor, filepath.Join(r.dir, stateFile), kind, ErrMissing)
}

// docDigest is the digest state.json records for a stored document.
func docDigest(data []byte) string {
	h := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(h[:])
}

// WithClock returns r using now instead of time.Now, for tests.
func (r *Registry) WithClock(now func() time.Time) *Registry { c := *r; c.now = now; return &c }

// Dir returns the directory the registry lives in.
func (r *Registry) Dir() string { return r.dir }

// Keys returns every trusted key: enterprise keys first, then local ones, each
// sorted by id.
func (r *Registry) Keys() []Key {
	out := append(slices.Clone(r.enterprise), r.local...)
	slices.SortStableFunc(out, func(a, b Key) int {
		if a.Source != b.Source {
			return strings.Compare(a.Source, b.Source)
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Lookup returns the trusted key with id. An enterprise entry wins over a local
// one: the administrator's word on a key (its publisher, its expiry) is final.
func (r *Registry) Lookup(id string) (Key, bool) {
	for _, set := range [][]Key{r.enterprise, r.local} {
		for _, k := range set {
			if k.ID == id {
				return k, true
			}
		}
	}
	return Key{}, false
}

// Key implements bundle.Keys.
func (r *Registry) Key(id string) (bundle.Key, bool) {
	k, ok := r.Lookup(id)
	if !ok {
		return bundle.Key{}, false
	}
	return bundle.Key{ID: k.ID, Publisher: k.Publisher, Public: k.Public, Expires: k.Expires}, true
}

// Revocations returns the revocation list in force (empty when none loaded).
func (r *Registry) Revocations() *RevocationList { return r.revoked }

// VerifyOptions returns bundle verification options backed by r.
func (r *Registry) VerifyOptions() bundle.VerifyOptions {
	return bundle.VerifyOptions{Keys: r, Revocations: r.revoked, Now: r.now()}
}

// State reports whether the key id is trusted now: "trusted", "untrusted",
// "expired" or "revoked". warden list shows it per plugin.
func (r *Registry) State(id string) string {
	if _, ok := r.revoked.RevokedKey(id); ok {
		return "revoked"
	}
	k, ok := r.Lookup(id)
	switch {
	case !ok:
		return "untrusted"
	case !k.Expires.IsZero() && !r.now().Before(k.Expires):
		return "expired"
	}
	return "trusted"
}

// Add trusts pub for publisher until expires (zero: no expiry) and returns the
// new entry. Adding a key already present replaces its publisher and expiry.
func (r *Registry) Add(pub ed25519.PublicKey, publisher string, expires time.Time) (Key, error) {
	publisher = strings.TrimSpace(publisher)
	if publisher == "" {
		return Key{}, errors.New("trust add: the publisher name is empty; pass --publisher NAME as it appears in the plugin manifests")
	}
	if len(pub) != ed25519.PublicKeySize {
		return Key{}, errors.New("trust add: not an Ed25519 public key")
	}
	k := Key{ID: keyid.Of(pub), Publisher: publisher, Public: pub, Added: r.now().UTC().Truncate(time.Second), Expires: expires, Source: SourceLocal}
	local := slices.DeleteFunc(slices.Clone(r.local), func(x Key) bool { return x.ID == k.ID })
	local = append(local, k)
	if err := r.writeLocal(local); err != nil {
		return Key{}, err
	}
	r.local = local
	return k, nil
}

// Remove stops trusting the local key id. Enterprise keys are removed only by a
// newer enterprise registry.
func (r *Registry) Remove(id string) error {
	i := slices.IndexFunc(r.local, func(k Key) bool { return k.ID == id })
	if i < 0 {
		if _, ok := r.Lookup(id); ok {
			return fmt.Errorf("trust remove %s: the key comes from the enterprise registry; only a newer registry can remove it", id)
		}
		return fmt.Errorf("trust remove %s: %w", id, ErrNotFound)
	}
	local := slices.Delete(slices.Clone(r.local), i, i+1)
	if err := r.writeLocal(local); err != nil {
		return err
	}
	r.local = local
	return nil
}

func (r *Registry) writeLocal(keys []Key) error {
	slices.SortFunc(keys, func(a, b Key) int { return strings.Compare(a.ID, b.ID) })
	lf := struct {
		Keys []keyJSON `json:"keys"`
	}{Keys: []keyJSON{}}
	for _, k := range keys {
		lf.Keys = append(lf.Keys, toJSON(k))
	}
	return r.writeJSON(keysFile, lf)
}

// Root returns the enterprise root public key, if one is set.
func (r *Registry) Root() (ed25519.PublicKey, bool) { return r.root, r.root != nil }

// SetRoot makes pub the enterprise root key. The version floors stay: a new
// root continues the old root's version numbers, so a rotation cannot be used
// to replay old documents.
func (r *Registry) SetRoot(pub ed25519.PublicKey) error {
	data, err := keyfile.MarshalPublic(pub)
	if err != nil {
		return fmt.Errorf("set root key: %w", err)
	}
	if err := writeAtomic(filepath.Join(r.dir, rootFile), data); err != nil {
		return fmt.Errorf("set root key: %w", err)
	}
	r.root = pub
	return nil
}

// Versions returns the highest enterprise registry and revocation list versions
// accepted so far (0: none).
func (r *Registry) Versions() (registry, revocations uint64) {
	return r.state.Registry, r.state.Revocations
}

func (r *Registry) readJSON(name string, v any) (bool, error) {
	p := filepath.Join(r.dir, name)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open trust registry: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("open trust registry: %s: %v: %w", p, err, ErrFormat)
	}
	return true, nil
}

func (r *Registry) writeJSON(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("save trust registry: %w", err)
	}
	if err := writeAtomic(filepath.Join(r.dir, name), append(data, '\n')); err != nil {
		return fmt.Errorf("save trust registry: %w", err)
	}
	return nil
}

// writeAtomic writes data to path (mode 0600) so that a crash leaves the old
// or the new document, never a mix.
func writeAtomic(path string, data []byte) error { return atomicfile.Write(path, data, 0o600) }
