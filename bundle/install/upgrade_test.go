package install

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/wardenproject/warden/bundle"
	"github.com/wardenproject/warden/consent"
	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/store"
	"github.com/wardenproject/warden/trust"
)

// publisher signs bundles with one key, as a real publisher does across
// versions.
type publisher struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
	name string
}

func newPublisher(t testing.TB, name string) publisher {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	return publisher{pub: pub, priv: priv, name: name}
}

func (p publisher) bundle(t testing.TB, name, version string, perms []map[string]any) *bundle.Bundle {
	t.Helper()
	dir := t.TempDir()
	m := map[string]any{
		"name": name, "version": version, "description": "A test plugin.", "entry": "plugin.wasm", "runtime": "wasm",
		"publisher": map[string]string{"name": p.name, "key_id": keyid.Of(p.pub)}, "permissions": perms,
	}
	src, _ := json.MarshalIndent(m, "", "  ")
	must(t, os.WriteFile(filepath.Join(dir, "manifest.json"), src, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "plugin.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644))
	b, err := bundle.Pack(ctx, dir, bundle.PackOptions{})
	must(t, err)
	b, err = bundle.Sign(ctx, b, p.priv)
	must(t, err)
	return b
}

// recording is an env whose store reports its events, as the audit ledger
// sees them.
type recording struct {
	env
	mu     sync.Mutex
	events []string
}

func newRecordingEnv(t *testing.T, pubs ...publisher) *recording {
	t.Helper()
	r := &recording{}
	home := t.TempDir()
	st, err := store.Open(ctx, store.Path(home), store.WithRecorder(store.RecorderFunc(func(_ context.Context, e store.Event) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if e.Grant != nil {
			r.events = append(r.events, fmt.Sprintf("%s %s %s", e.Type, e.Grant.Resource, e.Grant.Source))
		} else {
			r.events = append(r.events, fmt.Sprintf("%s %s %s", e.Type, e.Plugin, e.State))
		}
		return nil
	})))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	tr, err := trust.Open(home)
	must(t, err)
	for _, p := range pubs {
		_, err := tr.Add(p.pub, p.name, time.Time{})
		must(t, err)
	}
	r.env = env{home: home, store: st, trust: tr}
	return r
}

func (r *recording) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// state renders the plugin rows, every grant and the plugins directory: what
// must not change when an upgrade fails.
func (e env) state(t *testing.T) string {
	t.Helper()
	ps, err := e.store.ListPlugins(ctx)
	must(t, err)
	gs, err := e.store.ListGrants(ctx, "")
	must(t, err)
	var files []string
	root := PluginsDir(e.home)
	_ = filepath.WalkDir(root, func(path string, _ os.DirEntry, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(root, path)
			files = append(files, rel)
		}
		return nil
	})
	sort.Strings(files)
	b, err := json.Marshal(map[string]any{"plugins": ps, "grants": gs, "files": files})
	must(t, err)
	return string(b)
}

type fakePrompter struct {
	req    consent.Request
	accept func(consent.Request) ([]int, error)
}

func (f *fakePrompter) Ask(_ context.Context, req consent.Request) (consent.Decision, error) {
	f.req = req
	acc, err := f.accept(req)
	return consent.Decision{Accepted: acc}, err
}

var (
	v1Perms = []map[string]any{
		{"resource": "kv:cache-*", "actions": []string{"read", "write"}, "reason": "Caches results."},
		{"resource": "clipboard", "actions": []string{"write"}, "reason": "Copies the answer."},
		{"resource": "kv:tmp-*", "actions": []string{"write"}, "reason": "Scratch space."},
	}
	// 2.0.0 keeps kv:cache-* as it was, drops clipboard, narrows nothing,
	// widens kv:tmp-* and adds kv:log-*.
	v2Perms = []map[string]any{
		{"resource": "kv:cache-*", "actions": []string{"write", "read"}, "reason": "Caches results, reworded."},
		{"resource": "kv:tmp-*", "actions": []string{"read", "write"}, "reason": "Scratch space."},
		{"resource": "kv:log-*", "actions": []string{"write"}, "reason": "Keeps a log."},
	}
)

const unattendedPolicy = "version: 1\nunattended_install: true\n"

