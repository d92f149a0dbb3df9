package hostapi

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/store"
)

const (
	testPlugin   = "acme.sheets"
	testInstance = "inst-1"
)

type keyMap map[string]ed25519.PublicKey

func (k keyMap) Lookup(id string) (ed25519.PublicKey, bool) { p, ok := k[id]; return p, ok }

// env is a gate wired to the real parts: a ledger, tokens, a policy engine
// and a SQLite store, all in t.TempDir().
type env struct {
	t        *testing.T
	dir      string // scratch root
	data     string // the granted directory
	secret   string // a file outside every grant
	ledger   *audit.Ledger
	issuer   *capability.Issuer
	verifier *capability.Verifier
	revoked  *capability.RevocationSet
	store    *store.Store
	manifest *policy.Manifest
	gate     *Gate
	caller   Caller

	// protected and confirm, when set, go into the Config of gates built by
	// reviewGate.
	protected []string
	confirm   Confirmer
}

type envOpt func(*env, *Config)

func withConfirm(cf Confirmer) envOpt { return func(e *env, c *Config) { c.Confirm = cf } }
func withExtra(m methodDef) envOpt    { return func(e *env, c *Config) { c.extra = append(c.extra, m) } }

func newEnv(t testing.TB, opts ...envOpt) *env {
	tt, _ := t.(*testing.T)
	dir := t.TempDir()
	dir, _ = filepath.EvalSymlinks(dir)
	e := &env{t: tt, dir: dir, data: filepath.Join(dir, "data"), secret: filepath.Join(dir, "secret.txt")}
	must(t, os.MkdirAll(filepath.Join(e.data, "ask"), 0o755))
	must(t, os.WriteFile(filepath.Join(e.data, "a.csv"), []byte("a,b\n1,2\n"), 0o644))
	must(t, os.WriteFile(e.secret, []byte("TOP SECRET"), 0o600))

	_, priv, err := ed25519.GenerateKey(nil)
	must(t, err)
	signer := hostkey.NewSigner(priv)
	e.ledger, err = audit.Open(filepath.Join(dir, "audit"), audit.WithSigner(signer))
	must(t, err)
	t.Cleanup(func() { e.ledger.Close() })
	e.issuer = capability.NewIssuer(signer)
	e.revoked = capability.NewRevocationSet()
	e.verifier = capability.NewVerifier(keyMap{signer.KeyID(): signer.Public()}).WithRevocations(e.revoked)
	e.store, err = store.Open(context.Background(), filepath.Join(dir, "state.db"))
	must(t, err)
	t.Cleanup(func() { e.store.Close() })

	e.manifest, err = policy.NewManifest([]policy.Permission{
		{Resource: "filesystem:" + e.data + "/**", Actions: []string{"read", "write", "list", "delete"}},
		{Resource: "filesystem:" + filepath.Join(dir, "Data") + "/**", Actions: []string{"read"}},
		{Resource: "filesystem:/proc/**", Actions: []string{"read"}},
		{Resource: "kv:cache/*", Actions: []string{"read", "write", "list", "delete"}},
	}, resource.Options{})
	must(t, err)
	pol, err := policy.Parse([]byte(fmt.Sprintf(`version: 1
rules:
  - id: data-ask
    effect: ask
    resource: filesystem:%[1]s/ask/**
    reason: The ask folder needs a person.
  - id: data
    effect: allow
    resource: filesystem:%[1]s/**
  - id: kv
    effect: allow
    resource: kv:cache/*
`, e.data)), policy.ParseOptions{File: "test.yaml"})
	must(t, err)
	cfg := Config{Tokens: e.verifier, Policy: policy.NewEngine(pol, nil), Audit: e.ledger, Issuer: e.issuer, KV: e.store}
	for _, o := range opts {
		o(e, &cfg)
	}
	e.gate, err = NewGate(cfg)
	must(t, err)
	e.caller = Caller{Plugin: testPlugin, Version: "1.0.0", Publisher: "acme", Instance: testInstance, Session: "s-1",
		Manifest: e.manifest, Tokens: []string{e.mint("filesystem:"+e.data+"/**", "read", "write", "list", "delete"), e.mint("kv:cache/*", "read", "write", "list", "delete")}}
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) mintFor(sub, aud, res string, acts ...string) string {
	tok, _, err := e.issuer.Mint(capability.Request{Subject: sub, Audience: aud, Resource: res, Actions: acts, TTL: time.Hour})
	if err != nil {
		panic(err)
	}
	return tok
}

func (e *env) mint(res string, acts ...string) string {
	return e.mintFor(testPlugin, testInstance, res, acts...)
}

// call makes a host call with params built from v.
func (e *env) call(method, token string, v any) (map[string]any, error) {
	var raw []byte
	switch p := v.(type) {
	case string:
		raw = []byte(p)
	case []byte:
		raw = p
	default:
		var err error
		raw, err = json.Marshal(v)
		if err != nil {
			panic(err)
		}
	}
	res, err := e.gate.Call(context.Background(), e.caller, method, token, raw)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(res, &out); err != nil {
		return nil, fmt.Errorf("result of %s is not JSON: %v: %s", method, err, res)
	}
	// Every result must match its schema.
	var doc any
	_ = json.Unmarshal(res, &doc)
	if err := e.gate.methods[method].result.Validate(doc); err != nil {
		return nil, fmt.Errorf("result of %s does not match its schema: %v: %s", method, err, res)
	}
	return out, nil
}

// events returns every event in the ledger, after making them durable.
func (e *env) events() []*audit.Event {
	must(e.t, e.gate.Flush(context.Background()))
	var out []*audit.Event
	for en, err := range e.ledger.Read(0) {
		must(e.t, err)
		out = append(out, en.Event)
	}
	return out
}

// last returns the last event whose action is action.
func (e *env) last(action string) *audit.Event {
	evs := e.events()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Action == action {
			return evs[i]
		}
	}
	e.t.Fatalf("no %s event in the ledger", action)
	return nil
}

func wantCode(t *testing.T, err error, code Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want error %s", code)
	}
	var he *Error
	if !errorsAs(err, &he) {
		t.Fatalf("error %T %v is not a *hostapi.Error", err, err)
	}
	if he.Code != code {
		t.Fatalf("got code %s (%s), want %s", he.Code, he.Message, code)
	}
}

func errorsAs(err error, he **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*he = e
	}
	return ok
}

// wantDenyEvent checks that the last event of action records the refusal.
func (e *env) wantDenyEvent(action string, code Code) *audit.Event {
	e.t.Helper()
	ev := e.last(action)
	if ev.Outcome != audit.OutcomeError || ev.Error == nil || ev.Error.Code != string(code) {
		e.t.Fatalf("last %s event: outcome %q error %+v, want error %s", action, ev.Outcome, ev.Error, code)
	}
	if code != CodeDeclined && ev.Decision.Effect != audit.EffectDeny && code != CodeNotFound && code != CodeIO {
		e.t.Fatalf("last %s event: decision %+v, want deny", action, ev.Decision)
	}
	if ev.Actor.Plugin != testPlugin || ev.Instance != testInstance {
		e.t.Fatalf("event actor %+v instance %q", ev.Actor, ev.Instance)
	}
	if strings.Contains(string(mustJSON(ev)), "eyJ") {
		e.t.Fatalf("event holds what looks like a token: %s", mustJSON(ev))
	}
	return ev
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
