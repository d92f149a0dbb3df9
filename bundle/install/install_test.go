package install

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/testenv"

	"github.com/creack/pty"

	"github.com/wardenproject/warden/bundle"
	"github.com/wardenproject/warden/consent"
	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/store"
	"github.com/wardenproject/warden/trust"
)

var ctx = context.Background()

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var perms = []map[string]any{
	{"resource": "kv:cache-*", "actions": []string{"read", "write"}, "reason": "Caches results."},
	{"resource": "clipboard", "actions": []string{"write"}, "reason": "Copies the answer."},
}

// signedBundle packs and signs a plugin with perms for a new publisher key.
func signedBundle(t testing.TB, name, version string, perms []map[string]any) (*bundle.Bundle, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	dir := t.TempDir()
	m := map[string]any{
		"name": name, "version": version, "description": "A test plugin.", "entry": "plugin.wasm", "runtime": "wasm",
		"publisher": map[string]string{"name": "Acme", "key_id": keyid.Of(pub)}, "permissions": perms,
	}
	src, _ := json.MarshalIndent(m, "", "  ")
	must(t, os.WriteFile(filepath.Join(dir, "manifest.json"), src, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "plugin.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644))
	b, err := bundle.Pack(ctx, dir, bundle.PackOptions{})
	must(t, err)
	b, err = bundle.Sign(ctx, b, priv)
	must(t, err)
	return b, pub
}

type env struct {
	home  string
	store *store.Store
	trust *trust.Registry
}

func newEnv(t *testing.T, trusted ...ed25519.PublicKey) env {
	t.Helper()
	home := t.TempDir()
	st, err := store.Open(ctx, store.Path(home))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	tr, err := trust.Open(home)
	must(t, err)
	for _, k := range trusted {
		_, err := tr.Add(k, "Acme", time.Time{})
		must(t, err)
	}
	return env{home: home, store: st, trust: tr}
}

func (e env) config(pol *policy.Policy, p Prompter, yes bool) Config {
	return Config{Home: e.home, Store: e.store, Trust: e.trust, Policy: pol, Prompter: p, Yes: yes}
}

func parsePolicy(t *testing.T, src string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(src), policy.ParseOptions{})
	must(t, err)
	return p
}

// grantsOf returns "resource actions source" for every grant of plugin.
func grantsOf(t *testing.T, e env, plugin string) []string {
	t.Helper()
	gs, err := e.store.ListGrants(ctx, plugin)
	must(t, err)
	var out []string
	for _, g := range gs {
		out = append(out, g.Resource+" "+strings.Join(g.Actions, ",")+" "+string(g.Source))
	}
	return out
}

// assertEmpty checks that the store has no plugin and no grant, and that no
// plugin files exist.
func assertEmpty(t *testing.T, e env) {
	t.Helper()
	ps, err := e.store.ListPlugins(ctx)
	must(t, err)
	gs, err := e.store.ListGrants(ctx, "")
	must(t, err)
	if len(ps) != 0 || len(gs) != 0 {
		t.Fatalf("store not untouched: plugins %v grants %v", ps, gs)
	}
	entries, _ := os.ReadDir(PluginsDir(e.home))
	if len(entries) != 0 {
		t.Fatalf("files left in plugins dir: %v", entries)
	}
}

// terminal is a consent screen on a pseudo-terminal, driven by keys written
// to the pty master as a person typing would.
type terminal struct {
	ptmx *os.File
	mu   sync.Mutex
	out  bytes.Buffer
}

func newTerminal(t *testing.T) (*terminal, *consent.Screen) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	testenv.Need(t, "a pseudo-terminal", err)
	restore, err := consent.MakeRaw(tty)
	must(t, err)
	term := &terminal{ptmx: ptmx}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { restore(); tty.Close(); ptmx.Close() })
	return term, consent.New(tty, tty)
}

// waitFor waits until the screen has printed s (n times in total).
func (tm *terminal) waitFor(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second) // a hang guard, not a performance bound
	for time.Now().Before(deadline) {
		tm.mu.Lock()
		c := strings.Count(tm.out.String(), s)
		tm.mu.Unlock()
		if c >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	t.Fatalf("screen never showed %q ×%d; it showed:\n%s", s, n, tm.out.String())
}