// installV1 installs demo 1.0.0 with every permission and gives two user
// grants: one the 2.0.0 manifest still covers, one it does not.
func installV1(t *testing.T, e *recording, acme publisher) (keep, drop store.Grant) {
	t.Helper()
	_, err := Install(ctx, acme.bundle(t, "demo", "1.0.0", v1Perms), e.config(parsePolicy(t, unattendedPolicy), nil, true))
	must(t, err)
	p, err := e.store.GetPlugin(ctx, "demo")
	must(t, err)
	keep, err = e.store.AddGrant(ctx, store.Grant{Plugin: "demo", Resource: "kv:cache-today", Actions: []string{"read"}, InstallID: p.InstallID})
	must(t, err)
	drop, err = e.store.AddGrant(ctx, store.Grant{Plugin: "demo", Resource: "clipboard", Actions: []string{"write"}, InstallID: p.InstallID})
	must(t, err)
	e.take()
	return keep, drop
}

func TestUpgradeReplacesInstallGrantsAndKeepsCoveredUserGrants(t *testing.T) {
	acme := newPublisher(t, "Acme")
	e := newRecordingEnv(t, acme)
	keep, drop := installV1(t, e, acme)
	before, err := e.store.ListGrants(ctx, "demo")
	must(t, err)
	cacheID := before[0].ID // kv:cache-* install grant, unchanged in 2.0.0

	cfg := e.config(parsePolicy(t, unattendedPolicy), nil, true)
	cfg.Upgrade = true
	rep, err := Install(ctx, acme.bundle(t, "demo", "2.0.0", v2Perms), cfg)
	must(t, err)
	if rep.Previous != "1.0.0" || rep.Version != "2.0.0" || rep.Path != Dir(e.home, "demo", "2.0.0") {
		t.Fatalf("report %+v", rep)
	}
	want := []string{
		"kv:cache-* read,write install", // unchanged: kept, same id
		"kv:cache-today read user",      // user grant the new manifest covers: kept
		"kv:tmp-* read,write install",   // changed: replaced by the new grant
		"kv:log-* write install",        // new
	}
	if got := grantsOf(t, e.env, "demo"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("grants after upgrade\n got %q\nwant %q", got, want)
	}
	gs, _ := e.store.ListGrants(ctx, "demo")
	if gs[0].ID != cacheID || gs[1].ID != keep.ID {
		t.Fatalf("kept grants changed id: %+v", gs)
	}
	for _, g := range gs {
		if g.ID == drop.ID {
			t.Fatal("a user grant outside the new manifest survived the upgrade")
		}
	}
	// The audit sees every grant taken away and every grant given.
	wantEvents := []string{
		"grant.deleted clipboard install",
		"grant.deleted kv:tmp-* install",
		"grant.deleted clipboard user",
		"grant.added kv:tmp-* install",
		"grant.added kv:log-* install",
	}
	if got := e.take(); strings.Join(got, "|") != strings.Join(wantEvents, "|") {
		t.Fatalf("events\n got %q\nwant %q", got, wantEvents)
	}
	if len(rep.Removed) != 3 || len(rep.Kept) != 2 || len(rep.Grants) != 2 {
		t.Fatalf("report grants: removed %v kept %v added %v", rep.Removed, rep.Kept, rep.Grants)
	}
	p, err := e.store.GetPlugin(ctx, "demo")
	must(t, err)
	if p.Version != "2.0.0" || p.Path != rep.Path {
		t.Fatalf("row %+v", p)
	}
	if _, err := os.Stat(filepath.Join(rep.Path, "plugin.wasm")); err != nil {
		t.Fatalf("new version not extracted: %v", err)
	}
	if _, err := os.Stat(Dir(e.home, "demo", "1.0.0")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old version directory left behind: %v", err)
	}
}

