package bundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/wardenproject/warden/internal/dssekey"
	"github.com/wardenproject/warden/internal/keyid"
)

// State is the verdict on a bundle. Exactly one applies; docs/bundle-format.md
// gives the order in which they are tested.
type State string

// Verdicts, with their `warden verify` exit codes.
const (
	ValidTrusted      State = "valid-trusted"       // 0: install may proceed
	ValidUntrustedKey State = "valid-untrusted-key" // 10: signature good, key not in the trust registry
	InvalidSignature  State = "invalid-signature"   // 11: envelope malformed or signature does not verify
	DigestMismatch    State = "digest-mismatch"     // 12: a file differs from its signed digest, or is missing or extra
	Unsigned          State = "unsigned"            // 13: no signature envelope
	Revoked           State = "revoked"             // 14: key, bundle digest or plugin version revoked
	ExpiredKey        State = "expired-key"         // 15: the trusted key's validity ended
	PublisherMismatch State = "publisher-mismatch"  // 16: manifest publisher is not the signing key's publisher
)

// ExitCodeUnreadable is `warden verify`'s exit code for a file Read refuses
// (unsafe or malformed): there is no bundle to judge.
const ExitCodeUnreadable = 17

// ExitCode returns the documented `warden verify` exit code of s.
func (s State) ExitCode() int {
	switch s {
	case ValidTrusted:
		return 0
	case ValidUntrustedKey:
		return 10
	case InvalidSignature:
		return 11
	case DigestMismatch:
		return 12
	case Unsigned:
		return 13
	case Revoked:
		return 14
	case ExpiredKey:
		return 15
	case PublisherMismatch:
		return 16
	}
	return 1
}

// States lists every verdict in exit-code order.
func States() []State {
	return []State{ValidTrusted, ValidUntrustedKey, InvalidSignature, DigestMismatch, Unsigned, Revoked, ExpiredKey, PublisherMismatch}
}

// Key is a trusted publisher key as the verifier needs it.
type Key struct {
	ID        string
	Publisher string
	Public    ed25519.PublicKey
	Expires   time.Time // zero: never
}

// Keys looks up a trusted key by id. package trust implements it.
type Keys interface {
	Key(id string) (Key, bool)
}

// Revocations answers whether something is revoked, with a reason.
// package trust implements it over the signed revocation list.
type Revocations interface {
	RevokedKey(id string) (reason string, ok bool)
	RevokedBundle(digest string) (reason string, ok bool)
	RevokedVersion(plugin, version string) (reason string, ok bool)
}

// VerifyOptions say whom to trust and when "now" is. Nil Keys trusts no key;
// nil Revocations revokes nothing; a zero Now means time.Now().
type VerifyOptions struct {
	Keys        Keys
	Revocations Revocations
	Now         time.Time
}

// Result is the verdict with what it is about.
type Result struct {
	State     State  `json:"state"`
	Reason    string `json:"reason"` // one sentence for a person
	Plugin    string `json:"plugin"`
	Version   string `json:"version"`
	Digest    string `json:"digest"`
	Publisher string `json:"publisher,omitempty"` // the trusted key's publisher, else the manifest's
	KeyID     string `json:"key_id,omitempty"`    // the signing key, when there is a signature
	File      string `json:"file,omitempty"`      // digest-mismatch: the file
	Revoked   string `json:"revoked,omitempty"`   // revoked: "key", "bundle" or "version"
	ExitCode  int    `json:"exit_code"`
}

// OK reports whether the bundle may be installed.
func (r Result) OK() bool { return r.State == ValidTrusted }

