package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardenproject/warden/capability"
)

func mintCLI(t *testing.T, home string, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, home, append([]string{"token", "mint"}, args...)...)
	if code != 0 {
		t.Fatalf("mint: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "development only") {
		t.Fatalf("mint printed no warning: %q", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

var mintArgs = []string{"--sub", "acme.sheets", "--aud", "dev", "--res", "filesystem:/tmp/x/**", "--acts", "read,list", "--ttl", "60s"}

func TestTokenMintVerifyInspect(t *testing.T) {
	home := t.TempDir()
	tok := mintCLI(t, home, mintArgs...)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("last line is not a token: %q", tok)
	}
	code, out, errOut := runCLI(t, home, "token", "verify", tok, "--aud", "dev", "--sub", "acme.sheets")
	if code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, home, "token", "verify", tok, "--json")
	var v struct {
		Valid      bool           `json:"valid"`
		Capability map[string]any `json:"capability"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || !v.Valid || v.Capability["res"] != "filesystem:/tmp/x" {
		t.Fatalf("verify --json: exit %d\n%s", code, out)
	}
	// inspect needs no key: an empty home works.
	code, out, _ = runCLI(t, t.TempDir(), "token", "inspect", tok)
	if code != 0 || !strings.Contains(out, "acme.sheets") || !strings.Contains(out, "not verified") || !strings.Contains(out, "sha256:") {
		t.Fatalf("inspect: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "", "token", "inspect", tok, "--json")
	var in struct {
		Claims  capability.Claims `json:"claims"`
		Expires string            `json:"expires"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &in) != nil || in.Claims.Sub != "acme.sheets" || in.Expires == "" {
		t.Fatalf("inspect --json: exit %d\n%s", code, out)
	}
	// "-" reads the token from stdin.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"token", "inspect", "-"}, strings.NewReader(tok+"\n"), &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "acme.sheets") {
		t.Fatalf("inspect -: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

func TestTokenVerifyRefusals(t *testing.T) {
	home := t.TempDir()
	tok := mintCLI(t, home, mintArgs...)
	other := t.TempDir()
	otherTok := mintCLI(t, other, mintArgs...)
	sigFlip := tok[:len(tok)-3] + map[bool]string{true: "B", false: "A"}[tok[len(tok)-3] == 'A'] + tok[len(tok)-2:]
	for _, tc := range []struct {
		name, token string
		args        []string
		code        string
	}{
		{"wrong audience", tok, []string{"--aud", "prod"}, "wrong_audience"},
		{"wrong subject", tok, []string{"--sub", "evil"}, "wrong_subject"},
		{"another host's key", otherTok, nil, "unknown_key"},
		{"tampered", sigFlip, nil, "bad_signature"},
		{"garbage", "not-a-token", nil, "malformed"},
		{"huge", strings.Repeat("A", 1<<20), nil, "too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, home, append([]string{"token", "verify", tc.token}, tc.args...)...)
			if code != 1 || !strings.Contains(errOut, "hint:") {
				t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
			}
			code, out, _ := runCLI(t, home, append([]string{"token", "verify", tc.token, "--json"}, tc.args...)...)
			var v struct {
				Valid bool   `json:"valid"`
				Code  string `json:"code"`
			}
			if code != 1 || json.Unmarshal([]byte(out), &v) != nil || v.Valid || v.Code != tc.code {
				t.Fatalf("--json: exit %d, %s; want code %s", code, out, tc.code)
			}
		})
	}
	// Revocations come through the seam the store will fill.
	saved := tokenRevocations
	t.Cleanup(func() { tokenRevocations = saved })
	in, err := capability.Inspect(tok)
	if err != nil {
		t.Fatal(err)
	}
	tokenRevocations = func(*app, string) (*capability.RevocationSet, error) {
		s := capability.NewRevocationSet()
		s.Revoke(in.Claims.Jti)
		return s, nil
	}
	if code, _, errOut := runCLI(t, home, "token", "verify", tok); code != 1 || !strings.Contains(errOut, "revoked") {
		t.Fatalf("revoked token: exit %d, %s", code, errOut)
	}
}

func TestTokenMintUsage(t *testing.T) {
	home := t.TempDir()
	if code, _, _ := runCLI(t, home, "token", "mint", "--sub", "x"); code != 2 {
		t.Fatalf("missing flags: exit %d, want 2", code)
	}
	if code, _, errOut := runCLI(t, home, "token", "mint", "--sub", "x", "--aud", "y", "--res", "clipboard", "--acts", "spawn"); code != 2 || !strings.Contains(errOut, "spawn") {
		t.Fatalf("bad action: exit %d, %s", code, errOut)
	}
	if code, _, _ := runCLI(t, home, "token", "mint", "--sub", "x", "--aud", "y", "--res", "clipboard", "--acts", "read", "--ttl", "2h"); code != 2 {
		t.Fatalf("ttl over the maximum: exit %d, want 2", code)
	}
}

// TestTokenMintIsAudited: a token made by hand bypasses policy and grants,
// so its minting must be in the trail (issue 10): the event names what it
// grants, to whom, and its hash, never the token itself. A mint that fails
// writes nothing.
func TestTokenMintIsAudited(t *testing.T) {
	home := t.TempDir()
	tok := mintCLI(t, home, mintArgs...)
	if code, _, _ := runCLI(t, home, "token", "mint", "--sub", "x", "--aud", "y", "--res", "clipboard", "--acts", "spawn"); code != 2 {
		t.Fatalf("a refused mint exited %d", code)
	}
	code, out, errOut := runCLI(t, home, "--json", "audit", "tail", "-n", "20")
	if code != 0 {
		t.Fatalf("audit tail: exit %d: %s", code, errOut)
	}
	if strings.Contains(out, tok) {
		t.Fatal("the audit trail holds the token itself")
	}
	var mints []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit tail --json line %q: %v", line, err)
		}
		if ev["action"] == "token.mint" {
			mints = append(mints, ev)
		}
	}
	if len(mints) != 1 {
		t.Fatalf("%d token.mint events, want 1:\n%s", len(mints), out)
	}
	ev := mints[0]
	d, _ := ev["detail"].(map[string]any)
	if ev["resource"] != "filesystem:/tmp/x" || ev["cap_hash"] != capability.TokenHash(tok) ||
		d["subject"] != "acme.sheets" || d["audience"] != "dev" || d["actions"] != "list,read" {
		t.Fatalf("token.mint event %v", ev)
	}
}
