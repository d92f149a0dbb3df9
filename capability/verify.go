package capability

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenproject/warden/resource"
)

// Keys finds the public key for a key id. *hostkey.Ring implements it.
type Keys interface {
	Lookup(keyID string) (ed25519.PublicKey, bool)
}

// Expect names who is presenting a token. An empty field is not checked:
// the gate always sets both; `warden token verify` sets what it is given.
type Expect struct {
	Subject  string // the plugin presenting the token
	Audience string // the plugin instance it is presented to
}

// DefaultIssuer is the iss claim of tokens minted by a warden host.
const DefaultIssuer = "warden"

// DefaultCacheSize is the number of verified tokens a Verifier remembers.
const DefaultCacheSize = 4096

// Verifier checks tokens. Build it once with NewVerifier and the With...
// methods, then use it from any number of goroutines. Each With... returns a
// new Verifier with its own empty cache.
type Verifier struct {
	keys      Keys
	revoked   *RevocationSet
	issuer    string
	cacheSize int
	cache     *cache
}

// NewVerifier returns a Verifier that trusts the keys keys finds, expects
// iss DefaultIssuer, caches DefaultCacheSize tokens and consults an empty
// RevocationSet (see WithRevocations).
func NewVerifier(keys Keys) *Verifier {
	v := &Verifier{keys: keys, revoked: NewRevocationSet(), issuer: DefaultIssuer, cacheSize: DefaultCacheSize}
	v.cache = newCache(v.cacheSize)
	return v
}

func (v *Verifier) clone() *Verifier {
	w := *v
	w.cache = newCache(w.cacheSize)
	return &w
}

// WithRevocations makes the verifier consult set; share one set between the
// store that loads revocations and every verifier.
func (v *Verifier) WithRevocations(set *RevocationSet) *Verifier {
	w := v.clone()
	w.revoked = set
	return w
}

// WithIssuer sets the iss claim a token must carry.
func (v *Verifier) WithIssuer(iss string) *Verifier {
	w := v.clone()
	w.issuer = iss
	return w
}

// WithCacheSize bounds the verified-token cache to about n entries; 0
// disables caching.
func (v *Verifier) WithCacheSize(n int) *Verifier {
	w := *v
	w.cacheSize = max(n, 0)
	w.cache = newCache(w.cacheSize)
	return &w
}

// Revocations returns the set the verifier consults.
func (v *Verifier) Revocations() *RevocationSet { return v.revoked }

// Purge empties the cache, so that the next Verify of every token runs the
// full check again (for example after a key was rotated out because it leaked).
func (v *Verifier) Purge() { v.cache.purge() }

// Verify checks token for the caller expect at time now and returns its
// capability, or an error wrapping exactly one of the Err... verification
// errors. The steps, in order, are specified in docs/tokens.md.
//
// A token verified before is found in the cache by its bytes; then only the
// revocation set, the validity window and the expected caller are checked.
func (v *Verifier) Verify(token string, expect Expect, now time.Time) (*Capability, error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("verify token: %d bytes, the limit is %d: %w", len(token), MaxTokenSize, ErrTooLarge)
	}
	if e := v.cache.get(token); e != nil {
		if gen := v.revoked.Generation(); e.gen.Load() != gen {
			if err := v.revoked.Check(e.c); err != nil {
				v.cache.remove(token)
				return nil, err
			}
			e.gen.Store(gen)
		}
		if err := checkUse(e.c, expect, now.UnixNano()); err != nil {
			return nil, err
		}
		return e.c, nil
	}
	c, err := v.verifyFull(token)
	if err != nil {
		return nil, err
	}
	gen := v.revoked.Generation() // loaded before the check: see RevocationSet
	if err := v.revoked.Check(c); err != nil {
		return nil, err
	}
	// Cached before the caller checks: a genuine token presented by the wrong
	// caller is then refused cheaply the next time too.
	v.cache.put(token, c, gen)
	if err := checkUse(c, expect, now.UnixNano()); err != nil {
		return nil, err
	}
	return c, nil
}