func (tm *terminal) press(t *testing.T, keys string) {
	t.Helper()
	if _, err := tm.ptmx.Write([]byte(keys)); err != nil {
		t.Fatal(err)
	}
}

const prompt = "Ctrl-C cancel"

func TestConsentScreenThroughPTY(t *testing.T) {
	cases := []struct {
		name    string
		keys    []string // pressed one after another, each after the screen redraws
		wantErr error
		grants  []string
		// pending adds `warden grant demo kv:cache-today read --key KEY`
		// (this bundle's key) before the install: the screen shows it as
		// line 3, marked.
		pending bool
	}{
		{"accept all", []string{"a"}, nil, []string{"kv:cache-* read,write install", "clipboard write install"}, false},
		{"accept some", []string{"2", "\r"}, nil, []string{"clipboard write install"}, false},
		{"toggle twice then pick", []string{"1", "2", "1", "\r"}, nil, []string{"clipboard write install"}, false},
		{"refuse", []string{"r"}, ErrRefused, nil, false},
		{"enter with nothing", []string{"\r"}, ErrRefused, nil, false},
		{"ctrl-c", []string{"1", "\x03"}, ErrInterrupted, nil, false},
		{"grant before install kept", []string{"2", "\r"}, nil, []string{"kv:cache-today read user", "clipboard write install"}, true},
		{"grant before install cleared", []string{"2", "3", "\r"}, nil, []string{"clipboard write install"}, true},
		{"grant before install, refused", []string{"r"}, ErrRefused, []string{"kv:cache-today read user"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, pub := signedBundle(t, "demo", "1.0.0", perms)
			e := newEnv(t, pub)
			var pending store.Grant
			if c.pending {
				var err error
				pending, err = e.store.AddGrant(ctx, store.Grant{Plugin: "demo", Resource: "kv:cache-today", Actions: []string{"read"}, KeyID: keyid.Of(pub)})
				must(t, err)
			}
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
			for i, k := range c.keys {
				term.waitFor(t, prompt, i+1)
				term.press(t, k)
			}
			r := <-done
			if !errors.Is(r.err, c.wantErr) {
				t.Fatalf("install: %v, want %v", r.err, c.wantErr)
			}
			term.waitFor(t, "kv:cache-*  read,write  (risk +", 1)
			term.waitFor(t, "why: Caches results.", 1)
			if c.pending {
				term.waitFor(t, "[x] 3  kv:cache-today  read  (existing grant)", 1)
				term.waitFor(t, fmt.Sprintf("note: your grant %d, given", pending.ID), 1)
			}
			if c.wantErr != nil {
				if c.pending {
					// A refused install leaves the grant as it was: pending,
					// applying to nothing.
					if gs := grantsOf(t, e, "demo"); strings.Join(gs, "|") != strings.Join(c.grants, "|") {
						t.Fatalf("grants after a refused install: %q", gs)
					}
					return
				}
				assertEmpty(t, e)
				return
			}
			p, err := e.store.GetPlugin(ctx, "demo")
			must(t, err)
			if p.Version != "1.0.0" || p.Publisher != "Acme" || p.KeyID != keyid.Of(pub) || p.Digest != b.Digest() ||
				p.State != store.StateActive || p.Path != Dir(e.home, "demo", "1.0.0") || p.Risk != r.rep.Risk {
				t.Fatalf("plugin row %+v", p)
			}
			if got := grantsOf(t, e, "demo"); strings.Join(got, "|") != strings.Join(c.grants, "|") {
				t.Fatalf("grants %q, want %q", got, c.grants)
			}
			// What stays applies to this install, and only what stays.
			active, err := e.store.ActiveGrants(ctx, time.Now())
			must(t, err)
			if len(active) != len(c.grants) {
				t.Fatalf("%d grants apply, want %d", len(active), len(c.grants))
			}
			if ps, _ := e.store.ListPlugins(ctx); len(ps) != 1 {
				t.Fatalf("plugins %v", ps)
			}
			if _, err := os.Stat(filepath.Join(p.Path, "plugin.wasm")); err != nil {
				t.Fatalf("entry not extracted: %v", err)
			}
		})
	}
}

