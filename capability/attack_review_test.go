package capability

// Attack tests added by the independent security review (docs/threat-model.md).

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wardenproject/warden/hostkey"
)

// TestReviewDelegatedTokenDiesWithItsParent: a child delegated late in its
// parent's life, with no TTL of its own or with one that would outlive the
// parent, never outlives it: it is refused at delegation (ErrWidenExpiry) or
// expires with the parent, on the uncached and on the cached path.
func TestReviewDelegatedTokenDiesWithItsParent(t *testing.T) {
	f := newFixture(t)
	rootTok, root := f.mint(t, baseReq) // expires t0+5m
	late := f.iss.WithClock(func() time.Time { return t0.Add(4 * time.Minute) })

	if _, _, err := late.Delegate(root, Request{Audience: "inst-2", TTL: 2 * time.Minute}); !errors.Is(err, ErrWidenExpiry) {
		t.Fatalf("child outliving its parent: %v, want ErrWidenExpiry", err)
	}
	childTok, child, err := late.Delegate(root, Request{Audience: "inst-2"})
	if err != nil {
		t.Fatal(err)
	}
	grandTok, grand, err := late.Delegate(child, Request{Audience: "inst-3", Resource: "filesystem:/home/u/reports/q1/**"})
	if err != nil {
		t.Fatal(err)
	}
	if child.Expires.After(root.Expires) || grand.Expires.After(child.Expires) {
		t.Fatalf("lineage outlives its root: root %v child %v grand %v", root.Expires, child.Expires, grand.Expires)
	}
	toks := []struct{ tok, aud string }{{rootTok, "inst-1"}, {childTok, "inst-2"}, {grandTok, "inst-3"}}
	// Warm the cache while everything is valid.
	for _, x := range toks {
		if _, err := f.ver.Verify(x.tok, Expect{Audience: x.aud}, t0.Add(4*time.Minute)); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
	}
	at := root.Expires
	for _, v := range []*Verifier{f.ver, f.ver.WithCacheSize(0)} {
		for _, x := range toks {
			if c, err := v.Verify(x.tok, Expect{Audience: x.aud}, at); !errors.Is(err, ErrExpired) || c != nil {
				t.Fatalf("token for %s at its root's expiry: %v, want ErrExpired", x.aud, err)
			}
		}
	}
	// Nor can an expired parent, or a child of it, be delegated any further.
	after := f.iss.WithClock(func() time.Time { return at })
	if _, _, err := after.Delegate(child, Request{Audience: "inst-4"}); !errors.Is(err, ErrExpired) {
		t.Fatalf("delegating an expired child: %v, want ErrExpired", err)
	}
}

// TestReviewEmbeddedKeyHeaders: a token that carries its own verification
// key (JWS "jwk", "x5c", "x5u") signed by that key is refused: only the
// host's key set decides, whatever the header offers.
func TestReviewEmbeddedKeyHeaders(t *testing.T) {
	f := newFixture(t)
	tok, _ := f.mint(t, baseReq)
	_, ps, _, _ := splitToken(tok)
	claims, _ := b64.DecodeString(ps)
	pub, priv, _ := ed25519.GenerateKey(nil)
	evil := hostkey.NewSigner(priv)
	x := base64.RawURLEncoding.EncodeToString(pub)
	for _, tc := range []struct {
		name, header string
		want         error
	}{
		{"jwk with the attacker's kid", fmt.Sprintf(`{"alg":"EdDSA","typ":%q,"kid":%q,"jwk":{"kty":"OKP","crv":"Ed25519","x":%q}}`, Type, evil.KeyID(), x), ErrMalformed},
		{"jwk with the host's kid", fmt.Sprintf(`{"alg":"EdDSA","typ":%q,"kid":%q,"jwk":{"kty":"OKP","crv":"Ed25519","x":%q}}`, Type, f.signer.KeyID(), x), ErrMalformed},
		{"x5u", fmt.Sprintf(`{"alg":"EdDSA","typ":%q,"kid":%q,"x5u":"https://evil.example/k"}`, Type, f.signer.KeyID()), ErrMalformed},
		{"x5c", fmt.Sprintf(`{"alg":"EdDSA","typ":%q,"kid":%q,"x5c":["MIIB"]}`, Type, f.signer.KeyID()), ErrMalformed},
		{"attacker kid, no embedded key", fmt.Sprintf(`{"alg":"EdDSA","typ":%q,"kid":%q}`, Type, evil.KeyID()), ErrUnknownKey},
		{"kid with path characters", fmt.Sprintf(`{"alg":"EdDSA","typ":%q,"kid":"../../hostkey"}`, Type), ErrUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forged := signRaw(priv, tc.header, string(claims))
			for _, v := range []*Verifier{f.ver.WithCacheSize(0), f.ver} {
				if c, err := v.Verify(forged, who, t0); !errors.Is(err, tc.want) || c != nil {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
			}
		})
	}
}

// TestReviewRevokeSubjectReachesDelegatedTokens: revoking a plugin
// (RevokeSubject, what uninstall and quarantine do) also stops tokens that
// plugin delegated to another plugin, as revoking a jti stops its
// descendants (V-3, fixed: a delegated token carries each ancestor's
// subject and iat in its anc claim, and Check applies every ancestor's
// subject cut-off).
func TestReviewRevokeSubjectReachesDelegatedTokens(t *testing.T) {
	f := newFixture(t)
	_, root := f.mint(t, baseReq)
	childTok, _, err := f.iss.Delegate(root, Request{Subject: "acme.viewer", Audience: "inst-9"})
	if err != nil {
		t.Fatal(err)
	}
	f.rev.RevokeSubject(root.Subject, t0.Add(time.Second))
	if _, err := f.ver.Verify(childTok, Expect{Subject: "acme.viewer", Audience: "inst-9"}, t0); !errors.Is(err, ErrRevokedAncestor) {
		t.Fatalf("a token delegated by a revoked plugin to another plugin: %v, want ErrRevokedAncestor", err)
	}
}
