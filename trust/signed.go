package trust

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/wardenproject/warden/internal/dssekey"
	"github.com/wardenproject/warden/internal/keyid"
)

// Payload types of the enterprise documents (docs/trust.md).
const (
	RegistryPayloadType    = "application/vnd.warden.trust-registry+json"
	RevocationsPayloadType = "application/vnd.warden.revocations+json"
)

// maxDocSize bounds a signed document: thousands of keys or revocations fit.
const maxDocSize = 4 << 20

// RegistryDoc is the payload of a signed enterprise registry.
type RegistryDoc struct {
	Version uint64        `json:"version"`
	Issued  time.Time     `json:"issued"`
	Keys    []RegistryKey `json:"keys"`
}

// RegistryKey is one publisher key in an enterprise registry.
type RegistryKey struct {
	ID        string    `json:"key_id"`
	Publisher string    `json:"publisher"`
	PublicKey string    `json:"public_key"` // standard base64 of the 32 raw bytes
	Expires   time.Time `json:"expires,omitzero"`
}

type registry struct {
	doc  RegistryDoc
	keys []Key
}

// SignRegistry signs doc with the enterprise root key and returns the envelope.
func SignRegistry(ctx context.Context, doc RegistryDoc, root ed25519.PrivateKey) ([]byte, error) {
	if doc.Keys == nil {
		doc.Keys = []RegistryKey{}
	}
	if _, err := registryKeys(doc); err != nil {
		return nil, err
	}
	return signDoc(ctx, RegistryPayloadType, doc, root)
}

// SignRevocations signs list with the enterprise root key.
func SignRevocations(ctx context.Context, doc RevocationDoc, root ed25519.PrivateKey) ([]byte, error) {
	doc = doc.normalised()
	if _, err := newRevocationList(doc); err != nil {
		return nil, err
	}
	return signDoc(ctx, RevocationsPayloadType, doc, root)
}

func registryKeys(doc RegistryDoc) ([]Key, error) {
	var keys []Key
	seen := map[string]bool{}
	for _, rk := range doc.Keys {
		k, err := keyJSON{ID: rk.ID, Publisher: rk.Publisher, PublicKey: rk.PublicKey, Expires: rk.Expires}.key(SourceEnterprise)
		if err != nil {
			return nil, err
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("key %s listed twice: %w", k.ID, ErrFormat)
		}
		seen[k.ID] = true
		keys = append(keys, k)
	}
	return keys, nil
}

func signDoc(ctx context.Context, payloadType string, doc any, root ed25519.PrivateKey) ([]byte, error) {
	if len(root) != ed25519.PrivateKeySize {
		return nil, errors.New("sign: not an Ed25519 private key")
	}
	payload, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	s, err := dsse.NewEnvelopeSigner(dssekey.Signer(root))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	env, err := s.SignPayload(ctx, payloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return append(out, '\n'), nil
}

// openDoc verifies an envelope of payloadType against the root key and
// decodes its payload strictly into v.
func (r *Registry) openDoc(data []byte, payloadType string, v any) error {
	if r.root == nil {
		return ErrNoRoot
	}
	if len(data) > maxDocSize {
		return fmt.Errorf("document is larger than %d bytes: %w", maxDocSize, ErrFormat)
	}
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return fmt.Errorf("not a DSSE envelope: %v: %w", err, ErrFormat)
	}
	if err := atEOF(dec); err != nil {
		return fmt.Errorf("DSSE envelope: %v: %w", err, ErrFormat)
	}
	if env.PayloadType != payloadType {
		return fmt.Errorf("payloadType is %q, want %q: %w", env.PayloadType, payloadType, ErrFormat)
	}
	v2, err := dsse.NewEnvelopeVerifier(dssekey.Verifier(r.root))
	if err != nil {
		return err
	}
	if _, err := v2.Verify(context.Background(), &env); err != nil {
		return fmt.Errorf("root key %s: %v: %w", keyid.Of(r.root), err, ErrBadSignature)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		if payload, err = base64.URLEncoding.DecodeString(env.Payload); err != nil {
			return fmt.Errorf("payload is not base64: %w", ErrFormat)
		}
	}
	pd := json.NewDecoder(bytes.NewReader(payload))
	pd.DisallowUnknownFields()
	if err := pd.Decode(v); err != nil {
		return fmt.Errorf("payload: %v: %w", err, ErrFormat)
	}
	if err := atEOF(pd); err != nil {
		return fmt.Errorf("payload: %v: %w", err, ErrFormat)
	}
	return nil
}

