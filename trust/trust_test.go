package trust

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/store"
)

var ctx = context.Background()

func genKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func open(t testing.TB, home string) *Registry {
	t.Helper()
	r, err := Open(home)
	must(t, err)
	return r
}

func TestLocalKeys(t *testing.T) {
	home := t.TempDir()
	r := open(t, home)
	pub, _ := genKey(t)
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	k, err := r.Add(pub, "Acme", exp)
	must(t, err)
	if k.ID != keyid.Of(pub) {
		t.Fatalf("id %s", k.ID)
	}
	// Persisted, private.
	r2 := open(t, home)
	got, ok := r2.Lookup(k.ID)
	if !ok || got.Publisher != "Acme" || !got.Expires.Equal(exp) || got.Source != SourceLocal {
		t.Fatalf("after reopen: %+v %v", got, ok)
	}
	fi, err := os.Stat(filepath.Join(home, "trust", "keys.json"))
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys.json mode %v", fi.Mode().Perm())
	}
	if s := r2.WithClock(func() time.Time { return exp.Add(time.Second) }).State(k.ID); s != "expired" {
		t.Fatalf("state after expiry %q", s)
	}
	if s := r2.WithClock(func() time.Time { return exp.Add(-time.Hour) }).State(k.ID); s != "trusted" {
		t.Fatalf("state before expiry %q", s)
	}
	must(t, r2.Remove(k.ID))
	if err := r2.Remove(k.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	if _, ok := open(t, home).Lookup(k.ID); ok {
		t.Fatal("removed key still trusted after reopen")
	}
	if _, err := r2.Add(pub, "  ", time.Time{}); err == nil {
		t.Fatal("added a key with no publisher")
	}
}

type enterprise struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newEnterprise(t testing.TB, r *Registry) enterprise {
	pub, priv := genKey(t)
	must(t, r.SetRoot(pub))
	return enterprise{pub, priv}
}

func (e enterprise) registry(t testing.TB, version uint64, keys ...ed25519.PublicKey) []byte {
	t.Helper()
	doc := RegistryDoc{Version: version, Issued: time.Unix(1700000000, 0).UTC()}
	for _, k := range keys {
		doc.Keys = append(doc.Keys, RegistryKey{ID: keyid.Of(k), Publisher: "Corp", PublicKey: base64.StdEncoding.EncodeToString(k)})
	}
	data, err := SignRegistry(ctx, doc, e.priv)
	must(t, err)
	return data
}

func (e enterprise) revocations(t testing.TB, doc RevocationDoc) []byte {
	t.Helper()
	data, err := SignRevocations(ctx, doc, e.priv)
	must(t, err)
	return data
}

func TestEnterpriseRegistryAndRollback(t *testing.T) {
	home := t.TempDir()
	r := open(t, home)
	p1, _ := genKey(t)
	p2, _ := genKey(t)
	if _, err := r.LoadRegistry([]byte("{}")); !errors.Is(err, ErrNoRoot) {
		t.Fatalf("load without root: %v", err)
	}
	e := newEnterprise(t, r)
	v1 := e.registry(t, 1, p1)
	v2 := e.registry(t, 2, p2)
	if v, err := r.LoadRegistry(v1); err != nil || v != 1 {
		t.Fatalf("load v1: %v %v", v, err)
	}
	if k, ok := r.Lookup(keyid.Of(p1)); !ok || k.Source != SourceEnterprise {
		t.Fatal("v1 key not trusted")
	}
	if _, err := r.LoadRegistry(v1); err != nil {
		t.Fatalf("reloading the same v1: %v", err)
	}
	_, err := r.LoadRegistry(v2)
	must(t, err)
	if _, ok := r.Lookup(keyid.Of(p1)); ok {
		t.Fatal("v2 dropped p1 but it is still trusted")
	}
	// Roll back: refused, and the refusal survives a reopen.
	if _, err := r.LoadRegistry(v1); !errors.Is(err, ErrRollback) {
		t.Fatalf("rollback to v1: %v, want ErrRollback", err)
	}
	r = open(t, home)
	if _, err := r.LoadRegistry(v1); !errors.Is(err, ErrRollback) {
		t.Fatalf("rollback to v1 after reopen: %v, want ErrRollback", err)
	}
	if _, ok := r.Lookup(keyid.Of(p2)); !ok {
		t.Fatal("v2 key lost on reopen")
	}
	// Same version, other content: refused.
	if _, err := r.LoadRegistry(e.registry(t, 2, p1)); !errors.Is(err, ErrRollback) {
		t.Fatalf("other v2: %v, want ErrRollback", err)
	}
	// Signed by someone else: refused.
	other := enterprise{}
	other.pub, other.priv = genKey(t)
	if _, err := r.LoadRegistry(other.registry(t, 9, p1)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("foreign root: %v, want ErrBadSignature", err)
	}
	// Tampered stored document: Open fails closed.
	path := filepath.Join(home, "trust", registryFile)
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 1
	must(t, os.WriteFile(path, data, 0o600))
	if _, err := Open(home); err == nil {
		t.Fatal("Open accepted a tampered stored registry")
	}
}

