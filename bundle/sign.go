package bundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/wardenproject/warden/internal/dssekey"
	"github.com/wardenproject/warden/internal/keyid"
)

// Identifiers of the signed statement (docs/bundle-format.md, "Signature").
const (
	// PayloadType is the DSSE payload type of the signature envelope: the
	// in-toto media type.
	PayloadType = "application/vnd.in-toto+json"
	// StatementType is the in-toto Statement v1 type.
	StatementType = "https://in-toto.io/Statement/v1"
	// SignedPredicateType names warden's bundle predicate.
	SignedPredicateType = "https://wardenproject.dev/bundle/v1"
)

// maxEnvelopeSize bounds the signature envelope: a few subjects and one
// signature fit in a few kilobytes.
const maxEnvelopeSize = 1 << 20

// Statement is the in-toto v1 Statement a bundle signature covers.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     SignedPredicate `json:"predicate"`
}

// SignedPredicate says what was signed, by whom.
type SignedPredicate struct {
	// BundleDigest repeats Bundle.Digest of the subjects, so a revocation list
	// entry can be checked against the signed statement alone.
	BundleDigest string `json:"bundle_digest"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Publisher    struct {
		Name  string `json:"name"`
		KeyID string `json:"key_id"`
		// PublicKey is the raw 32-byte Ed25519 key, standard base64. It lets a
		// verifier tell "valid signature, untrusted key" from a forgery.
		PublicKey string `json:"public_key"`
	} `json:"publisher"`
}

// statement builds the statement for b signed with pub.
func statement(b *Bundle, pub ed25519.PublicKey) Statement {
	m := b.Manifest()
	st := Statement{Type: StatementType, Subject: b.subjects(), PredicateType: SignedPredicateType}
	st.Predicate.BundleDigest = b.Digest()
	st.Predicate.Name = m.Name
	st.Predicate.Version = m.Version
	st.Predicate.Publisher.Name = m.Publisher.Name
	st.Predicate.Publisher.KeyID = keyid.Of(pub)
	st.Predicate.Publisher.PublicKey = base64.StdEncoding.EncodeToString(pub)
	return st
}

// Sign returns b with a signature envelope made with priv, replacing any
// earlier one. It refuses (ErrPublisherMismatch) when the manifest's
// publisher.key_id is not priv's key id: a publisher signs only bundles that
// name it.
func Sign(ctx context.Context, b *Bundle, priv ed25519.PrivateKey) (*Bundle, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("sign bundle: not an Ed25519 private key")
	}
	pub := priv.Public().(ed25519.PublicKey)
	m := b.Manifest()
	if id := keyid.Of(pub); m.Publisher.KeyID != id {
		return nil, fmt.Errorf("sign bundle %s@%s: manifest publisher.key_id is %q, the key is %s: %w",
			m.Name, m.Version, m.Publisher.KeyID, id, ErrPublisherMismatch)
	}
	return signStatement(ctx, b.Unsigned(), priv, statement(b.Unsigned(), pub))
}

// signStatement signs st with priv and adds the envelope to b. Tests call it
// directly to forge what Sign refuses to make.
func signStatement(ctx context.Context, b *Bundle, priv ed25519.PrivateKey, st Statement) (*Bundle, error) {
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("sign bundle: encode statement: %w", err)
	}
	s, err := dsse.NewEnvelopeSigner(dssekey.Signer(priv))
	if err != nil {
		return nil, fmt.Errorf("sign bundle: %w", err)
	}
	env, err := s.SignPayload(ctx, PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign bundle: %w", err)
	}
	return b.with(SignatureFile, encodeEnvelope(env)), nil
}

// encodeEnvelope is the one accepted spelling of an envelope: compact JSON,
// fields in the order payloadType, payload, signatures, and a newline.
func encodeEnvelope(env *dsse.Envelope) []byte {
	out, _ := json.Marshal(env) // a struct of strings always encodes
	return append(out, '\n')
}

// parseEnvelope decodes data and accepts it only if it is the canonical
// encoding of what it decodes to, with standard base64 in canonical form.
func parseEnvelope(data []byte) (*dsse.Envelope, error) {
	if len(data) > maxEnvelopeSize {
		return nil, fmt.Errorf("envelope is larger than %d bytes", maxEnvelopeSize)
	}
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("envelope is not DSSE JSON: %v", err)
	}
	if !bytes.Equal(encodeEnvelope(&env), data) {
		return nil, errors.New("envelope is not in canonical form (compact JSON, exact field names, one trailing newline)")
	}
	if err := canonicalBase64(env.Payload); err != nil {
		return nil, fmt.Errorf("envelope payload: %v", err)
	}
	for i, s := range env.Signatures {
		if err := canonicalBase64(s.Sig); err != nil {
			return nil, fmt.Errorf("envelope signature %d: %v", i, err)
		}
	}
	return &env, nil
}

// canonicalBase64 accepts only padded standard base64 whose unused bits are
// zero, so that exactly one string encodes each byte sequence.
func canonicalBase64(s string) error {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return fmt.Errorf("not canonical standard base64: %v", err)
	}
	if base64.StdEncoding.EncodeToString(b) != s {
		return errors.New("not canonical standard base64")
	}
	return nil
}