// checkUse runs the checks that depend on the moment and the caller.
func checkUse(c *Capability, expect Expect, nowN int64) error {
	if nowN >= c.expN {
		return fmt.Errorf("verify token %s: expired at %s: %w", c.ID, c.Expires.Format(time.RFC3339), ErrExpired)
	}
	if nowN < c.nbfN {
		return fmt.Errorf("verify token %s: not valid before %s: %w", c.ID, c.NotBefore.Format(time.RFC3339), ErrNotYetValid)
	}
	if expect.Audience != "" && c.Audience != expect.Audience {
		return fmt.Errorf("verify token %s: issued for audience %q, presented to %q: %w", c.ID, c.Audience, expect.Audience, ErrWrongAudience)
	}
	if expect.Subject != "" && c.Subject != expect.Subject {
		return fmt.Errorf("verify token %s: issued to %q, presented by %q: %w", c.ID, c.Subject, expect.Subject, ErrWrongSubject)
	}
	return nil
}

// verifyFull runs every check that depends only on the token and the keys:
// structure, algorithm, signature, claims.
func (v *Verifier) verifyFull(token string) (*Capability, error) {
	hs, ps, ss, err := splitToken(token)
	if err != nil {
		return nil, fmt.Errorf("verify token: %w", err)
	}
	hb, err := decodeSegment(hs, "header")
	if err != nil {
		return nil, fmt.Errorf("verify token: %w", err)
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, fmt.Errorf("verify token: %w", err)
	}
	// The algorithm is pinned: the header may only confirm it. The key is
	// always used as an Ed25519 key, never as an HMAC secret or not at all.
	if h.Alg != Algorithm {
		return nil, fmt.Errorf("verify token: alg %q, only %q is accepted: %w", h.Alg, Algorithm, ErrAlgorithm)
	}
	if h.Typ != Type {
		return nil, fmt.Errorf("verify token: typ %q, want %q: %w", h.Typ, Type, ErrMalformed)
	}
	pub, ok := v.keys.Lookup(h.Kid)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("verify token: key %q is not one of this host's keys: %w", h.Kid, ErrUnknownKey)
	}
	sig, err := decodeSegment(ss, "signature")
	if err != nil {
		return nil, fmt.Errorf("verify token: %w", err)
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("verify token: signature is %d bytes, want %d: %w", len(sig), ed25519.SignatureSize, ErrMalformed)
	}
	// crypto/ed25519 rejects non-canonical S, so a signature has one form.
	if !ed25519.Verify(pub, []byte(token[:len(hs)+1+len(ps)]), sig) {
		return nil, fmt.Errorf("verify token: signature by %s: %w", h.Kid, ErrBadSignature)
	}
	pb, err := decodeSegment(ps, "claims")
	if err != nil {
		return nil, fmt.Errorf("verify token: %w", err)
	}
	cl, present, err := parseClaims(pb)
	if err != nil {
		return nil, fmt.Errorf("verify token: %w", err)
	}
	c, err := claimsToCapability(h, cl, present)
	if err != nil {
		return nil, fmt.Errorf("verify token: %w", err)
	}
	if c.Issuer != v.issuer {
		return nil, fmt.Errorf("verify token %s: issuer %q, want %q: %w", c.ID, c.Issuer, v.issuer, ErrWrongIssuer)
	}
	c.Hash = TokenHash(token)
	c.verified = true
	return c, nil
}

