package capability

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are the attack shapes of TestAttacks, plus genuine tokens.
func fuzzSeeds(f *testing.F) (valid []string, fx *fixture) {
	fx = newFixture(f)
	tok, root, _ := fx.iss.Mint(baseReq)
	child, childCap, _ := fx.iss.Delegate(root, Request{Audience: "b", Actions: []string{"read"}})
	// Delegated across plugins: an anc claim with two different subjects.
	grand, _, _ := fx.iss.Delegate(childCap, Request{Subject: "acme.viewer", Audience: "c"})
	hs, ps, ss, _ := splitToken(tok)
	// Broken anc claims, signed with the host key: the mutations the fuzzer
	// makes of them stay signed-looking until the signature check.
	for _, s := range ancAttacks(f, fx) {
		f.Add(s)
	}
	for _, s := range []string{
		tok, child, grand,
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
	return []string{tok, child, grand}, fx
}

// FuzzVerify: no input panics, and nothing but a genuine token's one exact
// spelling ever verifies (the fuzzer has no key, so anything else accepted
// would be a forgery or a second spelling of a real token).
func FuzzVerify(f *testing.F) {
	valid, fx := fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := fx.ver.Verify(token, Expect{}, t0.Add(time.Second))
		if err == nil {
			if !slices.Contains(valid, token) {
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
