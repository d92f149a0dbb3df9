package capability

import (
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/resource"
)

// Request asks for a token. For Delegate, empty fields are inherited from
// the parent: Subject, Resource and Actions as they are, TTL as "until the
// parent expires".
type Request struct {
	Subject   string        // sub: the plugin that will hold the token
	Audience  string        // aud: the plugin instance it is for (required)
	Resource  string        // res: a resource pattern, made canonical
	Actions   []string      // acts: valid for the resource's kind
	TTL       time.Duration // lifetime, whole seconds, 1 s up to the issuer's maximum
	NotBefore time.Time     // nbf; zero means now
}

// Defaults of an Issuer.
const (
	DefaultMaxTTL   = time.Hour
	DefaultMaxDepth = 4
)

// Issuer mints and delegates tokens with one signing key. Build it with
// NewIssuer and the With... methods (each returns a new Issuer), then use it
// from any number of goroutines. After a host key rotation, build a new
// Issuer with the ring's new Signer.
type Issuer struct {
	signer   hostkey.Signer
	name     string
	now      func() time.Time
	rand     io.Reader
	maxTTL   time.Duration
	maxDepth int
	header   string // base64url of the header, fixed per key
}

// NewIssuer returns an Issuer signing with s, iss DefaultIssuer, the system
// clock, crypto/rand for jti, DefaultMaxTTL and DefaultMaxDepth.
func NewIssuer(s hostkey.Signer) *Issuer {
	hj, _ := marshalJSON(Header{Alg: Algorithm, Typ: Type, Kid: s.KeyID()}) // three strings: cannot fail
	return &Issuer{signer: s, name: DefaultIssuer, now: time.Now, rand: rand.Reader,
		maxTTL: DefaultMaxTTL, maxDepth: DefaultMaxDepth, header: b64.EncodeToString(hj)}
}

// WithClock sets the clock used for iat, nbf and exp.
func (i *Issuer) WithClock(now func() time.Time) *Issuer { j := *i; j.now = now; return &j }

// WithRand sets the source of jti bytes (tests pin it to get fixed bytes).
func (i *Issuer) WithRand(r io.Reader) *Issuer { j := *i; j.rand = r; return &j }

// WithMaxTTL caps a token's lifetime (the enterprise policy's maximum).
func (i *Issuer) WithMaxTTL(d time.Duration) *Issuer { j := *i; j.maxTTL = d; return &j }

// WithMaxDepth caps the delegation depth: a token delegated n times has
// depth n, and Delegate refuses to go beyond max (at most MaxChain).
func (i *Issuer) WithMaxDepth(n int) *Issuer {
	j := *i
	j.maxDepth = min(max(n, 0), MaxChain)
	return &j
}

// WithName sets the iss claim.
func (i *Issuer) WithName(iss string) *Issuer { j := *i; j.name = iss; return &j }

// Mint issues a root token for req.
func (i *Issuer) Mint(req Request) (string, *Capability, error) {
	if err := checkName(req.Subject); err != nil {
		return "", nil, fmt.Errorf("mint token: subject %q: %v: %w", req.Subject, err, ErrInvalidRequest)
	}
	now := i.now()
	pat, acts, err := checkGrant(req.Resource, req.Actions)
	if err != nil {
		return "", nil, fmt.Errorf("mint token for %s: %w", req.Subject, err)
	}
	if err := i.checkTTL(req.TTL); err != nil {
		return "", nil, fmt.Errorf("mint token for %s: %w", req.Subject, err)
	}
	cl, err := i.times(req, now, now.Unix()+int64(req.TTL/time.Second))
	if err != nil {
		return "", nil, fmt.Errorf("mint token for %s: %w", req.Subject, err)
	}
	cl.Sub, cl.Res, cl.Acts = req.Subject, pat.String(), acts
	return i.sign(cl, pat)
}

