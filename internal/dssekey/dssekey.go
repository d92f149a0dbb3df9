// Package dssekey adapts an Ed25519 key pair to the signer and verifier
// interfaces of go-securesystemslib's dsse package, naming keys by warden's key
// ids. Bundles (publisher keys) and trust documents (the enterprise root key)
// are both DSSE envelopes and share this one adapter.
package dssekey

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"

	"github.com/wardenproject/warden/internal/keyid"
)

// Key is an Ed25519 public key and, for signing, its private key.
type Key struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey // nil when only verifying
}

// Signer returns a Key that signs with priv.
func Signer(priv ed25519.PrivateKey) Key {
	return Key{pub: priv.Public().(ed25519.PublicKey), priv: priv}
}

// Verifier returns a Key that only verifies.
func Verifier(pub ed25519.PublicKey) Key { return Key{pub: pub} }

// Sign signs data (the DSSE pre-authentication encoding).
func (k Key) Sign(_ context.Context, data []byte) ([]byte, error) {
	if k.priv == nil {
		return nil, errors.New("no private key")
	}
	return ed25519.Sign(k.priv, data), nil
}

// Verify checks sig over data.
func (k Key) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(k.pub, data, sig) {
		return errors.New("ed25519 signature does not verify")
	}
	return nil
}

// KeyID returns warden's key id of the public key.
func (k Key) KeyID() (string, error) { return keyid.Of(k.pub), nil }

// Public returns the public key.
func (k Key) Public() crypto.PublicKey { return k.pub }
