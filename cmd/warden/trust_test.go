package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/trust"
)

// TestTrustCLIStoredRollback: V-6 from the CLI's side. A stored revocation
// list rolled back (or deleted) on disk stops every trust command with a hint,
// and 'trust revocations load' of the current list still works and repairs it.
func TestTrustCLIStoredRollback(t *testing.T) {
	home := t.TempDir()
	rootPub, rootPriv, _ := ed25519.GenerateKey(rand.Reader)
	r, err := trust.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetRoot(rootPub); err != nil {
		t.Fatal(err)
	}
	victim, _, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	write := func(name string, doc trust.RevocationDoc) string {
		data, err := trust.SignRevocations(context.Background(), doc, rootPriv)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o600)
		return p
	}
	v1 := write("v1.json", trust.RevocationDoc{Version: 1})
	v2 := write("v2.json", trust.RevocationDoc{Version: 2, Keys: []trust.RevokedKey{{ID: keyid.Of(victim), Reason: "stolen"}}})
	for _, f := range []string{v1, v2} {
		if code, out, errOut := runCLI(t, home, "trust", "revocations", "load", f); code != 0 {
			t.Fatalf("load %s: exit %d\n%s%s", f, code, out, errOut)
		}
	}
	stored := filepath.Join(home, "trust", "revocations.dsse.json")
	b, _ := os.ReadFile(v1)
	os.WriteFile(stored, b, 0o600)
	code, _, errOut := runCLI(t, home, "trust", "list")
	if code == 0 || !strings.Contains(errOut, "below version 2") || !strings.Contains(errOut, "hint:") ||
		!strings.Contains(errOut, "trust revocations load") {
		t.Fatalf("trust list over a rolled-back list: exit %d %s", code, errOut)
	}
	if code, _, _ = runCLI(t, home, "trust", "revocations", "load", v1); code == 0 {
		t.Fatal("loading the old list again was accepted")
	}
	if code, out, errOut := runCLI(t, home, "trust", "revocations", "load", v2); code != 0 {
		t.Fatalf("reloading the current list: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = runCLI(t, home, "trust", "list"); code != 0 {
		t.Fatalf("trust list after the reload: exit %d %s", code, errOut)
	}
	os.Remove(stored)
	if code, _, errOut = runCLI(t, home, "trust", "list"); code == 0 || !strings.Contains(errOut, "missing") {
		t.Fatalf("trust list with the list deleted: exit %d %s", code, errOut)
	}
}
