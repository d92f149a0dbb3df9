package capability

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/testenv"

	"github.com/wardenproject/warden/keyfile"
)

// vecReq is a Request as the vector shows it.
type vecReq struct {
	Subject    string   `json:"sub"`
	Audience   string   `json:"aud"`
	Resource   string   `json:"res,omitempty"`
	Actions    []string `json:"acts"`
	TTLSeconds int64    `json:"ttl_seconds"`
}

func toVec(r Request) vecReq {
	return vecReq{r.Subject, r.Audience, r.Resource, r.Actions, int64(r.TTL / time.Second)}
}

var update = flag.Bool("update", false, "rewrite testdata/vector.json")

// vector is testdata/vector.json: everything an independent implementation
// needs to reproduce and verify a root token, its child delegated to another
// plugin and that child's child, and to check that a subject cut-off
// reaches the descendants held by other plugins.
type vector struct {
	Comment      string   `json:"comment"`
	SeedHex      string   `json:"ed25519_seed_hex"`
	PublicHex    string   `json:"ed25519_public_hex"`
	KeyID        string   `json:"kid"`
	Now          int64    `json:"now"`
	JTIBytesHex  []string `json:"jti_random_bytes_hex"`
	Request      vecReq   `json:"request"`
	Token        string   `json:"token"`
	TokenHash    string   `json:"token_hash"`
	HeaderJSON   string   `json:"header_json"`
	ClaimsJSON   string   `json:"claims_json"`
	ChildNow     int64    `json:"child_now"`
	ChildRequest vecReq   `json:"child_request"`
	ChildToken   string   `json:"child_token"`
	ChildHash    string   `json:"child_token_hash"`
	ChildClaims  string   `json:"child_claims_json"`
	GrandNow     int64    `json:"grandchild_now"`
	GrandRequest vecReq   `json:"grandchild_request"`
	GrandToken   string   `json:"grandchild_token"`
	GrandClaims  string   `json:"grandchild_claims_json"`
	Revocations  []vecRev `json:"subject_revocation_cases"`
}

// vecRev is one subject cut-off and the error code each pinned token then
// gets from Verify at grandchild_now ("" for valid): root, child, grandchild.
type vecRev struct {
	Subject string    `json:"revoke_subject"`
	Before  int64     `json:"before"`
	Codes   [3]string `json:"codes"`
}

// vecRevCases are the cut-offs the vector pins: just after and exactly at
// each token's iat, for each of the three plugins.
var vecRevCases = []struct {
	sub    string
	before int64 // seconds after now
}{{"acme.sheets", 1}, {"acme.sheets", 0}, {"acme.viewer", 6}, {"acme.viewer", 5}, {"acme.export", 11}}

