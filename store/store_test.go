package store

import (
	"context"
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

	"github.com/wardenproject/warden/internal/home"
)

func openTest(t testing.TB, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), FileName), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// installed writes a plugin row for id signed by key and returns it, with the
// install id the store gave it.
func installed(t testing.TB, s *Store, id, key string) Plugin {
	t.Helper()
	ctx := context.Background()
	must(t, s.UpsertPlugin(ctx, Plugin{ID: id, Version: "1.0.0", KeyID: key, Manifest: []byte(`{}`)}))
	p, err := s.GetPlugin(ctx, id)
	must(t, err)
	if p.InstallID == "" {
		t.Fatalf("plugin %s has no install id", id)
	}
	return p
}

func TestOpenFileModeAndPragmas(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("state.db mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := s.AddGrant(ctx, Grant{Plugin: "p", Resource: "clipboard", Actions: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	// SQLite gives the WAL the database file's mode; a plugin's kv data passes
	// through it, so check it too.
	if fi, err := os.Stat(s.Path() + "-wal"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state.db-wal: %v, mode %v", err, fi.Mode().Perm())
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000", "synchronous": "1"} {
		var got string
		if err := s.db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	if v, _ := s.SchemaVersion(ctx); v != LatestSchemaVersion() || v < 2 {
		t.Fatalf("schema version %d, latest %d", v, LatestSchemaVersion())
	}
}

// Attack: another user can read the database (kv holds plugins' private data).
func TestOpenRefusesReadableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), path)
	if !errors.Is(err, home.ErrUnsafe) {
		t.Fatalf("Open of a 0644 database: %v, want home.ErrUnsafe", err)
	}
}

func TestPathWithQuestionMark(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?_pragma=journal_mode(DELETE)#x")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("database not created where asked: %v", err)
	}
}

func TestMigrationFromEmpty(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	rows, err := s.db.QueryContext(ctx, "SELECT version, name FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v int
		var n string
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d_%s", v, n))
	}
	if strings.Join(got, ",") != "1_init,2_kv,3_grant_binding" {
		t.Fatalf("applied migrations %v", got)
	}
	for _, table := range []string{"grants", "revocations", "plugins", "keys", "kv", "kv_usage"} {
		var n int
		if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s missing (%v)", table, err)
		}
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// The previous schema's grants named only a plugin. Migrating binds the
// grants of each installed plugin to that install (they are the ones in force
// today) and leaves the grants of a plugin not installed pending, so that
// they apply to nothing until a person confirms them on a consent screen.
func TestMigrationFromPreviousVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	latest := LatestSchemaVersion()
	old, err := Open(ctx, path, func(c *config) { c.maxVersion = latest - 1 })
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := old.SchemaVersion(ctx); v != latest-1 {
		t.Fatalf("old database at version %d, want %d", v, latest-1)
	}
	// Rows as the previous warden wrote them: this binary's writers know
	// the new columns, so the old rows go in as SQL against the old schema.
	for _, q := range []string{
		`INSERT INTO plugins (id, version, publisher, key_id, manifest, installed_at) VALUES ('sheet-gen', '1.0.0', 'Acme', 'ed25519:00000000000000aa', '{}', 1)`,
		`INSERT INTO grants (plugin, resource, actions, created, source) VALUES ('sheet-gen', 'filesystem:/data/**', 'read', 1, 'user')`,
		`INSERT INTO grants (plugin, resource, actions, created, source) VALUES ('not-yet', 'clipboard', 'read', 1, 'user')`,
	} {
		if _, err := old.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != latest {
		t.Fatalf("migrated database at version %d, want %d", v, latest)
	}
	p, err := s.GetPlugin(ctx, "sheet-gen")
	if err != nil || len(p.InstallID) != 32 {
		t.Fatalf("installed plugin after migration: %+v %v; want a 128-bit install id", p, err)
	}
	gs, err := s.ListGrants(ctx, "")
	if err != nil || len(gs) != 2 {
		t.Fatalf("grants lost in migration: %v %v", gs, err)
	}
	if !gs[0].BoundTo(p) || gs[0].KeyID != "ed25519:00000000000000aa" {
		t.Fatalf("grant of the installed plugin not bound to its install: %+v", gs[0])
	}
	if !gs[1].Pending() || gs[1].KeyID != "" {
		t.Fatalf("grant of a plugin not installed is not pending for no key: %+v", gs[1])
	}
	active, err := s.ActiveGrants(ctx, time.Now())
	if err != nil || len(active) != 1 || active[0].ID != gs[0].ID {
		t.Fatalf("active grants after migration: %+v %v; want only the bound one", active, err)
	}
	if err := s.KVSet(ctx, "sheet-gen", "k", []byte("v")); err != nil {
		t.Fatalf("kv after migration: %v", err)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", LatestSchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer database: %v, want ErrSchemaTooNew", err)
	}
}

