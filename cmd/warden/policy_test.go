package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/store"
)

const sheetsManifest = `{
  "name": "acme-sheets",
  "version": "1.2.0",
  "description": "Spreadsheets.",
  "entry": "plugin.wasm",
  "runtime": "wasm",
  "publisher": {"name": "acme", "key_id": "ed25519:0123456789abcdef"},
  "permissions": [
    {"resource": "filesystem:/data/**", "actions": ["read", "write"], "reason": "reads and writes sheets"},
    {"resource": "net:https://api.acme.com/**", "actions": ["get"], "reason": "fetches rates"}
  ]
}`

// installTestPlugin puts acme-sheets in the installed plugins table, as the
// install command (another issue) will.
func installTestPlugin(t *testing.T, homeDir string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Path(homeDir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.UpsertPlugin(ctx, store.Plugin{ID: "acme-sheets", Version: "1.2.0", Publisher: "acme",
		KeyID: "ed25519:0123456789abcdef", Manifest: json.RawMessage(sheetsManifest)}); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyCheck(t *testing.T) {
	home := t.TempDir()
	good := "../../policy/testdata/enterprise.yaml"
	code, out, errOut := runCLI(t, home, "policy", "check", good)
	if code != 0 || !strings.Contains(out, "valid policy, 6 rules") {
		t.Fatalf("check good: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, home, "policy", "check", good, "--json")
	var ok policyCheckJSON
	if code != 0 || json.Unmarshal([]byte(out), &ok) != nil || !ok.Valid || ok.Rules != 6 {
		t.Fatalf("check --json good: exit %d %s", code, out)
	}

	bad := "../../policy/testdata/bad.yaml"
	code, _, errOut = runCLI(t, home, "policy", "check", bad)
	if code != 1 || !strings.Contains(errOut, bad+":6:13: rules[0].effect:") || !strings.Contains(errOut, "hint:") {
		t.Fatalf("check bad: exit %d\n%s", code, errOut)
	}
	code, out, _ = runCLI(t, home, "policy", "check", "--json", bad)
	var res policyCheckJSON
	if code != 1 || json.Unmarshal([]byte(out), &res) != nil || res.Valid || len(res.Errors) != 8 || res.Errors[0].Line != 2 || res.Errors[0].Column != 16 {
		t.Fatalf("check --json bad: exit %d %s", code, out)
	}
	if code, _, errOut := runCLI(t, home, "policy", "check", filepath.Join(home, "missing.yaml")); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Fatalf("missing file: exit %d %s", code, errOut)
	}
}

func TestPolicyExplain(t *testing.T) {
	home := t.TempDir()
	installTestPlugin(t, home)

	// No policy file, no grant: the built-in default denies.
	code, out, errOut := runCLI(t, home, "policy", "explain", "--plugin", "acme-sheets", "--resource", "filesystem:/data/a.csv", "--action", "read")
	if code != 0 || !strings.HasPrefix(out, "deny (default)\n") || !strings.Contains(out, "policy: built-in") {
		t.Fatalf("explain without grant: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, home, "grant", "acme-sheets", "filesystem:/data/**", "read"); code != 0 {
		t.Fatalf("grant: %s", errOut)
	}
	code, out, _ = runCLI(t, home, "policy", "explain", "--json", "--plugin", "acme-sheets", "--resource", "filesystem:/data/a.csv", "--action", "read")
	var d explainJSON
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.Effect != "allow" || d.By != "grant:1" || d.MaxTTLSeconds != 3600 ||
		!strings.HasPrefix(d.Manifest, "installed plugin acme-sheets") {
		t.Fatalf("explain with grant: exit %d %s", code, out)
	}

	// The home's policy.yaml applies when present; a deny rule beats the grant.
	writeFile(t, home, "policy.yaml", "version: 1\nrules:\n  - {id: no-data, effect: deny, resource: \"filesystem:/data/**\", reason: Data stays put}\n")
	code, out, _ = runCLI(t, home, "policy", "explain", "--plugin", "acme-sheets", "--resource", "filesystem:/data/a.csv", "--action", "read")
	if code != 0 || !strings.HasPrefix(out, "deny (rule:no-data)\n") || !strings.Contains(out, "Data stays put.") {
		t.Fatalf("explain with home policy: exit %d\n%s", code, out)
	}
	// --policy overrides it.
	other := writeFile(t, t.TempDir(), "p.json", `{"version": 1}`)
	code, out, _ = runCLI(t, home, "policy", "explain", "--policy", other, "--plugin", "acme-sheets", "--resource", "filesystem:/data/a.csv", "--action", "read")
	if code != 0 || !strings.HasPrefix(out, "allow (grant:1)") {
		t.Fatalf("explain --policy: exit %d\n%s", code, out)
	}
	// An action the kind does not have, or an unknown kind, is a usage
	// error naming the valid ones (issue 12), not a policy question.
	if code, _, errOut := runCLI(t, home, "policy", "explain", "--plugin", "acme-sheets", "--resource", "filesystem:/data/a.csv", "--action", "fly"); code != 2 ||
		!strings.Contains(errOut, `"fly" is not an action on filesystem`) || !strings.Contains(errOut, "delete, list, read, write") {
		t.Fatalf("--action fly: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, home, "policy", "explain", "--plugin", "acme-sheets", "--resource", "fs:/data/a.csv", "--action", "read"); code != 2 || !strings.Contains(errOut, "valid kinds") {
		t.Fatalf("unknown kind: exit %d %s", code, errOut)
	}
	// A broken active policy is an error, not a silent default.
	writeFile(t, home, "policy.yaml", "version: 3\n")
	code, _, errOut = runCLI(t, home, "policy", "explain", "--plugin", "acme-sheets", "--resource", "clipboard", "--action", "read")
	if code != 1 || !strings.Contains(errOut, "policy.yaml:1:10") {
		t.Fatalf("broken policy: exit %d %s", code, errOut)
	}
}

func TestPolicyExplainWithManifestFile(t *testing.T) {
	home := t.TempDir()
	dir := t.TempDir()
	man := writeFile(t, dir, "manifest.json", strings.Replace(sheetsManifest, "acme-sheets", "acme-draft", 1))
	code, _, errOut := runCLI(t, home, "policy", "explain", "--plugin", "acme-draft", "--resource", "filesystem:/etc/passwd", "--action", "read")
	if code != 2 || !strings.Contains(errOut, "--manifest") {
		t.Fatalf("uninstalled plugin without --manifest: exit %d %s", code, errOut)
	}
	code, out, errOut := runCLI(t, home, "policy", "explain", "--plugin", "acme-draft", "--manifest", man,
		"--resource", "filesystem:/etc/passwd", "--action", "read")
	if code != 0 || !strings.HasPrefix(out, "deny (manifest)") || !strings.Contains(out, "manifest: "+man) {
		t.Fatalf("explain --manifest: exit %d\n%s%s", code, out, errOut)
	}
	// A pattern asks about a token scope.
	code, out, _ = runCLI(t, home, "policy", "explain", "--plugin", "acme-draft", "--manifest", man,
		"--resource", "net:https://api.acme.com/v1/*", "--action", "get")
	if code != 0 || !strings.HasPrefix(out, "deny (default)") {
		t.Fatalf("explain pattern: exit %d\n%s", code, out)
	}
}