// Verify judges b. The checks run in this order and the first that fails
// decides: unsigned, invalid-signature, digest-mismatch, publisher-mismatch,
// revoked, valid-untrusted-key, expired-key; else valid-trusted.
func Verify(ctx context.Context, b *Bundle, o VerifyOptions) Result {
	m := b.Manifest()
	r := Result{Plugin: m.Name, Version: m.Version, Digest: b.Digest(), Publisher: m.Publisher.Name}
	done := func(s State, format string, args ...any) Result {
		r.State = s
		r.Reason = fmt.Sprintf(format, args...)
		r.ExitCode = s.ExitCode()
		return r
	}
	envBytes, ok := b.File(SignatureFile)
	if !ok {
		return done(Unsigned, "the bundle has no %s; sign it with 'warden sign'", SignatureFile)
	}
	env, err := parseEnvelope(envBytes)
	if err != nil {
		return done(InvalidSignature, "%s: %v", SignatureFile, err)
	}
	if env.PayloadType != PayloadType {
		return done(InvalidSignature, "envelope payloadType is %q, want %q", env.PayloadType, PayloadType)
	}
	if len(env.Signatures) != 1 {
		return done(InvalidSignature, "envelope has %d signatures; a bundle carries exactly one", len(env.Signatures))
	}
	sigKeyID := env.Signatures[0].KeyID
	r.KeyID = sigKeyID
	if !keyid.Valid(sigKeyID) {
		return done(InvalidSignature, "envelope signature keyid %q is not a warden key id", sigKeyID)
	}
	payload, _ := base64.StdEncoding.DecodeString(env.Payload) // canonical: checked by parseEnvelope
	st, err := parseStatement(payload)
	if err != nil {
		return done(InvalidSignature, "signed statement: %v", err)
	}
	embedded, err := base64.StdEncoding.Strict().DecodeString(st.Predicate.Publisher.PublicKey)
	if err != nil || len(embedded) != ed25519.PublicKeySize {
		return done(InvalidSignature, "signed statement: publisher.public_key is not a base64 Ed25519 public key")
	}
	if keyid.Of(embedded) != sigKeyID || st.Predicate.Publisher.KeyID != sigKeyID {
		return done(InvalidSignature, "the envelope's key id %s does not match the key in the signed statement", sigKeyID)
	}
	pub := ed25519.PublicKey(embedded)
	trusted, isTrusted := Key{}, false
	if o.Keys != nil {
		trusted, isTrusted = o.Keys.Key(sigKeyID)
		if isTrusted && !bytes.Equal(trusted.Public, pub) {
			return done(InvalidSignature, "the bundle's key %s is not the trusted key with that id", sigKeyID)
		}
	}
	v, err := dsse.NewEnvelopeVerifier(dssekey.Verifier(pub))
	if err != nil {
		return done(InvalidSignature, "%v", err)
	}
	if _, err := v.Verify(ctx, env); err != nil {
		return done(InvalidSignature, "the signature by %s does not verify: %v", sigKeyID, err)
	}

	// The signature is good: now hold every file to its signed digest.
	if f, why := compareSubjects(st.Subject, b.subjects()); why != "" {
		r.File = f
		if f == "" {
			return done(DigestMismatch, "signed statement: %s", why)
		}
		return done(DigestMismatch, "%s: %s", f, why)
	}
	if st.Predicate.BundleDigest != r.Digest {
		return done(DigestMismatch, "the signed bundle_digest %s is not the digest of the files %s", st.Predicate.BundleDigest, r.Digest)
	}

	if m.Publisher.KeyID != sigKeyID {
		return done(PublisherMismatch, "the manifest names publisher key %q but the bundle is signed by %s", m.Publisher.KeyID, sigKeyID)
	}
	if st.Predicate.Publisher.Name != m.Publisher.Name {
		return done(PublisherMismatch, "the manifest names publisher %q but the signed statement says %q", m.Publisher.Name, st.Predicate.Publisher.Name)
	}
	if isTrusted && trusted.Publisher != m.Publisher.Name {
		return done(PublisherMismatch, "the manifest names publisher %q but key %s is trusted for %q", m.Publisher.Name, sigKeyID, trusted.Publisher)
	}

	if o.Revocations != nil {
		if why, ok := o.Revocations.RevokedKey(sigKeyID); ok {
			r.Revoked = "key"
			return done(Revoked, "publisher key %s is revoked: %s", sigKeyID, why)
		}
		if why, ok := o.Revocations.RevokedBundle(r.Digest); ok {
			r.Revoked = "bundle"
			return done(Revoked, "bundle %s is revoked: %s", r.Digest, why)
		}
		if why, ok := o.Revocations.RevokedVersion(m.Name, m.Version); ok {
			r.Revoked = "version"
			return done(Revoked, "%s %s is revoked: %s", m.Name, m.Version, why)
		}
	}
	if !isTrusted {
		return done(ValidUntrustedKey, "the signature is valid but key %s is not in the trust registry; run 'warden trust add' if you trust %q", sigKeyID, m.Publisher.Name)
	}
	r.Publisher = trusted.Publisher
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if !trusted.Expires.IsZero() && !now.Before(trusted.Expires) {
		return done(ExpiredKey, "key %s of %q expired on %s", sigKeyID, trusted.Publisher, trusted.Expires.UTC().Format(time.DateOnly))
	}
	return done(ValidTrusted, "signed by %q with trusted key %s", trusted.Publisher, sigKeyID)
}

// parseStatement accepts only the canonical encoding of a Statement.
func parseStatement(payload []byte) (*Statement, error) {
	var st Statement
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("not an in-toto statement: %v", err)
	}
	again, err := json.Marshal(st)
	if err != nil || !bytes.Equal(again, payload) {
		return nil, fmt.Errorf("not in canonical form")
	}
	if st.Type != StatementType {
		return nil, fmt.Errorf("_type is %q, want %q", st.Type, StatementType)
	}
	if st.PredicateType != SignedPredicateType {
		return nil, fmt.Errorf("predicateType is %q, want %q", st.PredicateType, SignedPredicateType)
	}
	return &st, nil
}

// compareSubjects returns the first file (in name order) whose signed digest
// differs from its actual one, or that only one side has, with why. why is
// empty exactly when the two agree; file may be empty when why is not.
func compareSubjects(signed, actual []subject) (file, why string) {
	want := make(map[string]string, len(signed))
	for _, s := range signed {
		if s.Name == "" {
			return "", "a signed subject has an empty name"
		}
		if len(s.Digest) != 1 || s.Digest["sha256"] == "" {
			return s.Name, "the signed subject does not carry exactly one sha256 digest"
		}
		if _, dup := want[s.Name]; dup {
			return s.Name, "named twice in the signed statement"
		}
		want[s.Name] = s.Digest["sha256"]
	}
	have := make(map[string]bool, len(actual))
	var first, firstWhy string
	note := func(name, w string) {
		// firstWhy, never empty once set, marks "noted": first may be "".
		if firstWhy == "" || name < first {
			first, firstWhy = name, w
		}
	}
	for _, a := range actual {
		have[a.Name] = true
		d, ok := want[a.Name]
		switch {
		case !ok:
			note(a.Name, "the file is not covered by the signature")
		case d != a.Digest["sha256"]:
			note(a.Name, fmt.Sprintf("sha256 is %s, the signature says %s", a.Digest["sha256"], d))
		}
	}
	for n := range want {
		if !have[n] {
			note(n, "the signed file is missing from the bundle")
		}
	}
	return first, firstWhy
}
