package install

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/bundle"
	"github.com/wardenproject/warden/host"
	"github.com/wardenproject/warden/internal/adminaudit"
	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/store"
	"github.com/wardenproject/warden/trust"
)

// The attack tests of issue 10, finding 9: a grant given before an install,
// or to an earlier install, must never reach the plugin installed now unless
// a person confirmed it on that install's consent screen. They run the real
// chain: signed bundles of a real wasm guest, the consent screen on a
// pseudo-terminal, the state store, and a real host whose gate decides the
// guest's fs.read and writes the audit ledger.

var attackGuest struct {
	once sync.Once
	wasm []byte
	dir  string // holds the build and the compile cache shared by the tests
	err  error
}

// guestWasm builds sandbox/wasm's multi-tool test guest once per test binary.
func guestWasm(t *testing.T) []byte {
	t.Helper()
	g := &attackGuest
	g.once.Do(func() {
		if g.dir, g.err = os.MkdirTemp("", "warden-install-guest-"); g.err != nil {
			return
		}
		out := filepath.Join(g.dir, "guest.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
		cmd.Dir = "../../sandbox/wasm/testdata/guest"
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off")
		if msg, err := cmd.CombinedOutput(); err != nil {
			g.err = fmt.Errorf("build the test guest: %v\n%s", err, msg)
			return
		}
		g.wasm, g.err = os.ReadFile(out)
	})
	if g.err != nil {
		t.Fatal(g.err)
	}
	return g.wasm
}

func TestMain(m *testing.M) {
	code := m.Run()
	if attackGuest.dir != "" {
		os.RemoveAll(attackGuest.dir)
	}
	os.Exit(code)
}

// guestBundle packs and signs the test guest as plugin name with two
// permissions: kv:notes-* (the one the person grants) and read on dir (the
// one a grant made before the install must not smuggle in).
func (p publisher) guestBundle(t *testing.T, name, version, dir string) *bundle.Bundle {
	t.Helper()
	src := t.TempDir()
	m := map[string]any{
		"name": name, "version": version, "description": "A test plugin that makes host calls.", "entry": "plugin.wasm", "runtime": "wasm",
		"publisher": map[string]string{"name": p.name, "key_id": keyid.Of(p.pub)},
		"tools":     []map[string]any{{"name": "host", "description": "Make one host call.", "input_schema": map[string]any{"type": "object"}}},
		"permissions": []map[string]any{
			{"resource": "kv:notes-*", "actions": []string{"read", "write"}, "reason": "Keeps notes."},
			{"resource": "filesystem:" + dir, "actions": []string{"read"}, "reason": "Reads the reports."},
		},
		"limits": map[string]any{"timeout_ms": 60000},
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(src, "manifest.json"), raw, 0o644))
	must(t, os.WriteFile(filepath.Join(src, "plugin.wasm"), guestWasm(t), 0o644))
	b, err := bundle.Pack(ctx, src, bundle.PackOptions{})
	must(t, err)
	b, err = bundle.Sign(ctx, b, p.priv)
	must(t, err)
	return b
}

// audited is an install environment whose store records every grant change
// as the CLI does while a host holds the ledger: into the ledger's spool,
// which the host appends to the ledger when it starts.
type audited struct {
	env
	data string // a directory outside the home with secret.txt in it
}

func newAudited(t *testing.T, pubs ...publisher) audited {
	t.Helper()
	home := t.TempDir()
	spool := adminaudit.SpoolDir(filepath.Join(home, "audit"))
	rec := store.RecorderFunc(func(_ context.Context, e store.Event) error {
		ev := adminaudit.Event(e)
		ev.Actor = audit.Actor{Plugin: "warden"}
		_, err := adminaudit.Spool(spool, ev)
		return err
	})
	st, err := store.Open(ctx, store.Path(home), store.WithRecorder(rec))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	tr, err := trust.Open(home)
	must(t, err)
	for _, p := range pubs {
		_, err := tr.Add(p.pub, p.name, time.Time{})
		must(t, err)
	}
	data, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	must(t, os.WriteFile(filepath.Join(data, "secret.txt"), []byte("SALARIES-2026"), 0o644))
	return audited{env: env{home: home, store: st, trust: tr}, data: data}
}

// pending is `warden grant demo filesystem:DATA read [--key KEY]` before demo
// is installed.
func (e audited) pending(t *testing.T, key string) store.Grant {
	t.Helper()
	g, err := e.store.AddGrant(ctx, store.Grant{Plugin: "demo", Resource: "filesystem:" + e.data, Actions: []string{"read"}, Source: store.SourceUser, KeyID: key})
	must(t, err)
	if !g.Pending() {
		t.Fatalf("a grant before install is not pending: %+v", g)
	}
	return g
}

// installAt installs b through the consent screen on a pseudo-terminal,
// pressing keys one redraw after another, and returns what the screen showed.
func (e audited) installAt(t *testing.T, b *bundle.Bundle, keys ...string) (Report, string) {
	t.Helper()
	term, screen := newTerminal(t)
	type result struct {
		rep Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := Install(ctx, b, e.config(nil, screen, false))
		done <- result{rep, err}
	}()
	for i, k := range keys {
		term.waitFor(t, prompt, i+1)
		term.press(t, k)
	}
	r := <-done
	must(t, r.err)
	term.mu.Lock()
	defer term.mu.Unlock()
	return r.rep, term.out.String()
}