func TestInstallModes(t *testing.T) {
	unattended := "version: 1\nunattended_install: true\n"
	t.Run("no terminal, no --yes", func(t *testing.T) {
		b, pub := signedBundle(t, "demo", "1.0.0", perms)
		e := newEnv(t, pub)
		if _, err := Install(ctx, b, e.config(nil, nil, false)); !errors.Is(err, ErrNeedsConsent) {
			t.Fatalf("%v, want ErrNeedsConsent", err)
		}
		assertEmpty(t, e)
	})
	t.Run("--yes under the default policy", func(t *testing.T) {
		b, pub := signedBundle(t, "demo", "1.0.0", perms)
		e := newEnv(t, pub)
		if _, err := Install(ctx, b, e.config(nil, nil, true)); !errors.Is(err, ErrPolicy) {
			t.Fatalf("%v, want ErrPolicy", err)
		}
		assertEmpty(t, e)
	})
	t.Run("--yes with unattended_install", func(t *testing.T) {
		b, pub := signedBundle(t, "demo", "1.0.0", perms)
		e := newEnv(t, pub)
		rep, err := Install(ctx, b, e.config(parsePolicy(t, unattended), nil, true))
		must(t, err)
		if rep.By != ByUnattended || len(grantsOf(t, e, "demo")) != 2 {
			t.Fatalf("report %+v grants %v", rep, grantsOf(t, e, "demo"))
		}
	})
	t.Run("risk over max_risk", func(t *testing.T) {
		b, pub := signedBundle(t, "demo", "1.0.0", perms)
		e := newEnv(t, pub)
		if _, err := Install(ctx, b, e.config(parsePolicy(t, "version: 1\nunattended_install: true\nmax_risk: 1\n"), nil, true)); !errors.Is(err, ErrPolicy) {
			t.Fatalf("%v, want ErrPolicy", err)
		}
		assertEmpty(t, e)
	})
	t.Run("preapproved publisher skips the screen", func(t *testing.T) {
		b, pub := signedBundle(t, "demo", "1.0.0", perms)
		e := newEnv(t, pub)
		pol := parsePolicy(t, "version: 1\npreapproved_publishers:\n  - name: Acme\n    key_id: "+keyid.Of(pub)+"\n")
		rep, err := Install(ctx, b, e.config(pol, nil, false))
		must(t, err)
		if rep.By != ByPreapproved {
			t.Fatalf("by %s", rep.By)
		}
		if got := grantsOf(t, e, "demo"); len(got) != 2 || !strings.HasSuffix(got[0], " policy") {
			t.Fatalf("grants %v", got)
		}
	})
	t.Run("untrusted key", func(t *testing.T) {
		b, _ := signedBundle(t, "demo", "1.0.0", perms)
		e := newEnv(t)
		_, err := Install(ctx, b, e.config(parsePolicy(t, unattended), nil, true))
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Result.State != bundle.ValidUntrustedKey {
			t.Fatalf("%v, want a valid-untrusted-key VerifyError", err)
		}
		assertEmpty(t, e)
	})
	t.Run("unsigned", func(t *testing.T) {
		b, pub := signedBundle(t, "demo", "1.0.0", perms)
		e := newEnv(t, pub)
		_, err := Install(ctx, b.Unsigned(), e.config(parsePolicy(t, unattended), nil, true))
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Result.State != bundle.Unsigned {
			t.Fatalf("%v, want unsigned", err)
		}
	})
	t.Run("lint error", func(t *testing.T) {
		wild := []map[string]any{{"resource": "filesystem:/**", "actions": []string{"read"}, "reason": "Everything."}}
		b, pub := signedBundle(t, "demo", "1.0.0", wild)
		e := newEnv(t, pub)
		if _, err := Install(ctx, b, e.config(parsePolicy(t, unattended), nil, true)); !errors.Is(err, ErrSubmission) {
			t.Fatalf("%v, want ErrSubmission", err)
		}
		assertEmpty(t, e)
	})
}

