package host

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/store"
)

// helloWithPerms is examples/hello with permissions to grant.
func helloWithPerms(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(helloSrc, "manifest.json"))
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal(raw, &m))
	m["permissions"] = []map[string]any{
		{"resource": "kv:notes-*", "actions": []string{"read", "write"}, "reason": "Keeps notes."},
		{"resource": "clipboard", "actions": []string{"write"}, "reason": "Copies the greeting."},
	}
	return pluginDir(t, guestWasm(t, helloSrc), m)
}

func grantLines(t *testing.T, h *Host) string {
	t.Helper()
	gs, err := h.st.ListGrants(context.Background(), "hello")
	must(t, err)
	var out []string
	for _, g := range gs {
		out = append(out, g.Resource+" "+strings.Join(g.Actions, ",")+" "+string(g.Source))
	}
	return strings.Join(out, "|")
}

func ledgerSince(t *testing.T, h *Host, from uint64) []*audit.Event {
	t.Helper()
	var out []*audit.Event
	for e, err := range h.Ledger().Read(from) {
		must(t, err)
		out = append(out, e.Event)
	}
	return out
}

// Replace keeps its documented meaning (every grant replaced by Grants) and
// does it in one store transaction; the ledger says what was taken away.
func TestInstallReplaceReplacesEveryGrant(t *testing.T) {
	ctx := context.Background()
	h := newTestHost(t, Config{})
	dir := helloWithPerms(t)
	_, err := h.Install(ctx, dir, InstallOptions{Grants: []Grant{{Resource: "kv:notes-*", Actions: []string{"read"}}}})
	must(t, err)
	userGrant(t, h.st, "hello", "kv:notes-today", "read")
	from := h.Ledger().Len()

	_, err = h.Install(ctx, dir, InstallOptions{Replace: true, Grants: []Grant{{Resource: "clipboard", Actions: []string{"write"}}}})
	must(t, err)
	if got := grantLines(t, h); got != "clipboard write install" {
		t.Fatalf("grants after replace: %s", got)
	}
	var actions []string
	for _, e := range ledgerSince(t, h, from) {
		actions = append(actions, e.Action+" "+e.Resource)
		if e.Action == audit.ActionInstall && e.Detail["previous"] != "0.1.0" {
			t.Fatalf("install event does not name the version it replaced: %+v", e.Detail)
		}
	}
	want := "revoke kv:notes-*|revoke kv:notes-today|install plugin:hello|grant clipboard"
	if got := strings.Join(actions, "|"); got != want {
		t.Fatalf("ledger\n got %s\nwant %s", got, want)
	}
}

// Attack on atomicity: the store fails in the middle of a replacing
// install, after the plugin row; the old install must stay whole and the
// ledger must not claim an install that did not happen.
func TestInstallReplaceFailureChangesNothing(t *testing.T) {
	ctx := context.Background()
	h := newTestHost(t, Config{})
	dir := helloWithPerms(t)
	_, err := h.Install(ctx, dir, InstallOptions{Grants: []Grant{{Resource: "kv:notes-*", Actions: []string{"read"}}}})
	must(t, err)
	before, err := h.st.GetPlugin(ctx, "hello")
	must(t, err)
	db, err := sql.Open("sqlite", store.Path(h.cfg.Home))
	must(t, err)
	_, err = db.ExecContext(ctx, `CREATE TRIGGER fail_install BEFORE INSERT ON grants WHEN NEW.resource = 'clipboard'
		BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`)
	must(t, err)
	must(t, db.Close())
	from := h.Ledger().Len()

	// The new version of the directory declares one more permission, so a
	// half-written install would show in the row as well as in the grants.
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(strings.Replace(string(raw), `"0.1.0"`, `"0.2.0"`, 1)), 0o644))
	_, err = h.Install(ctx, dir, InstallOptions{Replace: true, Grants: []Grant{{Resource: "kv:notes-*", Actions: []string{"write"}}, {Resource: "clipboard", Actions: []string{"write"}}}})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("install with a failing store: %v", err)
	}
	after, err := h.st.GetPlugin(ctx, "hello")
	must(t, err)
	if after.Version != before.Version || after.Digest != before.Digest || !after.InstalledAt.Equal(before.InstalledAt) || after.InstallID != before.InstallID {
		t.Fatalf("plugin row changed by a failed install: %+v -> %+v", before, after)
	}
	if got := grantLines(t, h); got != "kv:notes-* read install" {
		t.Fatalf("grants after a failed install: %s", got)
	}
	if evs := ledgerSince(t, h, from); len(evs) != 0 {
		t.Fatalf("a failed install appended %d ledger events, first %+v", len(evs), evs[0])
	}
}