func TestRevocationsFromURLAndRollback(t *testing.T) {
	home := t.TempDir()
	r := open(t, home)
	e := newEnterprise(t, r)
	pub, _ := genKey(t)
	digest := "sha256:" + "ab" + string(make([]byte, 0)) + "0000000000000000000000000000000000000000000000000000000000000000"[:62]
	docs := map[string][]byte{
		"/v1": e.revocations(t, RevocationDoc{Version: 1, Keys: []RevokedKey{{ID: keyid.Of(pub), Reason: "stolen"}}}),
		"/v2": e.revocations(t, RevocationDoc{Version: 2,
			Bundles: []RevokedBundle{{Digest: digest, Reason: "malware"}},
			Plugins: []RevokedPlugin{{Name: "demo", Versions: ">=1.0.0 <1.2.0 || 2.0.0", Reason: "CVE"}},
			Tokens:  []RevokedToken{{ID: "tok-1", Reason: "leaked"}}}),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		d, ok := docs[req.URL.Path]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Write(d)
	}))
	defer srv.Close()

	data, err := Fetch(ctx, srv.URL+"/v1", srv.Client())
	must(t, err)
	l, err := r.LoadRevocations(data)
	must(t, err)
	if _, ok := l.RevokedKey(keyid.Of(pub)); !ok || r.State(keyid.Of(pub)) != "revoked" {
		t.Fatal("key not revoked")
	}
	data, err = Fetch(ctx, srv.URL+"/v2", srv.Client())
	must(t, err)
	l, err = r.LoadRevocations(data)
	must(t, err)
	for _, c := range []struct {
		v    string
		want bool
	}{{"1.0.0", true}, {"1.1.9", true}, {"1.2.0", false}, {"2.0.0", true}, {"0.9.0", false}, {"1.2.0-rc.1", true}} {
		if _, got := l.RevokedVersion("demo", c.v); got != c.want {
			t.Errorf("demo %s revoked %v, want %v", c.v, got, c.want)
		}
	}
	if _, ok := l.RevokedBundle(digest); !ok {
		t.Error("bundle digest not revoked")
	}
	if _, ok := l.RevokedKey(keyid.Of(pub)); ok {
		t.Error("v2 does not list the key, but it is still revoked")
	}
	// Roll back to v1 from the server: refused, v2 stays in force.
	data, err = Fetch(ctx, srv.URL+"/v1", srv.Client())
	must(t, err)
	if _, err := r.LoadRevocations(data); !errors.Is(err, ErrRollback) {
		t.Fatalf("rollback: %v, want ErrRollback", err)
	}
	if open(t, home).Revocations().Version() != 2 {
		t.Fatal("v2 not in force after reopen")
	}
	if _, err := Fetch(ctx, srv.URL+"/missing", srv.Client()); err == nil {
		t.Fatal("fetched a 404")
	}
}

