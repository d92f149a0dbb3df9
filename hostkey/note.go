package hostkey

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// algEd25519 is the signed-note algorithm byte for Ed25519 (C2SP signed-note).
const algEd25519 = 1

// NoteVerifierKey returns the current key as a signed-note verifier key
// "name+hash+base64(0x01||pub)", the form note.NewVerifier and the sumdb
// tools read. It returns "" if name is not a valid note name (empty, or
// containing '+' or white space).
func (r *Ring) NoteVerifierKey(name string) string {
	vkey, err := noteVerifierKey(name, r.Signer())
	if err != nil {
		return ""
	}
	return vkey
}

// noteVerifierKey builds the verifier key and lets note.NewVerifier check the
// name, which NewEd25519VerifierKey itself does not.
func noteVerifierKey(name string, s Signer) (string, error) {
	vkey, err := note.NewEd25519VerifierKey(name, s.Public())
	if err != nil {
		return "", err
	}
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", err
	}
	return vkey, nil
}

// NoteSigner adapts s to a note.Signer under name, so note.Sign can sign
// checkpoints with the host key (or any Signer, such as a keychain key).
func NoteSigner(name string, s Signer) (note.Signer, error) {
	if _, err := noteVerifierKey(name, s); err != nil {
		return nil, fmt.Errorf("note signer %q: %w", name, err)
	}
	return &noteSigner{name: name, hash: noteKeyHash(name, s), s: s}, nil
}

type noteSigner struct {
	name string
	hash uint32
	s    Signer
}

func (n *noteSigner) Name() string                    { return n.name }
func (n *noteSigner) KeyHash() uint32                 { return n.hash }
func (n *noteSigner) Sign(msg []byte) ([]byte, error) { return n.s.Sign(msg) }

// noteKeyHash is note's key hash: the first four bytes, big-endian, of
// SHA-256(name || "\n" || 0x01 || pub).
func noteKeyHash(name string, s Signer) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write([]byte{algEd25519})
	h.Write(s.Public())
	return binary.BigEndian.Uint32(h.Sum(nil))
}
