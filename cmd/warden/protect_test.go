package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/internal/home"
)

// Attack (issue 10, finding 1): `warden grant` of a folder that holds
// warden's home two levels down — the grant the rename attack needed — or of
// a symlinked folder leading there is refused with what, where and why, and
// each refusal is a grant event with a deny in the ledger.
func TestGrantRefusesWardenState(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	runMust(t, err)
	wh := filepath.Join(root, "data", "x", "warden")
	runMust(t, os.MkdirAll(wh, 0o700))
	runMust(t, os.Symlink(filepath.Join(root, "data", "x"), filepath.Join(root, "cfg")))
	for _, res := range []string{"filesystem:" + root + "/data/**", "filesystem:" + root + "/cfg/**", "filesystem:" + wh + "/keys"} {
		code, out, errOut := runCLI(t, wh, "grant", "--key", "ed25519:0123456789abcdef", "p", res, "read,write,delete")
		if code != 1 || out != "" || !strings.Contains(errOut, "reaches "+wh) || !strings.Contains(errOut, "warden's home") || !strings.Contains(errOut, "hint:") {
			t.Errorf("grant %s: exit %d\n%s%s", res, code, out, errOut)
		}
	}
	if code, out, _ := runCLI(t, wh, "grants"); code != 0 || !strings.Contains(out, "no grants") {
		t.Fatalf("grants after the refusals: %s", out)
	}
	ring, err := hostkey.Open(filepath.Join(wh, "keys"))
	runMust(t, err)
	l, err := audit.Open(filepath.Join(wh, "audit"), audit.WithSigner(ring.Signer()))
	runMust(t, err)
	defer l.Close()
	refused := 0
	for e, err := range l.Read(0) {
		runMust(t, err)
		ev := e.Event
		if ev.Action == audit.ActionGrant && ev.Outcome == audit.OutcomeError && ev.Decision.Effect == audit.EffectDeny && strings.Contains(ev.Decision.Reason, wh) {
			refused++
		}
	}
	if refused != 3 {
		t.Fatalf("%d refused grant events in the ledger, want 3", refused)
	}
}

// `warden run` in a temporary home still keeps a plugin out of the user's
// real home ($WARDEN_HOME here): the --cap and the permission reaching it
// are refused.
func TestRunCapRefusesWardenHome(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	runMust(t, err)
	t.Setenv(home.EnvVar, filepath.Join(root, "data", "wh"))
	dir := t.TempDir()
	runMust(t, os.WriteFile(filepath.Join(dir, "plugin.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644))
	runMust(t, os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"name": "n", "version": "0.1.0", "description": "d", "entry": "plugin.wasm", "runtime": "wasm",
		"publisher": {"name": "p", "key_id": "ed25519:21fe31dfa154a261"},
		"tools": [{"name": "t", "description": "d", "input_schema": {"type": "object"}}],
		"permissions": [{"resource": "filesystem:`+root+`/data", "actions": ["read", "write", "delete"], "reason": "r"}]}`), 0o644))
	code, out, errOut := runCLI(t, "", "run", "--cap", "filesystem:"+root+"/data=read,write,delete", dir)
	if code != 1 || !strings.Contains(errOut, "reaches "+filepath.Join(root, "data", "wh")) || !strings.Contains(errOut, "hint:") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// `warden lint --home H` reports WDN008 for a permission reaching H.
func TestLintReportsWardenHome(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	runMust(t, err)
	wh := filepath.Join(root, "data", "x", "warden")
	runMust(t, os.MkdirAll(wh, 0o700))
	dir := t.TempDir()
	runMust(t, os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"name": "n", "version": "0.1.0", "description": "d", "entry": "plugin.wasm", "runtime": "wasm",
		"publisher": {"name": "p", "key_id": "ed25519:21fe31dfa154a261"},
		"tools": [{"name": "t", "description": "d", "input_schema": {"type": "object"}}],
		"permissions": [{"resource": "filesystem:`+root+`/data/**", "actions": ["read"], "reason": "r"}]}`), 0o644))
	runMust(t, os.WriteFile(filepath.Join(dir, "plugin.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644))
	code, out, errOut := runCLI(t, wh, "lint", dir)
	if code != 1 || !strings.Contains(out, "WDN008 warden-home") || !strings.Contains(out, wh) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// Against another home the same manifest is clean.
	if code, out, errOut := runCLI(t, filepath.Join(t.TempDir(), "elsewhere"), "lint", dir); code != 0 {
		t.Fatalf("against another home: exit %d\n%s%s", code, out, errOut)
	}
}