// readSecret starts a host on the home (as `warden mcp` would, after the
// install) and has demo read DATA/secret.txt through the host API. It returns
// the guest's view of the call and the call's audit events, and closes the
// host.
func (e audited) readSecret(t *testing.T) (map[string]any, []*audit.Event, *audit.Ledger) {
	t.Helper()
	guestWasm(t)
	h, err := host.New(ctx, host.Config{Home: e.home, CacheDir: filepath.Join(attackGuest.dir, "cache")})
	must(t, err)
	t.Cleanup(func() { h.Close() })
	in, _ := json.Marshal(map[string]any{"method": "fs.read", "params": map[string]string{"path": filepath.Join(e.data, "secret.txt")}})
	res, err := h.Invoke(ctx, "demo", "host", in)
	must(t, err)
	var out map[string]any
	must(t, json.Unmarshal(res.Output, &out))
	var evs []*audit.Event
	for _, idx := range res.Events {
		entry, err := h.Ledger().Get(idx)
		must(t, err)
		evs = append(evs, entry.Event)
	}
	return out, evs, h.Ledger()
}

// assertRefused checks that demo could not read the secret and that the
// refusal is in the audit ledger as a denied fs.read of it.
func (e audited) assertRefused(t *testing.T, out map[string]any, evs []*audit.Event) {
	t.Helper()
	if readTheSecret(out) || out["result"] != nil || out["code"] != "denied" {
		t.Fatalf("demo read the secret through a grant it was never given on its consent screen: %v", out)
	}
	res := "filesystem:" + filepath.Join(e.data, "secret.txt")
	for _, ev := range evs {
		if ev.Action == "fs.read" && ev.Resource == res && ev.Decision.Effect == audit.EffectDeny {
			return
		}
	}
	t.Fatalf("no denied fs.read of %s in the call's audit events: %+v", res, evs)
}

// readTheSecret reports whether the guest's fs.read returned the secret
// (fs.read returns data base64-encoded).
func readTheSecret(out map[string]any) bool {
	res, _ := out["result"].(map[string]any)
	data, _ := res["data"].(string)
	b, _ := base64.StdEncoding.DecodeString(data)
	return string(b) == "SALARIES-2026"
}

// ledgerGrantEvent finds the administrative event of grant id with the given
// store change (grant.deleted, grant.confirmed) in the ledger.
func ledgerGrantEvent(t *testing.T, l *audit.Ledger, id int64, change store.EventType) *audit.Event {
	t.Helper()
	for entry, err := range l.Read(0) {
		must(t, err)
		ev := entry.Event
		if ev.Detail["grant_id"] == strconv.FormatInt(id, 10) && ev.Detail["change"] == string(change) {
			return ev
		}
	}
	t.Fatalf("no %s event for grant %d in the audit ledger", change, id)
	return nil
}

// Attack: a person grants "demo" read on a directory before installing it,
// meaning Acme's demo (one grant pinned to Acme's key, one given the old way
// for no key). Mallory, another trusted publisher, ships a plugin named demo
// that declares the same permission; the person installs it, granting only
// its kv permission. Neither grant may apply: the call is refused and
// audited. Acme's grant is not Mallory's to see; the keyless one is shown
// cleared, and left cleared it is deleted and logged.
func TestAttackGrantBeforeInstallFromAnotherKey(t *testing.T) {
	acme, mallory := newPublisher(t, "Acme"), newPublisher(t, "Mallory")
	e := newAudited(t, acme, mallory)
	forAcme := e.pending(t, keyid.Of(acme.pub))
	forAnyone := e.pending(t, "")

	rep, screen := e.installAt(t, mallory.guestBundle(t, "demo", "1.0.0", e.data), "1", "\r")
	if strings.Contains(screen, keyid.Of(acme.pub)) || strings.Count(screen, fmt.Sprintf("grant %d,", forAnyone.ID)) == 0 {
		t.Fatalf("the screen must show the keyless grant and nothing of Acme's:\n%s", screen)
	}
	if strings.Contains(screen, "[x] 3") {
		t.Fatalf("a grant given for no particular publisher started marked:\n%s", screen)
	}
	if len(rep.Confirmed) != 0 || len(rep.Removed) != 1 || rep.Removed[0].ID != forAnyone.ID {
		t.Fatalf("report: confirmed %v removed %v", rep.Confirmed, rep.Removed)
	}
	gs, err := e.store.ListGrants(ctx, "demo")
	must(t, err)
	var left []string
	for _, g := range gs {
		left = append(left, fmt.Sprintf("%d %s %v", g.ID, g.Resource, g.Pending()))
	}
	if len(gs) != 2 || gs[0].ID != forAcme.ID || !gs[0].Pending() || gs[1].Resource != "kv:notes-*" {
		t.Fatalf("grants after Mallory's install: %v; want Acme's still pending and Mallory's kv grant", left)
	}

	out, evs, l := e.readSecret(t)
	e.assertRefused(t, out, evs)
	if ev := ledgerGrantEvent(t, l, forAnyone.ID, store.EventGrantDeleted); ev.Action != audit.ActionRevoke {
		t.Fatalf("the dropped grant is logged as %s, want %s", ev.Action, audit.ActionRevoke)
	}
}

