package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Signer is the host key as the ledger needs it. The hostkey package's ring
// satisfies it; Sign must return a plain Ed25519 signature of msg.
type Signer interface {
	KeyID() string
	Public() ed25519.PublicKey
	Sign(msg []byte) ([]byte, error)
}

// KeyName is the signer name in every checkpoint note and verifier key.
const KeyName = "warden-host"

// noteSigner adapts a Signer to note.Signer (C2SP signed-note, Ed25519 type 0x01).
type noteSigner struct {
	s    Signer
	hash uint32
}

func newNoteSigner(s Signer) (*noteSigner, error) {
	pub := s.Public()
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("audit signer %s: public key is %d bytes, want %d", s.KeyID(), len(pub), ed25519.PublicKeySize)
	}
	return &noteSigner{s: s, hash: KeyHash(KeyName, pub)}, nil
}

func (n *noteSigner) Name() string                    { return KeyName }
func (n *noteSigner) KeyHash() uint32                 { return n.hash }
func (n *noteSigner) Sign(msg []byte) ([]byte, error) { return n.s.Sign(msg) }

// KeyHash is the signed-note key hash of an Ed25519 key: the first four bytes,
// big-endian, of SHA-256(name || "\n" || 0x01 || pub).
func KeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{0x01})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// VerifierKey returns the signed-note verifier key for pub:
// "warden-host+<8 hex key hash>+<base64(0x01 || pub)>". It is all a third
// party needs to check checkpoints and proofs.
func VerifierKey(pub ed25519.PublicKey) (string, error) {
	return note.NewEd25519VerifierKey(KeyName, pub)
}

// Verifiers parses verifier keys into the list note.Open takes.
func Verifiers(vkeys ...string) (note.Verifiers, error) {
	var list []note.Verifier
	seen := map[string]bool{}
	for _, k := range vkeys {
		k = strings.TrimSpace(k)
		if seen[k] {
			continue // the same key twice is one key, not an ambiguity
		}
		seen[k] = true
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("parse verifier key %q: %w (want name+hash+base64 as printed by 'warden audit pubkey')", k, err)
		}
		list = append(list, v)
	}
	return note.VerifierList(list...), nil
}

// Checkpoint is a signed statement by the host that its log held Size events
// whose RFC 6962 tree hash is Root.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   tlog.Hash
	// Note is the whole signed note as written: text, blank line, signatures.
	Note []byte
}

// ErrMalformedCheckpoint is returned (wrapped) when a checkpoint note cannot be
// parsed, and by verify when the checkpoint file is damaged.
var ErrMalformedCheckpoint = errors.New("malformed checkpoint")

// ErrBadSignature is returned (wrapped) when a checkpoint is not signed by a
// key the verifier trusts, or its signature is invalid.
var ErrBadSignature = errors.New("checkpoint signature not valid")

func formatCheckpointText(origin string, size uint64, root tlog.Hash) string {
	return origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
}

// ParseCheckpoint checks the note's signature against verifiers and parses its
// text: origin line, decimal tree size, base64 root hash, then optional
// extension lines that are ignored.
func ParseCheckpoint(msg []byte, verifiers note.Verifiers) (Checkpoint, error) {
	n, err := note.Open(msg, verifiers)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return Checkpoint{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrMalformedCheckpoint, err)
	}
	c, err := parseCheckpointText(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	c.Note = append([]byte(nil), msg...)
	return c, nil
}

func parseCheckpointText(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, fmt.Errorf("%w: fewer than three lines", ErrMalformedCheckpoint)
	}
	origin := lines[0]
	if origin == "" {
		return Checkpoint{}, fmt.Errorf("%w: empty origin line", ErrMalformedCheckpoint)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || lines[1] != strconv.FormatUint(size, 10) || size > 1<<62 {
		return Checkpoint{}, fmt.Errorf("%w: tree size %q is not a canonical decimal number", ErrMalformedCheckpoint, lines[1])
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("%w: root hash %q is not base64 of 32 bytes", ErrMalformedCheckpoint, lines[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	return Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

func signCheckpoint(s note.Signer, origin string, size uint64, root tlog.Hash) (Checkpoint, error) {
	msg, err := note.Sign(&note.Note{Text: formatCheckpointText(origin, size, root)}, s)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign checkpoint of %d events: %w", size, err)
	}
	return Checkpoint{Origin: origin, Size: size, Root: root, Note: msg}, nil
}
