package capability

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestVectorFromSpec rebuilds testdata/vector.json from docs/tokens.md and
// the Go standard library alone — key id, header, claims, signatures (pure
// Ed25519 is deterministic), token hashes, the delegation rules of §8 and
// the revocation rules of §6 — sharing no code with this package, so that
// the pinned bytes are the specification's and not only what the issuer
// happened to write. TestVector then checks the issuer and verifier against
// the same file.
func TestVectorFromSpec(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "vector.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	b64url := base64.RawURLEncoding
	seed, _ := hex.DecodeString(v.SeedHex)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	if hex.EncodeToString(pub) != v.PublicHex {
		t.Errorf("public key of the seed %x, the vector says %s", pub, v.PublicHex)
	}
	sum := sha256.Sum256(pub)
	kid := "ed25519:" + hex.EncodeToString(sum[:8]) // §2
	if kid != v.KeyID {
		t.Errorf("kid %s, the vector says %s", kid, v.KeyID)
	}
	// §3: members in the order of the table, no white space, no HTML
	// escaping; acts sorted.
	marshal := func(x any) []byte {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			t.Fatal(err)
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	header := marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}{"EdDSA", "warden-cap+jwt", kid})
	if string(header) != v.HeaderJSON {
		t.Errorf("header %s, the vector says %s", header, v.HeaderJSON)
	}
	type anc struct {
		Sub string `json:"sub"`
		Iat int64  `json:"iat"`
	}
	type claims struct {
		Iss   string   `json:"iss"`
		Sub   string   `json:"sub"`
		Aud   string   `json:"aud"`
		Res   string   `json:"res"`
		Acts  []string `json:"acts"`
		Exp   int64    `json:"exp"`
		Nbf   int64    `json:"nbf"`
		Iat   int64    `json:"iat"`
		Jti   string   `json:"jti"`
		Par   string   `json:"par,omitempty"`
		Dep   int      `json:"dep,omitempty"`
		Chain []string `json:"chain,omitempty"`
		Anc   []anc    `json:"anc,omitempty"`
	}
	sign := func(c claims) (string, string) {
		input := b64url.EncodeToString(header) + "." + b64url.EncodeToString(marshal(c))
		tok := input + "." + b64url.EncodeToString(ed25519.Sign(priv, []byte(input)))
		h := sha256.Sum256([]byte(tok))
		return tok, "sha256:" + hex.EncodeToString(h[:])
	}
	jtiBytes := make([][]byte, len(v.JTIBytesHex))
	for i, s := range v.JTIBytesHex {
		jtiBytes[i], _ = hex.DecodeString(s)
	}
	sorted := func(a []string) []string { a = slices.Clone(a); slices.Sort(a); return a }

	root := claims{Iss: "warden", Sub: v.Request.Subject, Aud: v.Request.Audience, Res: v.Request.Resource,
		Acts: sorted(v.Request.Actions), Exp: v.Now + v.Request.TTLSeconds, Nbf: v.Now, Iat: v.Now, Jti: b64url.EncodeToString(jtiBytes[0])}
	rootTok, rootHash := sign(root)
	// §8: omitted fields inherit; nbf never earlier than the parent's; the
	// child expires no later than its parent; par, dep, chain and anc grow.
	// No nbf is requested, so the child's is the parent's.
	delegate := func(parent claims, parentHash string, r vecReq, now int64, jti []byte) claims {
		c := claims{Iss: "warden", Sub: r.Subject, Aud: r.Audience, Res: r.Resource, Acts: sorted(r.Actions),
			Nbf: parent.Nbf, Iat: now, Jti: b64url.EncodeToString(jti), Par: parentHash, Dep: parent.Dep + 1,
			Chain: append(slices.Clone(parent.Chain), parent.Jti), Anc: append(slices.Clone(parent.Anc), anc{parent.Sub, parent.Iat})}
		if c.Sub == "" {
			c.Sub = parent.Sub
		}
		if c.Res == "" {
			c.Res = parent.Res
		}
		if len(c.Acts) == 0 {
			c.Acts = parent.Acts
		}
		c.Exp = parent.Exp
		if r.TTLSeconds > 0 {
			c.Exp = min(now+r.TTLSeconds, parent.Exp)
		}
		return c
	}
	child := delegate(root, rootHash, v.ChildRequest, v.ChildNow, jtiBytes[1])
	childTok, childHash := sign(child)
	grand := delegate(child, childHash, v.GrandRequest, v.GrandNow, jtiBytes[2])
	grandTok, _ := sign(grand)

	for _, c := range []struct{ name, got, want string }{
		{"claims", string(marshal(root)), v.ClaimsJSON}, {"token", rootTok, v.Token}, {"token hash", rootHash, v.TokenHash},
		{"child claims", string(marshal(child)), v.ChildClaims}, {"child token", childTok, v.ChildToken}, {"child hash", childHash, v.ChildHash},
		{"grandchild claims", string(marshal(grand)), v.GrandClaims}, {"grandchild token", grandTok, v.GrandToken},
	} {
		if c.got != c.want {
			t.Errorf("%s from the specification:\n %s\nthe vector pins\n %s", c.name, c.got, c.want)
		}
	}

	// §6 and §4 step 13: a subject cut-off revokes a token whose own sub
	// and iat fall under it, and, through anc, every descendant.
	for _, rc := range v.Revocations {
		for i, c := range []claims{root, child, grand} {
			code := ""
			if c.Sub == rc.Subject && c.Iat < rc.Before {
				code = "revoked"
			} else {
				for _, a := range c.Anc {
					if a.Sub == rc.Subject && a.Iat < rc.Before {
						code = "revoked_ancestor"
					}
				}
			}
			if code != rc.Codes[i] {
				t.Errorf("RevokeSubject(%s, %d): token %d is %q by the specification, the vector pins %q", rc.Subject, rc.Before, i, code, rc.Codes[i])
			}
		}
	}
}