// Delegate issues a child of parent, which must come from Verify (or from
// this package's Mint or Delegate): the caller verified it for the caller
// that asks to hand it on. The child may narrow but never widen: its
// resource must lie within the parent's (ErrWidenResource), its actions be a
// subset (ErrWidenActions), its expiry not be later (ErrWidenExpiry), and its
// depth not exceed the maximum (ErrDepth). The child carries the parent's
// token hash (par), the jti of every ancestor (chain) and each ancestor's
// subject and issue time (anc), so revoking any ancestor, or every token of
// any ancestor's plugin (RevokeSubject), revokes it.
func (i *Issuer) Delegate(parent *Capability, req Request) (string, *Capability, error) {
	if parent == nil || !parent.verified {
		return "", nil, fmt.Errorf("delegate token: %w", ErrNotVerified)
	}
	fail := func(err error) (string, *Capability, error) {
		return "", nil, fmt.Errorf("delegate token %s to %q: %w", parent.ID, req.Audience, err)
	}
	now := i.now()
	if now.UnixNano() >= parent.expN {
		return fail(fmt.Errorf("parent expired at %s: %w", parent.Expires.Format(time.RFC3339), ErrExpired))
	}
	if parent.Depth+1 > i.maxDepth {
		return fail(fmt.Errorf("the child would have depth %d, the limit is %d: %w", parent.Depth+1, i.maxDepth, ErrDepth))
	}
	if req.Subject == "" {
		req.Subject = parent.Subject
	}
	if err := checkName(req.Subject); err != nil {
		return fail(fmt.Errorf("subject %q: %v: %w", req.Subject, err, ErrInvalidRequest))
	}
	if req.Resource == "" {
		req.Resource = parent.Resource.String()
	}
	if req.Actions == nil {
		req.Actions = parent.Actions
	}
	pat, acts, err := checkGrant(req.Resource, req.Actions)
	if err != nil {
		return fail(err)
	}
	if !parent.Resource.Contains(pat) {
		return fail(fmt.Errorf("%s is not within %s: %w", pat, parent.Resource, ErrWidenResource))
	}
	if !resource.ActionsSubset(acts, parent.Actions) {
		return fail(fmt.Errorf("actions %s are not among %s: %w", strings.Join(acts, ","), strings.Join(parent.Actions, ","), ErrWidenActions))
	}
	exp := parent.Expires.Unix()
	if req.TTL != 0 {
		if err := i.checkTTL(req.TTL); err != nil {
			return fail(err)
		}
		exp = now.Unix() + int64(req.TTL/time.Second)
	}
	if req.NotBefore.Before(parent.NotBefore) {
		req.NotBefore = parent.NotBefore
	}
	cl, err := i.times(req, now, exp)
	if err != nil {
		return fail(err)
	}
	if cl.Exp*1e9 > parent.expN {
		return fail(fmt.Errorf("the child would expire at %s, after its parent (%s): %w",
			time.Unix(cl.Exp, 0).UTC().Format(time.RFC3339), parent.Expires.Format(time.RFC3339), ErrWidenExpiry))
	}
	cl.Sub, cl.Res, cl.Acts = req.Subject, pat.String(), acts
	cl.Par = parent.Hash
	cl.Dep = parent.Depth + 1
	cl.Chain = append(slices.Clip(parent.Chain), parent.ID)
	cl.Anc = make([]AncestorClaim, 0, len(cl.Chain))
	for _, a := range parent.Ancestors {
		cl.Anc = append(cl.Anc, AncestorClaim{Sub: a.Subject, Iat: a.IssuedAt.Unix()})
	}
	cl.Anc = append(cl.Anc, AncestorClaim{Sub: parent.Subject, Iat: parent.IssuedAt.Unix()})
	if len(cl.Anc) != len(cl.Chain) {
		// Only a Capability edited after Verify gets here; signing it would
		// issue a token whose ancestors' plugins cannot revoke it.
		return fail(fmt.Errorf("parent lists %d ancestor ids and %d ancestor subjects: %w", len(parent.Chain), len(parent.Ancestors), ErrNotVerified))
	}
	return i.sign(cl, pat)
}

