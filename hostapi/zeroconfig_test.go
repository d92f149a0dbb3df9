package hostapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/internal/home"
)

// A Config missing a part that has no safe default is refused, and the
// error names the field.
func TestZeroConfigGateRefusedByField(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{}, "Config.Tokens"},
		{Config{Tokens: e.verifier}, "Config.Policy"},
		{Config{Tokens: e.verifier, Policy: e.gate.cfg.Policy}, "Config.Audit"},
	} {
		if _, err := NewGate(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Fatalf("NewGate without %s: %v; want an error naming it", tc.field, err)
		}
	}
}

// Attack (issue 11): a gate built from nothing but its three required parts
// is confined. A policy's ask is denied (no Confirm: nobody is there),
// capability.request is refused (no Issuer), kv.* is unavailable (no KV),
// a call without a token is refused, and warden's own home is protected
// although Protected is empty: before issue 11 an empty Protected protected
// nothing, so a grant and a rule covering $WARDEN_HOME let a plugin read the
// host's keys. Every refusal is in the ledger.
func TestZeroConfigGateIsConfined(t *testing.T) {
	e := newEnv(t)
	// The home warden would use, inside the granted (and policy-allowed)
	// directory.
	wardenHome := filepath.Join(e.data, "warden-home")
	must(t, os.MkdirAll(filepath.Join(wardenHome, "keys"), 0o700))
	hostKey := filepath.Join(wardenHome, "keys", "host.key")
	must(t, os.WriteFile(hostKey, []byte("AGE-SECRET-KEY-1..."), 0o600))
	t.Setenv(home.EnvVar, wardenHome)

	g, err := NewGate(Config{Tokens: e.verifier, Policy: e.gate.cfg.Policy, Audit: e.ledger})
	must(t, err)
	e.gate = g

	// The control: a plain read in the granted directory is allowed.
	must(t, err2(e.call("fs.read", "", map[string]any{"path": filepath.Join(e.data, "a.csv")})))

	_, err = e.call("fs.read", "", map[string]any{"path": hostKey})
	if err == nil {
		t.Fatal("a plugin read the host key in $WARDEN_HOME through a gate built with an empty Protected")
	}
	if ev := e.last("fs.read"); ev.Decision.Effect != audit.EffectDeny || ev.Resource != "filesystem:"+hostKey {
		t.Fatalf("the refused read of %s: event %+v, want a deny", hostKey, ev)
	}

	_, err = e.call("fs.write", "", map[string]any{"path": filepath.Join(e.data, "ask", "f.txt"), "data": "eA=="})
	wantCode(t, err, CodeDeclined)
	if ev := e.wantDenyEvent("fs.write", CodeDeclined); ev.Decision.Answer != "deny" {
		t.Fatalf("the policy's ask with no Confirm: decision %+v, want answer deny", ev.Decision)
	}
	if _, err := os.Stat(filepath.Join(e.data, "ask", "f.txt")); !os.IsNotExist(err) {
		t.Fatal("the write nobody confirmed happened")
	}

	_, err = e.call("capability.request", "", map[string]any{"resource": "filesystem:" + e.data + "/**", "actions": []string{"read"}, "reason": "please"})
	wantCode(t, err, CodeUnavailable)
	if ev := e.last("capability.request"); ev.Outcome != audit.OutcomeError {
		t.Fatalf("capability.request with no Issuer: event %+v", ev)
	}

	_, err = e.call("kv.get", "", map[string]any{"key": "cache/x"})
	wantCode(t, err, CodeUnavailable)
	if ev := e.last("kv.get"); ev.Outcome != audit.OutcomeError {
		t.Fatalf("kv.get with no KV: event %+v", ev)
	}

	e.caller.Tokens = nil
	_, err = e.call("fs.read", "", map[string]any{"path": filepath.Join(e.data, "a.csv")})
	wantCode(t, err, CodeDenied)
	e.wantDenyEvent("fs.read", CodeDenied)
}
