package adminaudit

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/store"
)

func TestStoreChangesReachTheLedger(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(nil)
	l, err := audit.Open(filepath.Join(dir, "audit"), audit.WithSigner(hostkey.NewSigner(priv)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var hooked []store.Revocation
	rec := Recorder(l, WithRevocationHook(func(_ context.Context, rv store.Revocation) error {
		hooked = append(hooked, rv)
		return nil
	}))
	st, err := store.Open(ctx, filepath.Join(dir, "state.db"), store.WithRecorder(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	g, err := st.AddGrant(ctx, store.Grant{Plugin: "sheet-gen", Resource: "filesystem:/tmp/x", Actions: []string{"read"}, Source: store.SourceUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Revoke(ctx, store.RevokePlugin, "sheet-gen", "test"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteGrant(ctx, g.ID); err != nil {
		t.Fatal(err)
	}

	want := []struct{ action, resource string }{
		{audit.ActionGrant, "filesystem:/tmp/x"},
		{audit.ActionRevoke, "plugin:sheet-gen"},
		{audit.ActionRevoke, "filesystem:/tmp/x"},
	}
	if got := l.Len(); got != uint64(len(want)) {
		t.Fatalf("ledger has %d events, want %d", got, len(want))
	}
	for i, w := range want {
		entry, err := l.Get(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		ev := entry.Event
		if ev.Action != w.action || ev.Resource != w.resource || ev.Actor.Plugin != "warden" {
			t.Errorf("event %d = %s %s by %q, want %s %s by warden", i, ev.Action, ev.Resource, ev.Actor.Plugin, w.action, w.resource)
		}
	}
	if len(hooked) != 1 || hooked[0].Value != "sheet-gen" {
		t.Fatalf("revocation hook saw %v", hooked)
	}
}

func TestLoadRevocations(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, p := range []store.Plugin{
		{ID: "a", Version: "1.0.0", Publisher: "Acme", KeyID: "ed25519:0000000000000001", Manifest: []byte(`{}`), State: store.StateActive},
		{ID: "b", Version: "1.0.0", Publisher: "Other", KeyID: "ed25519:0000000000000002", Manifest: []byte(`{}`), State: store.StateActive},
		{ID: "c", Version: "1.0.0", Publisher: "Third", KeyID: "ed25519:0000000000000003", Manifest: []byte(`{}`), State: store.StateActive},
	} {
		if err := st.UpsertPlugin(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct {
		kind  store.RevocationKind
		value string
	}{{store.RevokeToken, "jti-1"}, {store.RevokePublisher, "Acme"}, {store.RevokeKey, "ed25519:0000000000000002"}} {
		if _, err := st.Revoke(ctx, r.kind, r.value, "test"); err != nil {
			t.Fatal(err)
		}
	}
	set := capability.NewRevocationSet()
	if err := LoadRevocations(ctx, st, set); err != nil {
		t.Fatal(err)
	}
	if !set.Revoked("jti-1") {
		t.Error("token jti-1 not revoked")
	}
	for plugin, want := range map[string]bool{"a": true, "b": true, "c": false} {
		cut, ok := set.SubjectCutoff(plugin)
		if ok != want {
			t.Errorf("plugin %s cut off = %v, want %v", plugin, ok, want)
		}
		if ok && time.Since(cut) > time.Minute {
			t.Errorf("plugin %s cutoff %v is not the revocation time", plugin, cut)
		}
	}
}

// A grant event says which install the grant is for, or that it is pending;
// a confirmed pending grant is logged as a grant.
func TestGrantEventsNameTheInstall(t *testing.T) {
	pending := store.Grant{ID: 3, Plugin: "p", Resource: "clipboard", Actions: []string{"read"}, Source: store.SourceUser, KeyID: "ed25519:0000000000000001"}
	bound := pending
	bound.InstallID = "0f0f"
	for _, c := range []struct {
		e              store.Event
		action, detail string
	}{
		{store.Event{Type: store.EventGrantAdded, Grant: &pending}, audit.ActionGrant, "pending=true key_id=ed25519:0000000000000001 install_id="},
		{store.Event{Type: store.EventGrantConfirmed, Grant: &bound}, audit.ActionGrant, "pending= key_id=ed25519:0000000000000001 install_id=0f0f"},
		{store.Event{Type: store.EventGrantDeleted, Grant: &bound}, audit.ActionRevoke, "pending= key_id=ed25519:0000000000000001 install_id=0f0f"},
	} {
		ev := Event(c.e)
		got := "pending=" + ev.Detail["pending"] + " key_id=" + ev.Detail["key_id"] + " install_id=" + ev.Detail["install_id"]
		if ev.Action != c.action || got != c.detail || ev.Detail["change"] != string(c.e.Type) {
			t.Errorf("%s: %s %s (change %s), want %s %s", c.e.Type, ev.Action, got, ev.Detail["change"], c.action, c.detail)
		}
	}
}
