package wasm

import (
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
)

type oneKey struct {
	id  string
	pub ed25519.PublicKey
}

func (k oneKey) Lookup(id string) (ed25519.PublicKey, bool) { return k.pub, id == k.id }

// realGate is hostapi's Gate over a real ledger (in a temporary directory),
// real tokens and a policy that allows actions on dir, with a caller
// holding one token for them: what the host runs, for measuring the
// capability filesystem against its floor.
func realGate(tb testing.TB, dir string, actions ...string) (*hostapi.Gate, hostapi.Caller) {
	tb.Helper()
	return realGateWith(tb, dir, nil, actions...)
}

// realGateWith is realGate with edit applied to the gate's Config first.
func realGateWith(tb testing.TB, dir string, edit func(*hostapi.Config), actions ...string) (*hostapi.Gate, hostapi.Caller) {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	must(tb, err)
	signer := hostkey.NewSigner(priv)
	ledger, err := audit.Open(filepath.Join(tb.TempDir(), "audit"), audit.WithSigner(signer))
	must(tb, err)
	tb.Cleanup(func() { ledger.Close() })
	pol, err := policy.Parse(fmt.Appendf(nil, "version: 1\nrules:\n  - id: bench\n    effect: allow\n    resource: \"filesystem:%s/**\"\n", dir), policy.ParseOptions{File: "bench.yaml"})
	must(tb, err)
	m, err := policy.NewManifest([]policy.Permission{{Resource: "filesystem:" + dir + "/**", Actions: actions}}, resource.Options{})
	must(tb, err)
	verifier := capability.NewVerifier(oneKey{signer.KeyID(), signer.Public()})
	cfg := hostapi.Config{Tokens: verifier, Policy: policy.NewEngine(pol, nil), Audit: ledger}
	if edit != nil {
		edit(&cfg)
	}
	g, err := hostapi.NewGate(cfg)
	must(tb, err)
	tok, _, err := capability.NewIssuer(signer).Mint(capability.Request{Subject: "bench", Audience: "bench-1",
		Resource: "filesystem:" + dir + "/**", Actions: actions, TTL: time.Hour})
	must(tb, err)
	return g, hostapi.Caller{Plugin: "bench", Version: "1.0.0", Instance: "bench-1", Tokens: []string{tok}, Manifest: m}
}