// claimsToCapability validates the claims' content (not time, caller or
// revocation) and builds the capability.
func claimsToCapability(h Header, cl Claims, present int) (*Capability, error) {
	for _, f := range []struct{ name, val string }{{"iss", cl.Iss}, {"sub", cl.Sub}, {"aud", cl.Aud}} {
		if err := checkName(f.val); err != nil {
			return nil, fmt.Errorf("claim %s: %v: %w", f.name, err, ErrMalformed)
		}
	}
	pat, err := resource.Parse(cl.Res)
	if err != nil {
		return nil, fmt.Errorf("claim res: %v: %w", err, ErrMalformed)
	}
	if pat.String() != cl.Res {
		return nil, fmt.Errorf("claim res %q is not canonical (%q): %w", cl.Res, pat.String(), ErrMalformed)
	}
	if err := resource.CheckActions(pat.Kind(), cl.Acts); err != nil {
		return nil, fmt.Errorf("claim acts: %v: %w", err, ErrMalformed)
	}
	if !slices.IsSorted(cl.Acts) {
		return nil, fmt.Errorf("claim acts are not sorted: %w", ErrMalformed)
	}
	if cl.Iat <= 0 || cl.Nbf <= 0 || cl.Exp <= 0 || cl.Exp > maxNumericDate {
		return nil, fmt.Errorf("claims iat, nbf and exp must be positive NumericDate seconds: %w", ErrMalformed)
	}
	if cl.Exp <= cl.Nbf || cl.Exp <= cl.Iat {
		return nil, fmt.Errorf("claim exp %d is not after nbf %d and iat %d: %w", cl.Exp, cl.Nbf, cl.Iat, ErrMalformed)
	}
	if !validJTI(cl.Jti) {
		return nil, fmt.Errorf("claim jti %q is not 16 bytes in base64url: %w", cl.Jti, ErrMalformed)
	}
	if cl.Dep < 0 || cl.Dep > MaxChain {
		return nil, fmt.Errorf("claim dep %d is outside 0..%d: %w", cl.Dep, MaxChain, ErrMalformed)
	}
	if present&hasDep != 0 && cl.Dep == 0 {
		return nil, fmt.Errorf("claim dep is 0; a root token omits it: %w", ErrMalformed)
	}
	if cl.Dep == 0 && present&(hasPar|hasChain|hasAnc) != 0 {
		return nil, fmt.Errorf("claims par, chain and anc belong to delegated tokens only: %w", ErrMalformed)
	}
	if cl.Dep > 0 {
		if !validHash(cl.Par) {
			return nil, fmt.Errorf("claim par %q is not sha256:<64 hex>: %w", cl.Par, ErrMalformed)
		}
		if len(cl.Chain) != cl.Dep {
			return nil, fmt.Errorf("claim chain has %d ids, dep says %d: %w", len(cl.Chain), cl.Dep, ErrMalformed)
		}
		for _, id := range cl.Chain {
			if !validJTI(id) || id == cl.Jti {
				return nil, fmt.Errorf("claim chain holds %q, not an ancestor jti: %w", id, ErrMalformed)
			}
		}
		// Without anc, revoking an ancestor's plugin would not reach this
		// token: a delegated token lacking it is refused, not half-checked.
		if present&hasAnc == 0 {
			return nil, fmt.Errorf("delegated token lacks claim anc: %w", ErrMalformed)
		}
		if len(cl.Anc) != cl.Dep {
			return nil, fmt.Errorf("claim anc has %d entries, dep says %d: %w", len(cl.Anc), cl.Dep, ErrMalformed)
		}
		for i, a := range cl.Anc {
			if err := checkName(a.Sub); err != nil {
				return nil, fmt.Errorf("claim anc[%d].sub: %v: %w", i, err, ErrMalformed)
			}
			// No order between the iats is required: the wall clock may
			// step back between two delegations, and each ancestor's cut-off
			// is checked against its own iat.
			if a.Iat <= 0 || a.Iat > maxNumericDate {
				return nil, fmt.Errorf("claim anc[%d].iat %d is not a positive NumericDate up to 2^33: %w", i, a.Iat, ErrMalformed)
			}
		}
	}
	c := &Capability{
		KeyID: h.Kid, Issuer: cl.Iss, Subject: cl.Sub, Audience: cl.Aud,
		Resource: pat, Actions: cl.Acts, ID: cl.Jti,
		Parent: cl.Par, Depth: cl.Dep, Chain: cl.Chain, Ancestors: ancestors(cl.Chain, cl.Anc),
	}
	c.setTimes(cl.Iat, cl.Nbf, cl.Exp)
	return c, nil
}

// maxNumericDate keeps times far from int64 overflow when turned into
// nanoseconds (year 2262); year 9999 would overflow.
const maxNumericDate = 1 << 33

// checkName accepts a printable UTF-8 identifier of at most 256 bytes.
func checkName(s string) error {
	if s == "" || len(s) > 256 {
		return fmt.Errorf("must be 1 to 256 bytes")
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("contains control characters")
	}
	return nil
}

func validJTI(s string) bool {
	if len(s) != 22 {
		return false
	}
	b, err := b64.DecodeString(s)
	return err == nil && len(b) == 16
}

func validHash(s string) bool {
	hx, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hx) != 64 {
		return false
	}
	for _, r := range hx {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}