func TestApplyQuarantinesAndRevokes(t *testing.T) {
	home := t.TempDir()
	st, err := store.Open(ctx, store.Path(home))
	must(t, err)
	defer st.Close()
	badKey, _ := genKey(t)
	digest := "sha256:" + "1111111111111111111111111111111111111111111111111111111111111111"
	plugins := []store.Plugin{
		{ID: "by-key", Version: "1.0.0", KeyID: keyid.Of(badKey), Manifest: []byte("{}")},
		{ID: "by-digest", Version: "1.0.0", Digest: digest, Manifest: []byte("{}")},
		{ID: "by-version", Version: "1.1.0", Manifest: []byte("{}")},
		{ID: "fine", Version: "3.0.0", Manifest: []byte("{}")},
	}
	for _, p := range plugins {
		must(t, st.UpsertPlugin(ctx, p))
	}
	l, err := newRevocationList(RevocationDoc{Version: 3,
		Keys:    []RevokedKey{{ID: keyid.Of(badKey), Reason: "stolen"}},
		Bundles: []RevokedBundle{{Digest: digest}},
		Plugins: []RevokedPlugin{{Name: "by-version", Versions: "<2.0.0"}},
		Tokens:  []RevokedToken{{ID: "jti-9"}}})
	must(t, err)
	a, err := Apply(ctx, st, l)
	must(t, err)
	if len(a.Quarantined) != 3 || a.Keys != 1 || a.Tokens != 1 {
		t.Fatalf("applied %+v", a)
	}
	for _, p := range plugins {
		got, err := st.GetPlugin(ctx, p.ID)
		must(t, err)
		want := store.StateQuarantined
		if p.ID == "fine" {
			want = store.StateActive
		}
		if got.State != want {
			t.Errorf("%s: state %s, want %s", p.ID, got.State, want)
		}
	}
	revs, err := st.Revocations(ctx)
	must(t, err)
	kinds := map[store.RevocationKind]int{}
	for _, r := range revs {
		kinds[r.Kind]++
	}
	if kinds[store.RevokePlugin] != 3 || kinds[store.RevokeKey] != 1 || kinds[store.RevokeToken] != 1 || len(revs) != 5 {
		t.Fatalf("store revocations %+v", revs)
	}
	// Idempotent.
	if _, err := Apply(ctx, st, l); err != nil {
		t.Fatal(err)
	}
	if revs2, _ := st.Revocations(ctx); len(revs2) != 5 {
		t.Fatalf("second apply changed revocations: %d", len(revs2))
	}
}

func TestParseRange(t *testing.T) {
	bad := []string{"", "1.2", "v1.2.3", ">= 1.2.3", "1.2.3 ||", "01.2.3", "x"}
	for _, s := range bad {
		if _, err := ParseRange(s); err == nil {
			t.Errorf("ParseRange(%q) accepted", s)
		}
	}
	r, err := ParseRange("*")
	must(t, err)
	if !r.Contains("0.0.1") || !r.Contains("not-a-version") {
		t.Error("* does not contain everything")
	}
	r, err = ParseRange("<=1.0.0 >0.5.0")
	must(t, err)
	if !r.Contains("1.0.0") || r.Contains("0.5.0") || !r.Contains("0.5.1") || r.Contains("v0.6.0") || r.Contains("bad") {
		t.Error("range bounds wrong")
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"*", ">=1.0.0 <2.0.0", "1.2.3 || 2.0.0-rc.1", "<=0.0.0+meta", "||", ">>1.0.0"} {
		f.Add(s, "1.5.0")
	}
	f.Fuzz(func(t *testing.T, s, v string) {
		r, err := ParseRange(s)
		if err != nil {
			return
		}
		_ = r.Contains(v)
	})
}

func FuzzLoadRevocations(f *testing.F) {
	pub, priv := genKey(f)
	good, err := SignRevocations(ctx, RevocationDoc{Version: 1, Plugins: []RevokedPlugin{{Name: "x", Versions: "*"}}}, priv)
	must(f, err)
	f.Add(good)
	f.Add([]byte(`{"payloadType":"application/vnd.warden.revocations+json","payload":"e30=","signatures":[]}`))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &Registry{dir: t.TempDir(), root: pub}
		l, err := r.openRevocations(data)
		if err == nil && l.Version() == 0 {
			t.Fatal("accepted version 0")
		}
	})
}