func TestVector(t *testing.T) {
	f := newFixture(t)
	req := Request{Subject: "acme.sheets", Audience: "inst-1", Resource: "net:https://api.example.com/v1/items/*", Actions: []string{"post", "get"}, TTL: 5 * time.Minute}
	tok, root := f.mint(t, req)
	childAt, grandAt := t0.Add(5*time.Second), t0.Add(10*time.Second)
	childReq := Request{Subject: "acme.viewer", Audience: "inst-2", Actions: []string{"get"}, TTL: time.Minute}
	childTok, child, err := f.iss.WithClock(func() time.Time { return childAt }).Delegate(root, childReq)
	if err != nil {
		t.Fatal(err)
	}
	grandReq := Request{Subject: "acme.export", Audience: "inst-3", Resource: "net:https://api.example.com/v1/items/42", TTL: 30 * time.Second}
	grandTok, _, err := f.iss.WithClock(func() time.Time { return grandAt }).Delegate(child, grandReq)
	if err != nil {
		t.Fatal(err)
	}
	claimsOf := func(tok string) string {
		_, ps, _, _ := splitToken(tok)
		b, _ := b64.DecodeString(ps)
		return string(b)
	}
	hj, _ := b64.DecodeString(f.iss.header)
	jti := make([]byte, 48)
	(&countingRand{}).Read(jti)
	toks := []string{tok, childTok, grandTok}
	var revs []vecRev
	for _, rc := range vecRevCases {
		r := vecRev{Subject: rc.sub, Before: t0.Unix() + rc.before}
		set := NewRevocationSet()
		set.RevokeSubject(r.Subject, time.Unix(r.Before, 0))
		v := f.ver.WithRevocations(set)
		for i, tk := range toks {
			_, err := v.Verify(tk, Expect{}, grandAt)
			r.Codes[i] = ErrorCode(err)
		}
		revs = append(revs, r)
	}
	got := vector{
		Comment:      "warden capability token test vector; see docs/tokens.md. jti bytes are consumed 16 per token, root first.",
		SeedHex:      hex.EncodeToString(hostSeed),
		PublicHex:    hex.EncodeToString(f.signer.Public()),
		KeyID:        f.signer.KeyID(),
		Now:          t0.Unix(),
		JTIBytesHex:  []string{hex.EncodeToString(jti[:16]), hex.EncodeToString(jti[16:32]), hex.EncodeToString(jti[32:])},
		Request:      toVec(req),
		Token:        tok,
		TokenHash:    TokenHash(tok),
		HeaderJSON:   string(hj),
		ClaimsJSON:   claimsOf(tok),
		ChildNow:     childAt.Unix(),
		ChildRequest: toVec(childReq),
		ChildToken:   childTok,
		ChildHash:    TokenHash(childTok),
		ChildClaims:  claimsOf(childTok),
		GrandNow:     grandAt.Unix(),
		GrandRequest: toVec(grandReq),
		GrandToken:   grandTok,
		GrandClaims:  claimsOf(grandTok),
		Revocations:  revs,
	}
	data, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	path := filepath.Join("testdata", "vector.json")
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestVector -update to create it)", err)
	}
	if !bytes.Equal(want, data) {
		t.Fatalf("token bytes changed; if on purpose, run go test -run TestVector -update and update docs/tokens.md\n got: %s", data)
	}
	// The pinned tokens verify at the pinned times, with their lineage.
	var v vector
	if err := json.Unmarshal(want, &v); err != nil {
		t.Fatal(err)
	}
	c, err := f.ver.Verify(v.Token, Expect{Subject: "acme.sheets", Audience: "inst-1"}, time.Unix(v.Now, 0))
	if err != nil || c.Hash != v.TokenHash {
		t.Fatalf("vector token: %v", err)
	}
	cc, err := f.ver.Verify(v.ChildToken, Expect{Subject: "acme.viewer", Audience: "inst-2"}, time.Unix(v.ChildNow, 0))
	if err != nil || cc.Parent != v.TokenHash || cc.Chain[0] != c.ID || cc.Ancestors[0] != (Ancestor{c.ID, "acme.sheets", c.IssuedAt}) {
		t.Fatalf("vector child token: %v", err)
	}
	gc, err := f.ver.Verify(v.GrandToken, Expect{Subject: "acme.export", Audience: "inst-3"}, time.Unix(v.GrandNow, 0))
	if err != nil || gc.Parent != v.ChildHash || len(gc.Ancestors) != 2 || gc.Ancestors[1] != (Ancestor{cc.ID, "acme.viewer", child.IssuedAt}) {
		t.Fatalf("vector grandchild token: %v %+v", err, gc)
	}
}

// The signature is plain Ed25519 (RFC 8032) over the JWS signing input, as
// an independent implementation (openssl) checks it.
func TestVectorSignatureWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	testenv.Need(t, "openssl", err)
	data, err := os.ReadFile(filepath.Join("testdata", "vector.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	pubRaw, _ := hex.DecodeString(v.PublicHex)
	pemPub, err := keyfile.MarshalPublic(pubRaw)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, tok := range []string{v.Token, v.ChildToken, v.GrandToken} {
		hs, ps, ss, err := splitToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := b64.DecodeString(ss)
		files := map[string][]byte{"pub.pem": pemPub, "in": []byte(hs + "." + ps), "sig": sig}
		for name, b := range files {
			os.WriteFile(filepath.Join(dir, name), b, 0o600)
		}
		cmd := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "in", "-sigfile", "sig")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			if strings.Contains(string(out), "rawin") || strings.Contains(string(out), "nknown option") {
				testenv.Need(t, "an openssl that verifies raw Ed25519 (3.0 or later)", fmt.Errorf("%s", out))
			}
			t.Fatalf("token %d: openssl does not accept the signature: %v\n%s", i, err, out)
		}
	}
}

// docs/tokens.md quotes the vector; it must not drift from testdata.
func TestVectorInDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "tokens.md"))
	if err != nil {
		t.Skip("docs/tokens.md not found:", err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "vector.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{v.Token, v.ChildToken, v.GrandToken, v.TokenHash, v.ChildHash,
		v.ClaimsJSON, v.ChildClaims, v.GrandClaims, v.HeaderJSON, v.SeedHex, v.PublicHex} {
		if !strings.Contains(string(doc), s) {
			t.Errorf("docs/tokens.md lacks %.60s...", s)
		}
	}
}