func TestUpgradeConsentShowsOnlyNewOrChanged(t *testing.T) {
	acme := newPublisher(t, "Acme")
	e := newRecordingEnv(t, acme)
	installV1(t, e, acme)
	v2 := acme.bundle(t, "demo", "2.0.0", v2Perms)

	t.Run("refused: the old version stays", func(t *testing.T) {
		before := e.state(t)
		screen := &fakePrompter{accept: func(consent.Request) ([]int, error) { return nil, consent.ErrRefused }}
		cfg := e.config(nil, screen, false)
		cfg.Upgrade = true
		if _, err := Install(ctx, v2, cfg); !errors.Is(err, ErrRefused) {
			t.Fatalf("refused upgrade: %v", err)
		}
		if e.state(t) != before || len(e.take()) != 0 {
			t.Fatal("a refused upgrade changed the store or the files")
		}
	})
	t.Run("accept one of the two", func(t *testing.T) {
		// The person marks kv:log-* and leaves the existing grants marked,
		// as pressing Enter does.
		screen := &fakePrompter{accept: func(req consent.Request) ([]int, error) {
			var acc []int
			for i, it := range req.Items {
				if it.Resource == "kv:log-*" || it.Selected {
					acc = append(acc, i)
				}
			}
			return acc, nil
		}}
		cfg := e.config(nil, screen, false)
		cfg.Upgrade = true
		rep, err := Install(ctx, v2, cfg)
		must(t, err)
		var asked, existing, removed []string
		for _, it := range screen.req.Items {
			line := it.Resource + " " + strings.Join(it.Actions, ",")
			if it.Existing == "" {
				asked = append(asked, line)
			} else if it.Selected {
				existing = append(existing, line)
			}
		}
		for _, it := range screen.req.Removed {
			removed = append(removed, it.Resource+" "+strings.Join(it.Actions, ","))
		}
		if strings.Join(asked, "|") != "kv:tmp-* read,write|kv:log-* write" {
			t.Fatalf("the upgrade screen asked about %q; it must ask only about new or changed permissions", asked)
		}
		// What carries over is shown, marked: the unchanged permission's
		// grant and the user grant the new manifest covers; the user grant
		// outside it is shown as removed.
		if strings.Join(existing, "|") != "kv:cache-* read,write|kv:cache-today read" || strings.Join(removed, "|") != "clipboard write" {
			t.Fatalf("the upgrade screen showed existing %q and removed %q", existing, removed)
		}
		if !strings.Contains(screen.req.Version, "upgrade from 1.0.0") || !strings.Contains(screen.req.Version, "1 unchanged") {
			t.Fatalf("the screen does not say it is an upgrade: %q", screen.req.Version)
		}
		if rep.By != ByConsent {
			t.Fatalf("by %s", rep.By)
		}
		want := "kv:cache-* read,write install|kv:cache-today read user|kv:log-* write install"
		if got := strings.Join(grantsOf(t, e.env, "demo"), "|"); got != want {
			t.Fatalf("grants %s, want %s", got, want)
		}
	})
}

func TestUpgradeRefusals(t *testing.T) {
	acme := newPublisher(t, "Acme")
	other := newPublisher(t, "Acme") // same name, another key
	e := newRecordingEnv(t, acme, other)
	pol := parsePolicy(t, unattendedPolicy)
	_, err := Install(ctx, acme.bundle(t, "demo", "2.0.0", v2Perms), e.config(pol, nil, true))
	must(t, err)
	v1 := acme.bundle(t, "demo", "1.0.0", v1Perms)
	before := e.state(t)
	e.take()

	cases := []struct {
		name    string
		b       *bundle.Bundle
		upgrade bool
		want    error
	}{
		{"installed, no --upgrade", acme.bundle(t, "demo", "3.0.0", v2Perms), false, ErrInstalled},
		{"same version", acme.bundle(t, "demo", "2.0.0", v1Perms), true, ErrInstalled},
		{"same version, other build", acme.bundle(t, "demo", "2.0.0+rebuild", v1Perms), true, ErrInstalled},
		{"downgrade", v1, true, ErrDowngrade},
		{"pre-release of the same version is lower", acme.bundle(t, "demo", "2.0.0-rc.1", v2Perms), true, ErrDowngrade},
		{"another publisher key", other.bundle(t, "demo", "3.0.0", v2Perms), true, ErrPublisherChanged},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := e.config(pol, nil, true)
			cfg.Upgrade = c.upgrade
			if _, err := Install(ctx, c.b, cfg); !errors.Is(err, c.want) {
				t.Fatalf("%v, want %v", err, c.want)
			}
			if e.state(t) != before || len(e.take()) != 0 {
				t.Fatal("a refused upgrade changed the store or the files")
			}
		})
	}

	t.Run("downgrade allowed", func(t *testing.T) {
		cfg := e.config(pol, nil, true)
		cfg.Upgrade, cfg.AllowDowngrade = true, true
		rep, err := Install(ctx, v1, cfg)
		must(t, err)
		if rep.Previous != "2.0.0" || rep.Version != "1.0.0" {
			t.Fatalf("report %+v", rep)
		}
		if _, err := os.Stat(Dir(e.home, "demo", "2.0.0")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("2.0.0 directory left behind: %v", err)
		}
	})
	t.Run("--upgrade of a plugin not installed installs it", func(t *testing.T) {
		cfg := e.config(pol, nil, true)
		cfg.Upgrade = true
		if _, err := Install(ctx, acme.bundle(t, "fresh", "1.0.0", v1Perms), cfg); err != nil {
			t.Fatal(err)
		}
	})
}