// checkGrant parses the resource and checks the actions for its kind; it
// returns the actions sorted, their canonical order on the wire.
func checkGrant(res string, acts []string) (resource.Pattern, []string, error) {
	pat, err := resource.Parse(res)
	if err != nil {
		return resource.Pattern{}, nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if err := resource.CheckActions(pat.Kind(), acts); err != nil {
		return resource.Pattern{}, nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	sorted := slices.Clone(acts)
	slices.Sort(sorted)
	return pat, sorted, nil
}

// checkTTL accepts 1 s up to the issuer's maximum. Token times are whole
// seconds (RFC 7519 NumericDate), so the fraction of a second is dropped.
func (i *Issuer) checkTTL(ttl time.Duration) error {
	if ttl < time.Second || ttl > i.maxTTL {
		return fmt.Errorf("lifetime %s is outside 1s..%s: %w", ttl, i.maxTTL, ErrTTL)
	}
	return nil
}

// times fills iss, aud, iat, nbf and exp (Unix seconds, rounded down).
func (i *Issuer) times(req Request, now time.Time, exp int64) (Claims, error) {
	if err := checkName(req.Audience); err != nil {
		return Claims{}, fmt.Errorf("audience %q: %v: %w", req.Audience, err, ErrInvalidRequest)
	}
	nbf := now
	if !req.NotBefore.IsZero() {
		nbf = req.NotBefore
	}
	cl := Claims{Iss: i.name, Aud: req.Audience, Iat: now.Unix(), Nbf: nbf.Unix(), Exp: exp}
	if cl.Iat <= 0 || cl.Nbf <= 0 || cl.Exp > maxNumericDate {
		return Claims{}, fmt.Errorf("time out of range: %w", ErrInvalidRequest)
	}
	if cl.Exp <= cl.Iat || cl.Exp <= cl.Nbf {
		return Claims{}, fmt.Errorf("not-before %s leaves no validity before expiry %s: %w",
			time.Unix(cl.Nbf, 0).UTC().Format(time.RFC3339), time.Unix(cl.Exp, 0).UTC().Format(time.RFC3339), ErrTTL)
	}
	return cl, nil
}

func (i *Issuer) sign(cl Claims, pat resource.Pattern) (string, *Capability, error) {
	var jti [16]byte
	if _, err := io.ReadFull(i.rand, jti[:]); err != nil {
		return "", nil, fmt.Errorf("mint token: read random jti: %w", err)
	}
	cl.Jti = b64.EncodeToString(jti[:])
	pj, err := marshalJSON(cl)
	if err != nil {
		return "", nil, fmt.Errorf("mint token: %w", err)
	}
	input := make([]byte, 0, len(i.header)+1+b64.EncodedLen(len(pj))+1+86)
	input = append(input, i.header...)
	input = append(input, '.')
	input = b64.AppendEncode(input, pj)
	sig, err := i.signer.Sign(input)
	if err != nil {
		return "", nil, fmt.Errorf("mint token: sign with %s: %w", i.signer.KeyID(), err)
	}
	input = append(input, '.')
	input = b64.AppendEncode(input, sig)
	token := string(input)
	if len(token) > MaxTokenSize {
		return "", nil, fmt.Errorf("mint token: %d bytes, over the %d-byte limit (delegation chain too long?): %w", len(token), MaxTokenSize, ErrInvalidRequest)
	}
	c := &Capability{
		KeyID: i.signer.KeyID(), Issuer: cl.Iss, Subject: cl.Sub, Audience: cl.Aud,
		Resource: pat, Actions: cl.Acts, ID: cl.Jti, Parent: cl.Par, Depth: cl.Dep, Chain: cl.Chain,
		Ancestors: ancestors(cl.Chain, cl.Anc), Hash: TokenHash(token), verified: true,
	}
	c.setTimes(cl.Iat, cl.Nbf, cl.Exp)
	return token, c, nil
}
