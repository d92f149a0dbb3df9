package capability

import (
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are the attack shapes of TestAttacks, plus genuine tokens.
func fuzzSeeds(f *testing.F) (valid []string, fx *fixture) {
	fx = newFixture(f)
	tok, root, _ := fx.iss.Mint(baseReq)
	child, _, _ := fx.iss.Delegate(root, Request{Audience: "b", Actions: []string{"read"}})
	hs, ps, ss, _ := splitToken(tok)
	for _, s := range []string{
		tok, child,
		hs + "." + ps + ".",
		"eyJhbGciOiJub25lIn0." + ps + ".",
		tok + ".AAAA",
		tok[:len(tok)-5],
		hs + "." + ps + "." + ss + "==",
		strings.Replace(tok, ".", "\n.", 1),
		"..",
		"a.b.c",
		signRaw(fx.priv, hostHeader(fx.signer), `{"aud":"a","aud":"b"}`),
		signRaw(fx.priv, `{"alg":"EdDSA","alg":"none"}`, `{}`),
	} {
		f.Add(s)
	}
	return []string{tok, child}, fx
}

// FuzzVerify: no input panics, and nothing but a genuine token's one exact
// spelling ever verifies (the fuzzer has no key, so anything else accepted
// would be a forgery or a second spelling of a real token).
func FuzzVerify(f *testing.F) {
	valid, fx := fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := fx.ver.Verify(token, Expect{}, t0.Add(time.Second))
		if err == nil {
			if token != valid[0] && token != valid[1] {
				t.Fatalf("accepted a token that was never minted: %q", token)
			}
			if c == nil {
				t.Fatal("nil capability without error")
			}
		} else if ErrorCode(err) == "error" {
			t.Fatalf("error without a stable code: %v", err)
		}
	})
}

// FuzzParse covers the decoding that Inspect shares with Verify.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, token string) {
		in, err := Inspect(token)
		if err == nil && in == nil {
			t.Fatal("nil inspection without error")
		}
	})
}