// Attack: the same publisher's demo, and a grant pinned to its key before the
// install. The consent screen shows it as a line of its own, marked; the
// person clears it. It must be deleted (and logged), and a call under it
// refused and logged. Kept marked instead, it is confirmed and works: the
// refusal is the person's choice, not a broken setup.
func TestAttackGrantBeforeInstallClearedOnConsentScreen(t *testing.T) {
	t.Run("cleared", func(t *testing.T) {
		acme := newPublisher(t, "Acme")
		e := newAudited(t, acme)
		g := e.pending(t, keyid.Of(acme.pub))
		// 1 marks kv:notes-*, 3 clears the existing grant.
		rep, screen := e.installAt(t, acme.guestBundle(t, "demo", "1.0.0", e.data), "1", "3", "\r")
		line := fmt.Sprintf("[x] 3  filesystem:%s  read  (existing grant)", e.data)
		if !strings.Contains(screen, line) || !strings.Contains(screen, fmt.Sprintf("your grant %d, given", g.ID)) {
			t.Fatalf("the screen did not show the grant made before the install, marked:\n%s", screen)
		}
		if len(rep.Removed) != 1 || rep.Removed[0].ID != g.ID || len(rep.Confirmed) != 0 {
			t.Fatalf("report: confirmed %v removed %v", rep.Confirmed, rep.Removed)
		}
		if got := grantsOf(t, e.env, "demo"); strings.Join(got, "|") != "kv:notes-* read,write install" {
			t.Fatalf("grants after clearing: %q", got)
		}
		out, evs, l := e.readSecret(t)
		e.assertRefused(t, out, evs)
		if ev := ledgerGrantEvent(t, l, g.ID, store.EventGrantDeleted); ev.Action != audit.ActionRevoke || ev.Detail["pending"] != "true" {
			t.Fatalf("the cleared grant is logged as %s %v", ev.Action, ev.Detail)
		}
	})
	t.Run("kept", func(t *testing.T) {
		acme := newPublisher(t, "Acme")
		e := newAudited(t, acme)
		g := e.pending(t, keyid.Of(acme.pub))
		rep, _ := e.installAt(t, acme.guestBundle(t, "demo", "1.0.0", e.data), "1", "\r")
		if len(rep.Confirmed) != 1 || rep.Confirmed[0].ID != g.ID || rep.Confirmed[0].Pending() {
			t.Fatalf("report: confirmed %v", rep.Confirmed)
		}
		out, _, l := e.readSecret(t)
		if !readTheSecret(out) {
			t.Fatalf("a grant the person kept on the consent screen does not work: %v", out)
		}
		if ev := ledgerGrantEvent(t, l, g.ID, store.EventGrantConfirmed); ev.Action != audit.ActionGrant || ev.Detail["install_id"] == "" {
			t.Fatalf("the confirmed grant is logged as %s %v", ev.Action, ev.Detail)
		}
	})
}

// Attack: a grant given to one install must not reach the next one. The
// person grants demo read (the CLI checks it against the install it reads);
// meanwhile demo is uninstalled and installed again, and at that install's
// consent screen the person grants only kv. The grant for the old install
// must be refused, not land on the new one, and the call must be refused
// and audited.
func TestAttackGrantDoesNotSurviveReinstall(t *testing.T) {
	acme := newPublisher(t, "Acme")
	e := newAudited(t, acme)
	b := acme.guestBundle(t, "demo", "1.0.0", e.data)
	cfg := e.config(parsePolicy(t, unattendedPolicy), nil, true)
	_, err := Install(ctx, b, cfg)
	must(t, err)
	first, err := e.store.GetPlugin(ctx, "demo")
	must(t, err)
	// `warden grant` has read the installed row and checked the manifest.
	late := store.Grant{Plugin: "demo", Resource: "filesystem:" + e.data, Actions: []string{"read"}, InstallID: first.InstallID}

	must(t, Uninstall(ctx, "demo", cfg))
	rep, _ := e.installAt(t, b, "1", "\r")
	second, err := e.store.GetPlugin(ctx, "demo")
	must(t, err)
	if second.InstallID == first.InstallID || len(rep.Grants) != 1 {
		t.Fatalf("reinstall kept install id %s (was %s), grants %v", second.InstallID, first.InstallID, rep.Grants)
	}
	if _, err := e.store.AddGrant(ctx, late); !errors.Is(err, store.ErrChanged) {
		t.Fatalf("a grant checked against the old install landed on the new one: %v", err)
	}
	if got := grantsOf(t, e.env, "demo"); strings.Join(got, "|") != "kv:notes-* read,write install" {
		t.Fatalf("grants after reinstall: %q", got)
	}
	out, evs, _ := e.readSecret(t)
	e.assertRefused(t, out, evs)
}