// Attack on atomicity: the store fails in the middle of the upgrade's
// transaction (after the new plugin row, on a grant). The old version must
// stay installed, with its grants and its files, and no new files may stay.
func TestUpgradeFailureKeepsOldVersion(t *testing.T) {
	acme := newPublisher(t, "Acme")
	e := newRecordingEnv(t, acme)
	installV1(t, e, acme)
	// A trigger in the database file makes SQLite itself abort the insert of
	// the new version's kv:log-* grant.
	db, err := sql.Open("sqlite", store.Path(e.home))
	must(t, err)
	_, err = db.ExecContext(ctx, `CREATE TRIGGER fail_upgrade BEFORE INSERT ON grants WHEN NEW.resource = 'kv:log-*'
		BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`)
	must(t, err)
	must(t, db.Close())
	before := e.state(t)

	cfg := e.config(parsePolicy(t, unattendedPolicy), nil, true)
	cfg.Upgrade = true
	_, err = Install(ctx, acme.bundle(t, "demo", "2.0.0", v2Perms), cfg)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("upgrade with a failing store: %v", err)
	}
	if got := e.state(t); got != before {
		t.Fatalf("a failed upgrade left a partial change:\nbefore %s\nafter  %s", before, got)
	}
	if evs := e.take(); len(evs) != 0 {
		t.Fatalf("a failed upgrade recorded events: %v", evs)
	}
	p, err := e.store.GetPlugin(ctx, "demo")
	must(t, err)
	if _, err := os.Stat(filepath.Join(p.Path, "plugin.wasm")); err != nil || p.Version != "1.0.0" {
		t.Fatalf("old version not intact: %+v %v", p, err)
	}
}

// Attack on atomicity of a first install: the store fails on the second
// grant; no plugin row without its grants, and no files, may stay.
func TestInstallFailureLeavesNothing(t *testing.T) {
	acme := newPublisher(t, "Acme")
	e := newRecordingEnv(t, acme)
	db, err := sql.Open("sqlite", store.Path(e.home))
	must(t, err)
	_, err = db.ExecContext(ctx, `CREATE TRIGGER fail_install BEFORE INSERT ON grants WHEN NEW.resource = 'clipboard'
		BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`)
	must(t, err)
	must(t, db.Close())
	_, err = Install(ctx, acme.bundle(t, "demo", "1.0.0", v1Perms), e.config(parsePolicy(t, unattendedPolicy), nil, true))
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("install with a failing store: %v", err)
	}
	assertEmpty(t, e.env)
	if evs := e.take(); len(evs) != 0 {
		t.Fatalf("a failed install recorded events: %v", evs)
	}
}

// On an upgrade the installed version's grants are lines of their own on
// the consent screen; one the person clears is deleted, and logged, like any
// grant taken away.
func TestUpgradeClearedGrantIsRemoved(t *testing.T) {
	acme := newPublisher(t, "Acme")
	e := newRecordingEnv(t, acme)
	installV1(t, e, acme)
	screen := &fakePrompter{accept: func(req consent.Request) ([]int, error) {
		var acc []int
		for i, it := range req.Items {
			if it.Existing == "" || it.Resource == "kv:cache-*" {
				acc = append(acc, i) // every asked permission, and the install grant; not kv:cache-today
			}
		}
		return acc, nil
	}}
	cfg := e.config(nil, screen, false)
	cfg.Upgrade = true
	rep, err := Install(ctx, acme.bundle(t, "demo", "2.0.0", v2Perms), cfg)
	must(t, err)
	want := "kv:cache-* read,write install|kv:tmp-* read,write install|kv:log-* write install"
	if got := strings.Join(grantsOf(t, e.env, "demo"), "|"); got != want {
		t.Fatalf("grants %s, want %s", got, want)
	}
	if len(rep.Kept) != 1 || rep.Kept[0].Resource != "kv:cache-*" || len(rep.Removed) != 4 {
		t.Fatalf("report: kept %v removed %v", rep.Kept, rep.Removed)
	}
	var deleted []string
	for _, ev := range e.take() {
		if strings.HasPrefix(ev, "grant.deleted") {
			deleted = append(deleted, ev)
		}
	}
	if !slices.Contains(deleted, "grant.deleted kv:cache-today user") || len(deleted) != 4 {
		t.Fatalf("deletions recorded: %q", deleted)
	}
}