func TestGrants(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var events []Event
	s := openTest(t, WithClock(func() time.Time { return now }),
		WithRecorder(RecorderFunc(func(_ context.Context, e Event) error { events = append(events, e); return nil })))

	a, b := installed(t, s, "a", "ed25519:000000000000000a"), installed(t, s, "b", "ed25519:000000000000000b")
	g1, err := s.AddGrant(ctx, Grant{Plugin: "a", Resource: "filesystem:/x/**", Actions: []string{"write", "read", "read"}, InstallID: a.InstallID})
	if err != nil {
		t.Fatal(err)
	}
	if g1.ID == 0 || g1.Source != SourceUser || !g1.Created.Equal(now) || strings.Join(g1.Actions, ",") != "read,write" ||
		g1.KeyID != a.KeyID || g1.InstallID != a.InstallID || !g1.BoundTo(a) {
		t.Fatalf("grant not normalised or not bound to the install: %+v", g1)
	}
	g2, err := s.AddGrant(ctx, Grant{Plugin: "a", Resource: "clipboard", Actions: []string{"read"}, Expires: now.Add(time.Hour), Source: SourceInstall, Note: "consent", InstallID: a.InstallID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddGrant(ctx, Grant{Plugin: "b", Resource: "clipboard", Actions: []string{"read"}, InstallID: b.InstallID}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Grant{
		{Resource: "clipboard", Actions: []string{"read"}},
		{Plugin: "a", Actions: []string{"read"}},
		{Plugin: "a", Resource: "clipboard"},
		{Plugin: "a", Resource: "clipboard", Actions: []string{"read,write"}},
		{Plugin: "a", Resource: "clipboard", Actions: []string{"read"}, Source: "model"},
		{Plugin: "a", Resource: "clipboard", Actions: []string{"read"}, Expires: now.Add(-time.Second)},
	} {
		if _, err := s.AddGrant(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("AddGrant(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	all, _ := s.ListGrants(ctx, "")
	of, _ := s.ListGrants(ctx, "a")
	if len(all) != 3 || len(of) != 2 || of[1].Note != "consent" || !of[1].Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("list: all %d, a %+v", len(all), of)
	}
	active, _ := s.ActiveGrants(ctx, now.Add(2*time.Hour))
	if len(active) != 2 {
		t.Fatalf("active after expiry: %d grants, want 2", len(active))
	}
	for _, g := range active {
		if g.ID == g2.ID {
			t.Fatal("expired grant listed as active")
		}
	}
	if err := s.DeleteGrant(ctx, g1.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGrant(ctx, g1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if len(events) != 4 || events[0].Type != EventGrantAdded || events[3].Type != EventGrantDeleted || events[3].Grant.ID != g1.ID {
		t.Fatalf("recorded events: %+v", events)
	}
}

func TestRecorderErrorKeepsChange(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, WithRecorder(RecorderFunc(func(context.Context, Event) error { return errors.New("ledger down") })))
	_, err := s.Revoke(ctx, RevokeToken, "jti-1", "leaked")
	if !errors.Is(err, ErrNotRecorded) {
		t.Fatalf("Revoke with failing recorder: %v", err)
	}
	rs, _ := s.Revocations(ctx)
	if len(rs) != 1 {
		t.Fatal("revocation must stay committed when the recorder fails")
	}
}

func TestRevocations(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0).UTC()
	s := openTest(t, WithClock(func() time.Time { return now }))
	if _, err := s.Revoke(ctx, RevokeToken, "jti-1", "leaked"); err != nil {
		t.Fatal(err)
	}
	r, err := s.Revoke(ctx, RevokePlugin, "evil", "malware")
	if err != nil || !r.RevokedBefore.Equal(now) {
		t.Fatalf("plugin revocation: %+v %v", r, err)
	}
	now = now.Add(time.Minute)
	if _, err := s.Revoke(ctx, RevokePlugin, "evil", "still malware"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(ctx, "user", "x", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad kind: %v", err)
	}
	if _, err := s.Revoke(ctx, RevokeKey, "", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty value: %v", err)
	}
	rs, err := s.Revocations(ctx)
	if err != nil || len(rs) != 2 {
		t.Fatalf("revocations: %+v %v", rs, err)
	}
	if rs[0].Kind != RevokePlugin || rs[0].Reason != "still malware" || !rs[0].RevokedBefore.Equal(now) {
		t.Fatalf("re-revocation did not move forward: %+v", rs[0])
	}
	if rs[1].Kind != RevokeToken || !rs[1].RevokedBefore.IsZero() {
		t.Fatalf("token revocation: %+v", rs[1])
	}
}

func TestPlugins(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	p := Plugin{ID: "sheet-gen", Version: "1.0.0", Publisher: "acme", KeyID: "ed25519:abc", Manifest: []byte(`{"name":"sheet-gen"}`), Risk: 30}
	if err := s.UpsertPlugin(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Version = "1.1.0"
	if err := s.UpsertPlugin(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetPlugin(ctx, "sheet-gen")
	if err != nil || got.Version != "1.1.0" || got.State != StateActive || got.Risk != 30 || string(got.Manifest) != `{"name":"sheet-gen"}` {
		t.Fatalf("get: %+v %v", got, err)
	}
	if err := s.UpsertPlugin(ctx, Plugin{ID: "x", Manifest: []byte("{")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad manifest: %v", err)
	}
	if err := s.SetPluginState(ctx, "sheet-gen", StateQuarantined); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPluginState(ctx, "nope", StateQuarantined); !errors.Is(err, ErrNotFound) {
		t.Fatalf("state of missing plugin: %v", err)
	}
	if _, err := s.GetPlugin(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	ps, _ := s.ListPlugins(ctx)
	if len(ps) != 1 || ps[0].State != StateQuarantined {
		t.Fatalf("list: %+v", ps)
	}
	// Uninstall takes the plugin's storage and grants with it.
	must(t, s.KVSet(ctx, "sheet-gen", "k", []byte("v")))
	_, err = s.AddGrant(ctx, Grant{Plugin: "sheet-gen", Resource: "clipboard", Actions: []string{"read"}, InstallID: ps[0].InstallID})
	must(t, err)
	_, err = s.AddGrant(ctx, Grant{Plugin: "other", Resource: "clipboard", Actions: []string{"read"}, KeyID: "ed25519:0000000000000001"})
	must(t, err)
	if err := s.DeletePlugin(ctx, "sheet-gen"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePlugin(ctx, "sheet-gen"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second uninstall: %v", err)
	}
	if _, err := s.KVGet(ctx, "sheet-gen", "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("kv survived uninstall: %v", err)
	}
	if gs, _ := s.ListGrants(ctx, ""); len(gs) != 1 || gs[0].Plugin != "other" {
		t.Fatalf("grants after uninstall: %+v", gs)
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if err := s.PutKey(ctx, Key{ID: "k1", Kind: KeyHost, PublicKey: []byte{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKey(ctx, Key{ID: "k2", Kind: KeyPublisher}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKey(ctx, Key{ID: "k3", Kind: "hmac"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad kind: %v", err)
	}
	if err := s.RetireKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if err := s.RetireKey(ctx, "k1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retire twice: %v", err)
	}
	hosts, _ := s.ListKeys(ctx, KeyHost)
	all, _ := s.ListKeys(ctx, "")
	if len(hosts) != 1 || hosts[0].Retired.IsZero() || len(hosts[0].PublicKey) != 2 || len(all) != 2 {
		t.Fatalf("keys: %+v / %+v", hosts, all)
	}
}

func TestKV(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, WithKVQuota(100))
	if err := s.KVSet(ctx, "p", "a/1", []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, "p", "a/2", nil); err != nil {
		t.Fatal(err)
	}
	s.KVSet(ctx, "p", "a%", []byte("x"))
	s.KVSet(ctx, "p", "b", []byte("x"))
	s.KVSet(ctx, "q", "a/3", []byte("x"))
	v, err := s.KVGet(ctx, "p", "a/2")
	if err != nil || v == nil || len(v) != 0 {
		t.Fatalf("empty value: %q %v", v, err)
	}
	keys, err := s.KVList(ctx, "p", "a/", 10)
	if err != nil || strings.Join(keys, " ") != "a/1 a/2" {
		t.Fatalf("list a/: %v %v", keys, err)
	}
	if keys, _ := s.KVList(ctx, "p", "", 2); strings.Join(keys, " ") != "a%" && len(keys) != 2 {
		t.Fatalf("list limit: %v", keys)
	}
	if keys, _ := s.KVList(ctx, "p", "a%", 10); strings.Join(keys, " ") != "a%" {
		t.Fatalf("%% in prefix must be literal: %v", keys)
	}
	// Usage counts key bytes plus value bytes: 3+10 + 3+0 + 2+1 + 1+1 = 21.
	if n, _ := s.KVUsage(ctx, "p"); n != 21 {
		t.Fatalf("usage %d, want 21", n)
	}
	// Overwriting counts the new value instead of the old one.
	if err := s.KVSet(ctx, "p", "a/1", make([]byte, 10+79)); err != nil {
		t.Fatalf("set within quota after overwrite: %v", err)
	}
	if err := s.KVSet(ctx, "p", "a/1", make([]byte, 10+80)); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("over quota: %v", err)
	}
	if err := s.KVSet(ctx, "p", strings.Repeat("k", MaxKVKey+1), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("long key: %v", err)
	}
	big := openTest(t)
	if err := big.KVSet(ctx, "p", "k", make([]byte, MaxKVValue+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("big value: %v", err)
	}
	if err := s.KVSet(ctx, "p", "bad\xff", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("non-UTF-8 key: %v", err)
	}
	if err := s.KVDelete(ctx, "p", "a/1"); err != nil {
		t.Fatal(err)
	}
	if err := s.KVDelete(ctx, "p", "a/1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if n, _ := s.KVUsage(ctx, "p"); n != 8 {
		t.Fatalf("usage after delete %d, want 8", n)
	}
	// Another plugin's storage is separate.
	if _, err := s.KVGet(ctx, "q", "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("plugin q sees p's key: %v", err)
	}
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{"a": "b", "a/": "a0", "a\xff": "b", "": "", "\xff\xff": ""} {
		got, ok := prefixEnd(in)
		if got != want || ok != (want != "") {
			t.Errorf("prefixEnd(%q) = %q, %v", in, got, ok)
		}
	}
}

const helperEnv = "WARDEN_STORE_TEST_WRITER"

// TestHelperWriter is not a test: it is the body of a child process that
// TestTwoProcessesWriteConcurrently starts by re-running the test binary.
func TestHelperWriter(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process for TestTwoProcessesWriteConcurrently")
	}
	path, rest, _ := strings.Cut(spec, "|")
	name, nstr, _ := strings.Cut(rest, "|")
	n, _ := strconv.Atoi(nstr)
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		if _, err := s.AddGrant(ctx, Grant{Plugin: name, Resource: fmt.Sprintf("filesystem:/d/%d", i), Actions: []string{"read"}}); err != nil {
			t.Fatalf("grant %d: %v", i, err)
		}
		if err := s.KVSet(ctx, name, fmt.Sprintf("k%d", i), []byte(name)); err != nil {
			t.Fatalf("kv %d: %v", i, err)
		}
		if i%10 == 0 {
			if _, err := s.Revoke(ctx, RevokeToken, fmt.Sprintf("%s-%d", name, i), "test"); err != nil {
				t.Fatalf("revoke %d: %v", i, err)
			}
		}
	}
}

// Two warden processes on one home (a desktop's `warden mcp` and the user's
// `warden grant`) write at once, starting from a file that does not exist yet so
// that the migrations race too. Every row must land and the file must pass
// integrity_check.
func TestTwoProcessesWriteConcurrently(t *testing.T) {
	const perProc = 150
	path := filepath.Join(t.TempDir(), FileName)
	names := []string{"proc-a", "proc-b"}
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	outs := make([][]byte, len(names))
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"="+path+"|"+name+"|"+strconv.Itoa(perProc))
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range names {
		if errs[i] != nil {
			t.Fatalf("writer %s: %v\n%s", names[i], errs[i], outs[i])
		}
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		gs, err := s.ListGrants(ctx, name)
		if err != nil || len(gs) != perProc {
			t.Fatalf("%s: %d grants, want %d (%v)", name, len(gs), perProc, err)
		}
		keys, _ := s.KVList(ctx, name, "k", MaxKVList)
		if len(keys) != perProc {
			t.Fatalf("%s: %d kv keys, want %d", name, len(keys), perProc)
		}
	}
	rs, _ := s.Revocations(ctx)
	if len(rs) != 2*perProc/10 {
		t.Fatalf("%d revocations, want %d", len(rs), 2*perProc/10)
	}
	var migrations int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&migrations); err != nil || migrations != LatestSchemaVersion() {
		t.Fatalf("schema_migrations has %d rows, want %d: each migration must apply once (%v)", migrations, LatestSchemaVersion(), err)
	}
}

func BenchmarkAddGrant(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.AddGrant(ctx, Grant{Plugin: "p" + strconv.Itoa(i%100), Resource: "filesystem:/d/" + strconv.Itoa(i), Actions: []string{"read"}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListGrants(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	seedGrants(b, s, 10000, 100)
	b.Run("plugin=100rows", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if gs, err := s.ListGrants(ctx, "p7"); err != nil || len(gs) != 100 {
				b.Fatal(len(gs), err)
			}
		}
	})
	b.Run("active=10000rows", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if gs, err := s.ActiveGrants(ctx, time.Now()); err != nil || len(gs) != 10000 {
				b.Fatal(len(gs), err)
			}
		}
	})
}

// seedGrants inserts n grants over plugins p0..p(plugins-1) in one transaction.
func seedGrants(tb testing.TB, s *Store, n, plugins int) {
	tb.Helper()
	tx, err := s.db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO grants (plugin, resource, actions, created, source) VALUES (?, ?, 'read', ?, 'user')`)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		if _, err := stmt.Exec("p"+strconv.Itoa(i%plugins), "filesystem:/d/"+strconv.Itoa(i), time.Now().UnixNano()); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}