// atEOF refuses anything but white space after the one JSON value a
// document holds: bytes the decoder would silently skip are not "exactly as
// signed".
func atEOF(dec *json.Decoder) error {
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the JSON value, which ends at byte %d", end)
	}
	return nil
}

func (r *Registry) openRegistry(data []byte) (*registry, error) {
	var doc RegistryDoc
	if err := r.openDoc(data, RegistryPayloadType, &doc); err != nil {
		return nil, err
	}
	if doc.Version == 0 {
		return nil, fmt.Errorf("version 0: versions start at 1: %w", ErrFormat)
	}
	keys, err := registryKeys(doc)
	if err != nil {
		return nil, err
	}
	return &registry{doc: doc, keys: keys}, nil
}

// LoadRegistry verifies data as an enterprise registry signed by the root key
// and, if its version is above every version seen, makes it the registry in
// force and returns its version. The same document again is a no-op; an older
// version, or another document with the same version, is ErrRollback.
func (r *Registry) LoadRegistry(data []byte) (uint64, error) {
	doc, err := r.openRegistry(data)
	if err != nil {
		return 0, fmt.Errorf("load enterprise registry: %w", err)
	}
	if err := r.checkVersion("registry", doc.doc.Version, r.state.Registry, r.state.RegistryDigest, registryFile, data); err != nil {
		return 0, fmt.Errorf("load enterprise registry: %w", err)
	}
	if err := writeAtomic(filepath.Join(r.dir, registryFile), data); err != nil {
		return 0, fmt.Errorf("load enterprise registry: %w", err)
	}
	st := r.state
	st.Registry, st.RegistryDigest = doc.doc.Version, docDigest(data)
	if err := r.writeJSON(stateFile, st); err != nil {
		return 0, err
	}
	r.state, r.enterprise = st, doc.keys
	return doc.doc.Version, nil
}

// LoadRevocations verifies data as a revocation list signed by the root key
// and makes it the list in force under the same version rule as LoadRegistry.
func (r *Registry) LoadRevocations(data []byte) (*RevocationList, error) {
	l, err := r.openRevocations(data)
	if err != nil {
		return nil, fmt.Errorf("load revocation list: %w", err)
	}
	if err := r.checkVersion("revocation list", l.doc.Version, r.state.Revocations, r.state.RevocationsDigest, revocationsFile, data); err != nil {
		return nil, fmt.Errorf("load revocation list: %w", err)
	}
	if err := writeAtomic(filepath.Join(r.dir, revocationsFile), data); err != nil {
		return nil, fmt.Errorf("load revocation list: %w", err)
	}
	st := r.state
	st.Revocations, st.RevocationsDigest = l.doc.Version, docDigest(data)
	if err := r.writeJSON(stateFile, st); err != nil {
		return nil, err
	}
	r.state, r.revoked = st, l
	return l, nil
}

func (r *Registry) openRevocations(data []byte) (*RevocationList, error) {
	var doc RevocationDoc
	if err := r.openDoc(data, RevocationsPayloadType, &doc); err != nil {
		return nil, err
	}
	if doc.Version == 0 {
		return nil, fmt.Errorf("version 0: versions start at 1: %w", ErrFormat)
	}
	return newRevocationList(doc)
}

// checkVersion enforces the version floor. Equal versions are accepted only
// for the very bytes accepted before — by their digest in state.json, or,
// for a state.json without one, the stored file — so re-running a sync is
// harmless, and reloading the current document repairs a stored copy that
// was rolled back or deleted.
func (r *Registry) checkVersion(what string, got, floor uint64, digest, stored string, data []byte) error {
	switch {
	case got > floor:
		return nil
	case got == floor:
		if digest != "" && digest == docDigest(data) {
			return nil
		}
		if old, err := readFileLimited(filepath.Join(r.dir, stored)); digest == "" && err == nil && bytes.Equal(old, data) {
			return nil
		}
		return fmt.Errorf("%s version %d was already accepted with other content: %w", what, got, ErrRollback)
	}
	return fmt.Errorf("%s version %d is older than version %d already accepted: %w", what, got, floor, ErrRollback)
}
