package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func withAfterPluginRow(f func(ctx context.Context) error) Option {
	return func(c *config) { c.afterPluginRow = f }
}

// events is a Recorder that keeps "type resource source" lines.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) Record(_ context.Context, ev Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case ev.Grant != nil:
		e.got = append(e.got, fmt.Sprintf("%s %s %s", ev.Type, ev.Grant.Resource, ev.Grant.Source))
	default:
		e.got = append(e.got, fmt.Sprintf("%s %s %s", ev.Type, ev.Plugin, ev.State))
	}
	return nil
}

func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.got
	e.got = nil
	return out
}

func plugin(version string) Plugin {
	return Plugin{ID: "demo", Version: version, Manifest: json.RawMessage(`{"name":"demo"}`), Digest: "sha256:" + version}
}

func grant(res string, acts ...string) Grant { return Grant{Resource: res, Actions: acts} }

// snapshot renders every plugin row, grant and kv entry, to compare the
// database before and after an install that must not have happened.
func snapshot(t *testing.T, s *Store) string {
	t.Helper()
	ctx := context.Background()
	ps, err := s.ListPlugins(ctx)
	must(t, err)
	gs, err := s.ListGrants(ctx, "")
	must(t, err)
	keys, err := s.KVList(ctx, "demo", "", 0)
	must(t, err)
	b, err := json.Marshal(map[string]any{"plugins": ps, "grants": gs, "kv": keys})
	must(t, err)
	return string(b)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// grantLines is "resource actions source" per grant of demo, by id.
func grantLines(t *testing.T, s *Store) string {
	t.Helper()
	gs, err := s.ListGrants(context.Background(), "demo")
	must(t, err)
	var out []string
	for _, g := range gs {
		out = append(out, g.Resource+" "+strings.Join(g.Actions, ",")+" "+string(g.Source))
	}
	return strings.Join(out, "|")
}

func TestInstallPluginFirstInstall(t *testing.T) {
	ctx := context.Background()
	rec := &events{}
	s := openTest(t, WithRecorder(rec))
	res, err := s.InstallPlugin(ctx, plugin("1.0.0"), []Grant{grant("clipboard", "write"), {Resource: "kv:x", Actions: []string{"write", "read"}, Source: SourcePolicy}}, InstallOpts{})
	must(t, err)
	if res.Previous != nil || len(res.Added) != 2 || res.Added[0].ID == 0 || res.Added[0].Plugin != "demo" || len(res.Removed) != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.Plugin.State != StateActive || res.Plugin.InstalledAt.IsZero() {
		t.Fatalf("defaults not applied: %+v", res.Plugin)
	}
	if got := grantLines(t, s); got != "clipboard write install|kv:x read,write policy" {
		t.Fatalf("grants %s", got)
	}
	if got := strings.Join(rec.take(), "|"); got != "grant.added clipboard install|grant.added kv:x policy" {
		t.Fatalf("events %s", got)
	}

	before := snapshot(t, s)
	if _, err := s.InstallPlugin(ctx, plugin("2.0.0"), nil, InstallOpts{}); !errors.Is(err, ErrExists) {
		t.Fatalf("install over an installed plugin without Replace: %v, want ErrExists", err)
	}
	if snapshot(t, s) != before || len(rec.take()) != 0 {
		t.Fatal("a refused install changed the database or recorded events")
	}
}

func TestInstallPluginRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	cases := map[string]struct {
		p  Plugin
		gs []Grant
	}{
		"empty id":           {Plugin{Manifest: json.RawMessage(`{}`)}, nil},
		"manifest not JSON":  {Plugin{ID: "demo", Manifest: json.RawMessage(`{`)}, nil},
		"grant of another":   {plugin("1.0.0"), []Grant{{Plugin: "other", Resource: "clipboard", Actions: []string{"read"}}}},
		"grant with a comma": {plugin("1.0.0"), []Grant{grant("clipboard", "read,write")}},
		"grant bad source":   {plugin("1.0.0"), []Grant{{Resource: "clipboard", Actions: []string{"read"}, Source: "tool"}}},
	}
	for name, c := range cases {
		if _, err := s.InstallPlugin(ctx, c.p, c.gs, InstallOpts{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if got := snapshot(t, s); got != `{"grants":null,"kv":null,"plugins":null}` {
		t.Fatalf("refused installs wrote %s", got)
	}
}

func TestInstallPluginReplace(t *testing.T) {
	ctx := context.Background()
	rec := &events{}
	s := openTest(t, WithRecorder(rec))
	first, err := s.InstallPlugin(ctx, plugin("1.0.0"), []Grant{grant("clipboard", "write"), grant("kv:a", "read")}, InstallOpts{})
	must(t, err)
	_, err = s.AddGrant(ctx, Grant{Plugin: "demo", Resource: "kv:keep", Actions: []string{"read"}, InstallID: first.Plugin.InstallID})
	must(t, err)
	drop, err := s.AddGrant(ctx, Grant{Plugin: "demo", Resource: "kv:gone", Actions: []string{"read"}, InstallID: first.Plugin.InstallID})
	must(t, err)
	other, err := s.AddGrant(ctx, Grant{Plugin: "other", Resource: "clipboard", Actions: []string{"read"}})
	must(t, err)
	must(t, s.KVSet(ctx, "demo", "k", []byte("v")))
	must(t, s.SetPluginState(ctx, "demo", StateQuarantined))
	rec.take()

	// A grant id of another plugin, or a stale digest, refuses the whole upgrade.
	before := snapshot(t, s)
	if _, err := s.InstallPlugin(ctx, plugin("2.0.0"), nil, InstallOpts{Replace: true, Upgrade: true, DropGrantIDs: []int64{other.ID}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("dropping another plugin's grant: %v, want ErrInvalid", err)
	}
	if _, err := s.InstallPlugin(ctx, plugin("2.0.0"), nil, InstallOpts{Replace: true, Upgrade: true, ConfirmGrantIDs: []int64{other.ID}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("confirming another plugin's grant: %v, want ErrInvalid", err)
	}
	otherKey := plugin("2.0.0")
	otherKey.KeyID = "ed25519:00000000000000ff"
	if _, err := s.InstallPlugin(ctx, otherKey, nil, InstallOpts{Replace: true, Upgrade: true}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an upgrade signed by another key: %v, want ErrInvalid", err)
	}
	if _, err := s.InstallPlugin(ctx, plugin("2.0.0"), nil, InstallOpts{Replace: true, IfDigest: "sha256:0.9.0"}); !errors.Is(err, ErrChanged) {
		t.Fatalf("stale IfDigest: %v, want ErrChanged", err)
	}
	if snapshot(t, s) != before || len(rec.take()) != 0 {
		t.Fatal("a refused upgrade changed the database or recorded events")
	}

	res, err := s.InstallPlugin(ctx, plugin("2.0.0"), []Grant{grant("kv:b", "write")},
		InstallOpts{Replace: true, Upgrade: true, IfDigest: "sha256:1.0.0", KeepGrantIDs: []int64{first.Added[0].ID, other.ID}, DropGrantIDs: []int64{drop.ID, 999999}})
	must(t, err)
	if res.Previous == nil || res.Previous.Version != "1.0.0" || res.Plugin.Version != "2.0.0" || res.Plugin.InstallID != first.Plugin.InstallID ||
		len(res.Removed) != 2 || len(res.Added) != 1 || len(res.Kept) != 1 || res.Kept[0].ID != first.Added[0].ID {
		t.Fatalf("result %+v", res)
	}
	if got := grantLines(t, s); got != "clipboard write install|kv:keep read user|kv:b write install" {
		t.Fatalf("grants after upgrade %s", got)
	}
	if gs, _ := s.ListGrants(ctx, "other"); len(gs) != 1 {
		t.Fatalf("another plugin's grants changed: %v", gs)
	}
	if v, err := s.KVGet(ctx, "demo", "k"); err != nil || string(v) != "v" {
		t.Fatalf("kv storage lost on upgrade: %q %v", v, err)
	}
	p, err := s.GetPlugin(ctx, "demo")
	must(t, err)
	if p.Version != "2.0.0" || p.State != StateActive || p.InstallID != first.Plugin.InstallID {
		t.Fatalf("row after upgrade %+v; an upgrade keeps the install id", p)
	}
	want := "grant.deleted kv:a install|grant.deleted kv:gone user|grant.added kv:b install|plugin.state_changed demo active"
	if got := strings.Join(rec.take(), "|"); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
}

// Attack on atomicity: a failure after the plugin row is written and before
// (or while) the grants are must leave nothing behind, on a first install and
// on an upgrade alike.
func TestInstallPluginAllOrNothing(t *testing.T) {
	errBoom := errors.New("boom")
	type fault struct {
		name string
		hook func(cancel context.CancelFunc) func(ctx context.Context) error
		// trigger makes SQLite itself fail on the second grant's insert,
		// after the first one went in.
		trigger bool
		want    error
	}
	faults := []fault{
		{name: "error between the writes", hook: func(context.CancelFunc) func(context.Context) error {
			return func(context.Context) error { return errBoom }
		}, want: errBoom},
		{name: "context cancelled between the writes", hook: func(cancel context.CancelFunc) func(context.Context) error {
			return func(context.Context) error { cancel(); return nil }
		}, want: context.Canceled},
		{name: "constraint fails on the second grant", trigger: true},
	}
	for _, f := range faults {
		for _, upgrade := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/upgrade=%v", f.name, upgrade), func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				armed := false
				rec := &events{}
				s := openTest(t, WithRecorder(rec), withAfterPluginRow(func(ctx context.Context) error {
					if !armed || f.hook == nil {
						return nil
					}
					return f.hook(cancel)(ctx)
				}))
				if upgrade {
					first, err := s.InstallPlugin(ctx, plugin("1.0.0"), []Grant{grant("clipboard", "write")}, InstallOpts{})
					must(t, err)
					_, err = s.AddGrant(ctx, Grant{Plugin: "demo", Resource: "kv:user", Actions: []string{"read"}, InstallID: first.Plugin.InstallID})
					must(t, err)
					must(t, s.KVSet(ctx, "demo", "k", []byte("v")))
				}
				if f.trigger {
					_, err := s.db.ExecContext(ctx, `CREATE TRIGGER boom BEFORE INSERT ON grants WHEN NEW.resource = 'kv:boom'
						BEGIN SELECT RAISE(ABORT, 'boom'); END`)
					must(t, err)
				}
				before := snapshot(t, s)
				rec.take()
				armed = true
				_, err := s.InstallPlugin(ctx, plugin("2.0.0"), []Grant{grant("kv:first", "read"), grant("kv:boom", "read")},
					InstallOpts{Replace: true, Upgrade: upgrade})
				if err == nil || (f.want != nil && !errors.Is(err, f.want)) || (f.trigger && !strings.Contains(err.Error(), "boom")) {
					t.Fatalf("install: %v, want %v", err, f.want)
				}
				armed = false
				if got := snapshot(t, s); got != before {
					t.Fatalf("a failed install left a partial write:\nbefore %s\nafter  %s", before, got)
				}
				if evs := rec.take(); len(evs) != 0 {
					t.Fatalf("a failed install recorded events: %v", evs)
				}
				must(t, s.IntegrityCheck(context.Background()))
			})
		}
	}
}

func TestInstallPluginRecorderErrorKeepsInstall(t *testing.T) {
	ctx := context.Background()
	calls := 0
	s := openTest(t, WithRecorder(RecorderFunc(func(context.Context, Event) error { calls++; return errors.New("ledger down") })))
	res, err := s.InstallPlugin(ctx, plugin("1.0.0"), []Grant{grant("clipboard", "write"), grant("kv:a", "read")}, InstallOpts{})
	if !errors.Is(err, ErrNotRecorded) {
		t.Fatalf("install with a failing recorder: %v, want ErrNotRecorded", err)
	}
	if len(res.Added) != 2 || calls != 2 {
		t.Fatalf("result %+v after %d recorder calls; every event must still be offered", res, calls)
	}
	if got := grantLines(t, s); got != "clipboard write install|kv:a read install" {
		t.Fatalf("install must stay committed when the recorder fails; grants %s", got)
	}
}

func BenchmarkInstallPluginUpgrade(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	gs := []Grant{grant("clipboard", "write"), grant("kv:a", "read"), grant("kv:b", "read", "write")}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.InstallPlugin(ctx, plugin(fmt.Sprintf("1.0.%d", i)), gs, InstallOpts{Replace: true}); err != nil {
			b.Fatal(err)
		}
	}
}
