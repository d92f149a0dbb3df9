package capability

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
// needs to reproduce and verify one root and one delegated token.
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
	ChildRequest vecReq   `json:"child_request"`
	ChildToken   string   `json:"child_token"`
	ChildClaims  string   `json:"child_claims_json"`
}

func TestVector(t *testing.T) {
	f := newFixture(t)
	req := Request{Subject: "acme.sheets", Audience: "inst-1", Resource: "net:https://api.example.com/v1/items/*", Actions: []string{"post", "get"}, TTL: 5 * time.Minute}
	tok, root := f.mint(t, req)
	childReq := Request{Subject: "acme.viewer", Audience: "inst-2", Actions: []string{"get"}, TTL: time.Minute}
	childTok, _, err := f.iss.Delegate(root, childReq)
	if err != nil {
		t.Fatal(err)
	}
	_, ps, _, _ := splitToken(tok)
	hs := f.iss.header
	hj, _ := b64.DecodeString(hs)
	pj, _ := b64.DecodeString(ps)
	_, cps, _, _ := splitToken(childTok)
	cj, _ := b64.DecodeString(cps)
	jti := make([]byte, 32)
	(&countingRand{}).Read(jti)
	got := vector{
		Comment:      "warden capability token test vector; see docs/tokens.md. jti bytes are consumed 16 per token, root first.",
		SeedHex:      hex.EncodeToString(hostSeed),
		PublicHex:    hex.EncodeToString(f.signer.Public()),
		KeyID:        f.signer.KeyID(),
		Now:          t0.Unix(),
		JTIBytesHex:  []string{hex.EncodeToString(jti[:16]), hex.EncodeToString(jti[16:])},
		Request:      toVec(req),
		Token:        tok,
		TokenHash:    TokenHash(tok),
		HeaderJSON:   string(hj),
		ClaimsJSON:   string(pj),
		ChildRequest: toVec(childReq),
		ChildToken:   childTok,
		ChildClaims:  string(cj),
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
	// The pinned tokens verify at the pinned time, the child with its chain.
	var v vector
	if err := json.Unmarshal(want, &v); err != nil {
		t.Fatal(err)
	}
	c, err := f.ver.Verify(v.Token, Expect{Subject: "acme.sheets", Audience: "inst-1"}, time.Unix(v.Now, 0))
	if err != nil || c.Hash != v.TokenHash {
		t.Fatalf("vector token: %v", err)
	}
	cc, err := f.ver.Verify(v.ChildToken, Expect{Subject: "acme.viewer", Audience: "inst-2"}, time.Unix(v.Now, 0))
	if err != nil || cc.Parent != v.TokenHash || cc.Chain[0] != c.ID {
		t.Fatalf("vector child token: %v", err)
	}
}

// The signature is plain Ed25519 (RFC 8032) over the JWS signing input, as
// an independent implementation (openssl) checks it.
func TestVectorSignatureWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
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
	for i, tok := range []string{v.Token, v.ChildToken} {
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
				t.Skipf("this openssl cannot verify raw Ed25519: %s", out)
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
	for _, s := range []string{v.Token, v.ChildToken, v.TokenHash, v.ClaimsJSON, v.ChildClaims, v.HeaderJSON, v.SeedHex, v.PublicHex} {
		if !strings.Contains(string(doc), s) {
			t.Errorf("docs/tokens.md lacks %.60s...", s)
		}
	}
}
