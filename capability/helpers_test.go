package capability

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/wardenproject/warden/hostkey"
)

// t0 is the fixed clock of every test.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// hostSeed is the fixed test host key (also in testdata/vector.json).
var hostSeed = func() []byte {
	b := make([]byte, ed25519.SeedSize)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

type staticKeys map[string]ed25519.PublicKey

func (k staticKeys) Lookup(id string) (ed25519.PublicKey, bool) { p, ok := k[id]; return p, ok }

// countingRand yields 0x00, 0x01, 0x02, ... so jti values are fixed.
type countingRand struct{ n byte }

func (r *countingRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

type fixture struct {
	priv   ed25519.PrivateKey
	signer hostkey.Signer
	iss    *Issuer
	ver    *Verifier
	rev    *RevocationSet
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(hostSeed)
	s := hostkey.NewSigner(priv)
	rev := NewRevocationSet()
	return &fixture{
		priv:   priv,
		signer: s,
		iss:    NewIssuer(s).WithClock(func() time.Time { return t0 }).WithRand(&countingRand{}),
		ver:    NewVerifier(staticKeys{s.KeyID(): s.Public()}).WithRevocations(rev),
		rev:    rev,
	}
}

func (f *fixture) mint(t testing.TB, req Request) (string, *Capability) {
	t.Helper()
	tok, c, err := f.iss.Mint(req)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok, c
}

var baseReq = Request{
	Subject: "acme.sheets", Audience: "inst-1",
	Resource: "filesystem:/home/u/reports/**", Actions: []string{"read", "list"}, TTL: 5 * time.Minute,
}

var who = Expect{Subject: "acme.sheets", Audience: "inst-1"}

// signRaw builds a token from raw header and claims JSON, signed by priv:
// how a test plays a buggy or hostile issuer that holds a trusted key.
func signRaw(priv ed25519.PrivateKey, headerJSON, claimsJSON string) string {
	in := b64.EncodeToString([]byte(headerJSON)) + "." + b64.EncodeToString([]byte(claimsJSON))
	return in + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(in)))
}

// hostHeader is the header a genuine host writes.
func hostHeader(s hostkey.Signer) string {
	b, _ := json.Marshal(Header{Alg: Algorithm, Typ: Type, Kid: s.KeyID()})
	return string(b)
}