func TestRevocationQuarantinesAndUninstall(t *testing.T) {
	b, pub := signedBundle(t, "demo", "1.0.0", perms)
	e := newEnv(t, pub)
	cfg := e.config(parsePolicy(t, "version: 1\nunattended_install: true\n"), nil, true)
	_, err := Install(ctx, b, cfg)
	must(t, err)
	if _, err := Install(ctx, b, cfg); !errors.Is(err, ErrInstalled) {
		t.Fatalf("second install: %v", err)
	}
	list, err := List(ctx, cfg)
	must(t, err)
	if len(list) != 1 || list[0].Trust != "trusted" || list[0].Name != "demo" {
		t.Fatalf("list %+v", list)
	}

	// The enterprise revokes 1.x of demo.
	rootPub, rootPriv, _ := ed25519.GenerateKey(rand.Reader)
	must(t, e.trust.SetRoot(rootPub))
	doc, err := trust.SignRevocations(ctx, trust.RevocationDoc{Version: 1, Plugins: []trust.RevokedPlugin{{Name: "demo", Versions: "<2.0.0", Reason: "CVE-1"}}}, rootPriv)
	must(t, err)
	l, err := e.trust.LoadRevocations(doc)
	must(t, err)
	if _, err := trust.Apply(ctx, e.store, l); err != nil {
		t.Fatal(err)
	}
	list, err = List(ctx, cfg)
	must(t, err)
	if list[0].Trust != "quarantined" {
		t.Fatalf("after revocation: %+v", list[0])
	}
	if r := bundle.Verify(ctx, b, e.trust.VerifyOptions()); r.State != bundle.Revoked || r.Revoked != "version" {
		t.Fatalf("verify after revocation: %s", r.State)
	}

	must(t, Uninstall(ctx, "demo", cfg))
	assertEmpty(t, e)
	revs, err := e.store.Revocations(ctx)
	must(t, err)
	found := false
	for _, r := range revs {
		found = found || (r.Kind == store.RevokePlugin && r.Value == "demo")
	}
	if !found {
		t.Fatal("uninstall left no plugin revocation")
	}
	if err := Uninstall(ctx, "demo", cfg); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("second uninstall: %v", err)
	}
}

// An install without a person (--yes, a pre-approved publisher) confirms no
// grant given before it: the ones for its key or for no key are deleted, one
// for another key is left pending, and the installed plugin gets only what
// the install itself gives.
func TestUnattendedInstallConfirmsNoPendingGrant(t *testing.T) {
	for _, mode := range []string{"--yes", "preapproved"} {
		t.Run(mode, func(t *testing.T) {
			acme, other := newPublisher(t, "Acme"), newPublisher(t, "Other")
			e := newRecordingEnv(t, acme)
			add := func(key string) store.Grant {
				g, err := e.store.AddGrant(ctx, store.Grant{Plugin: "demo", Resource: "kv:cache-today", Actions: []string{"read"}, KeyID: key})
				must(t, err)
				return g
			}
			mine, anyone, theirs := add(keyid.Of(acme.pub)), add(""), add(keyid.Of(other.pub))
			e.take()
			pol := parsePolicy(t, unattendedPolicy)
			if mode == "preapproved" {
				pol = parsePolicy(t, "version: 1\npreapproved_publishers:\n  - key_id: "+keyid.Of(acme.pub)+"\n")
			}
			rep, err := Install(ctx, acme.bundle(t, "demo", "1.0.0", v1Perms), e.config(pol, nil, mode == "--yes"))
			must(t, err)
			if len(rep.Confirmed) != 0 || len(rep.Removed) != 2 || rep.Removed[0].ID != mine.ID || rep.Removed[1].ID != anyone.ID {
				t.Fatalf("report: confirmed %v removed %v", rep.Confirmed, rep.Removed)
			}
			gs, err := e.store.ListGrants(ctx, "demo")
			must(t, err)
			if len(gs) != 4 || gs[0].ID != theirs.ID || !gs[0].Pending() {
				t.Fatalf("grants: %+v; want the other key's still pending and the 3 install grants", gs)
			}
			active, err := e.store.ActiveGrants(ctx, time.Now())
			must(t, err)
			if len(active) != 3 {
				t.Fatalf("%d grants apply, want the 3 the install gave", len(active))
			}
			evs := e.take()
			if len(evs) < 2 || evs[0] != "grant.deleted kv:cache-today user" || evs[1] != "grant.deleted kv:cache-today user" {
				t.Fatalf("events %q", evs)
			}
		})
	}
}
