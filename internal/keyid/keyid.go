// Package keyid derives the short identifier warden prints and stores for an
// Ed25519 public key: host keys, publisher keys and enterprise root keys alike.
//
// The id is "ed25519:" followed by the first 8 bytes of SHA-256 over the raw
// 32-byte public key, in lowercase hex. 64 bits is enough to name a key among the
// handful a host trusts; it is never used in place of the key itself, and every
// verifier compares the full public key after looking it up by id.
package keyid

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
)

// Prefix starts every key id.
const Prefix = "ed25519:"

var pattern = regexp.MustCompile(`^ed25519:[0-9a-f]{16}$`)

// Of returns the key id of pub.
func Of(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return Prefix + hex.EncodeToString(sum[:8])
}

// Valid reports whether s has the form of a key id.
func Valid(s string) bool { return pattern.MatchString(s) }
