package hostapi

// Attack test of the platform decision of issue 11: on Windows the
// filesystem provider's protections do not exist (grant paths are
// "/"-rooted, warden's state has no identity to protect it by, names fold
// case), so every filesystem call must be refused and audited as a denial,
// never run on the gate's name checks alone. The attack uses the hole that
// would otherwise be open: a "/"-rooted grant that Windows resolves on the
// current drive, where the gate's names never see a drive letter.

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/internal/private"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/store"
)

func TestAttackFilesystemRefusedOnWindows(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // its drive is the current one, where "/..." resolves
	must(t, os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("TOP SECRET"), 0o600))
	// C:\Users\u\AppData\Local\Temp\X as Windows resolves "/Users/u/...".
	slashed := filepath.ToSlash(dir[len(filepath.VolumeName(dir)):])

	_, priv, err := ed25519.GenerateKey(nil)
	must(t, err)
	signer := hostkey.NewSigner(priv)
	ledger, err := audit.Open(filepath.Join(t.TempDir(), "audit"), audit.WithSigner(signer))
	must(t, err)
	t.Cleanup(func() { ledger.Close() })
	issuer := capability.NewIssuer(signer)
	verifier := capability.NewVerifier(keyMap{signer.KeyID(): signer.Public()})
	state := filepath.Join(t.TempDir(), "home")
	must(t, private.MkdirAll(state))
	st, err := store.Open(context.Background(), filepath.Join(state, "state.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	res := "filesystem:" + slashed + "/**"
	man, err := policy.NewManifest([]policy.Permission{{Resource: res, Actions: []string{"read", "write", "list"}}}, resource.Options{})
	must(t, err)
	pol, err := policy.Parse([]byte(fmt.Sprintf("version: 1\nrules:\n  - id: all\n    effect: allow\n    resource: %s\n", res)), policy.ParseOptions{File: "test.yaml"})
	must(t, err)
	gate, err := NewGate(Config{Tokens: verifier, Policy: policy.NewEngine(pol, nil), Audit: ledger, Issuer: issuer, KV: st})
	must(t, err)
	tok, _, err := issuer.Mint(capability.Request{Subject: testPlugin, Audience: testInstance, Resource: res, Actions: []string{"read", "write", "list"}, TTL: time.Hour})
	must(t, err)
	caller := Caller{Plugin: testPlugin, Version: "1.0.0", Publisher: "acme", Instance: testInstance, Session: "s-1", Manifest: man, Tokens: []string{tok}}

	for _, c := range []struct{ method, params string }{
		{"fs.read", fmt.Sprintf(`{"path":%q}`, slashed+"/secret.txt")},
		{"fs.list", fmt.Sprintf(`{"path":%q}`, slashed)},
		{"fs.write", fmt.Sprintf(`{"path":%q,"data":"eA=="}`, slashed+"/new.txt")},
	} {
		out, err := gate.Call(context.Background(), caller, c.method, "", []byte(c.params))
		if err == nil {
			t.Fatalf("%s ran on Windows: %s", c.method, out)
		}
		wantCode(t, err, CodeDenied)
		must(t, gate.Flush(context.Background()))
		var last *audit.Event
		for en, err := range ledger.Read(0) {
			must(t, err)
			last = en.Event
		}
		if last == nil || last.Action != c.method || last.Decision.Effect != audit.EffectDeny || last.Decision.By != "gate" ||
			!strings.Contains(last.Decision.Reason, "does not run on this operating system") {
			t.Fatalf("%s: last event %+v, want the gate's denial", c.method, last)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new.txt")); !os.IsNotExist(err) {
		t.Fatalf("fs.write created a file: %v", err)
	}
}
