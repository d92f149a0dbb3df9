package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/store"
)

// pendingKey is a publisher key id for grants to plugins not installed.
const pendingKey = "ed25519:0123456789abcdef"

func TestGrantListRevoke(t *testing.T) {
	home := t.TempDir()
	installTestPlugin(t, home)

	code, out, errOut := runCLI(t, home, "grant", "acme-sheets", "filesystem:/data/reports/**", "read,write", "--ttl", "24h", "--json")
	var g store.Grant
	if code != 0 || json.Unmarshal([]byte(out), &g) != nil || g.ID != 1 || g.Resource != "filesystem:/data/reports" ||
		strings.Join(g.Actions, ",") != "read,write" || time.Until(g.Expires) < 23*time.Hour {
		t.Fatalf("grant --json: exit %d %s %s", code, out, errOut)
	}
	if errOut != "" {
		t.Fatalf("grant to an installed plugin warned: %s", errOut)
	}
	// A plugin not installed: refused without the publisher key it is for,
	// pending with it.
	code, out, errOut = runCLI(t, home, "grant", "other.plugin", "clipboard", "read")
	if code != 1 || !strings.Contains(errOut, "not installed") || !strings.Contains(errOut, "--key") || out != "" {
		t.Fatalf("grant to an uninstalled plugin without --key: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, home, "grant", "other.plugin", "clipboard", "read", "--key", "acme"); code != 2 || !strings.Contains(errOut, "not a key id") {
		t.Fatalf("grant with a bad --key: exit %d %s", code, errOut)
	}
	code, out, errOut = runCLI(t, home, "grant", "other.plugin", "clipboard", "read", "--key", pendingKey)
	if code != 0 || !strings.Contains(out, "grant 2 (pending): other.plugin may read clipboard, no expiry, once you confirm it on the consent screen when other.plugin from key "+pendingKey+" is installed") {
		t.Fatalf("pending grant: exit %d\n%s%s", code, out, errOut)
	}
	// A key that is not the installed plugin's is refused.
	if code, _, errOut := runCLI(t, home, "grant", "acme-sheets", "filesystem:/data/reports/**", "read", "--key", "ed25519:fedcba9876543210"); code != 1 || !strings.Contains(errOut, "is signed by") {
		t.Fatalf("grant for another key than the installed one: exit %d %s", code, errOut)
	}

	code, out, _ = runCLI(t, home, "grants")
	if code != 0 || !strings.Contains(out, "acme-sheets") || !strings.Contains(out, "other.plugin") ||
		!strings.Contains(out, "bound") || !strings.Contains(out, "pending ("+pendingKey+")") {
		t.Fatalf("grants: %s", out)
	}
	code, out, _ = runCLI(t, home, "grants", "--plugin", "acme-sheets", "--json")
	var gs []store.Grant
	if code != 0 || json.Unmarshal([]byte(out), &gs) != nil || len(gs) != 1 || gs[0].ID != 1 {
		t.Fatalf("grants --plugin --json: %s", out)
	}

	code, out, _ = runCLI(t, home, "revoke", "--grant", "2")
	if code != 0 || !strings.Contains(out, "grant 2 deleted") {
		t.Fatalf("revoke --grant: %d %s", code, out)
	}
	if code, _, errOut := runCLI(t, home, "revoke", "--grant", "2"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("revoke a missing grant: %d %s", code, errOut)
	}
	code, out, _ = runCLI(t, home, "revoke", "--publisher", "evil-co", "--reason", "key leaked", "--json")
	var r store.Revocation
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Kind != store.RevokePublisher || r.Reason != "key leaked" || r.RevokedBefore.IsZero() {
		t.Fatalf("revoke --publisher --json: %d %s", code, out)
	}
	for _, args := range [][]string{{"revoke", "--token", "jti-1"}, {"revoke", "--plugin", "acme-sheets"}, {"revoke", "--key", "ed25519:0123456789abcdef"}} {
		if code, _, errOut := runCLI(t, home, args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	st, err := store.Open(context.Background(), store.Path(home))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rs, _ := st.Revocations(context.Background()); len(rs) != 4 {
		t.Fatalf("%d revocations, want 4", len(rs))
	}
}

// Attack: a grant outside the installed plugin's manifest is refused and
// nothing is stored.
func TestGrantOutsideManifestRefused(t *testing.T) {
	home := t.TempDir()
	installTestPlugin(t, home)
	for _, args := range [][]string{
		{"acme-sheets", "filesystem:/etc/**", "read"},                 // resource outside
		{"acme-sheets", "filesystem:/data/**", "read,delete"},         // action outside
		{"acme-sheets", "filesystem:/**", "read"},                     // wider than declared
		{"acme-sheets", "net:https://api.acme.com/v1/**", "get,post"}, // post not declared
	} {
		code, _, errOut := runCLI(t, home, append([]string{"grant"}, args...)...)
		if code != 1 || !strings.Contains(errOut, "refusing to grant") || !strings.Contains(errOut, "hint:") {
			t.Errorf("grant %v: exit %d %s", args, code, errOut)
		}
	}
	_, out, _ := runCLI(t, home, "grants", "--json")
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("a refused grant was stored: %s", out)
	}
}

func TestGrantUsageErrors(t *testing.T) {
	home := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"grant", "Bad Plugin", "clipboard", "read"}, "is not a plugin id"},
		{[]string{"grant", "p", "nosuch:x", "read"}, "unknown resource kind"},
		{[]string{"grant", "p", "clipboard", "spawn"}, "invalid action"},
		{[]string{"grant", "p", "clipboard", "read,read"}, "listed twice"},
		{[]string{"grant", "p", "clipboard", "read", "--ttl", "-1h"}, "negative"},
		{[]string{"grant", "p", "clipboard"}, "accepts 3 arg"},
		{[]string{"revoke"}, "exactly one"},
		{[]string{"revoke", "--token", "a", "--plugin", "b"}, "exactly one"},
		{[]string{"revoke", "--grant", "x"}, "not a grant id"},
	} {
		code, _, errOut := runCLI(t, home, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with %q", tc.args, code, errOut, tc.want)
		}
	}
}

// The audit seam: every grant and revocation the CLI makes reaches the Recorder.
func TestGrantAuditSeam(t *testing.T) {
	var got []store.EventType
	old := auditRecorder
	auditRecorder = func(*app, string) store.Recorder {
		return store.RecorderFunc(func(_ context.Context, e store.Event) error { got = append(got, e.Type); return nil })
	}
	defer func() { auditRecorder = old }()
	home := t.TempDir()
	runCLI(t, home, "grant", "p", "clipboard", "read", "--key", pendingKey)
	runCLI(t, home, "revoke", "--token", "t")
	runCLI(t, home, "revoke", "--grant", "1")
	want := []store.EventType{store.EventGrantAdded, store.EventRevoked, store.EventGrantDeleted}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("recorded %v, want %v", got, want)
	}
}
