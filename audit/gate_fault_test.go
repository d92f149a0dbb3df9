package audit_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
)

// The gate over a ledger whose disk fails under it: the real gate, the real
// ledger, real files, and one segment write or fdatasync made to fail
// (export_test.go). It lives here, in package audit_test, because only the
// tests of package audit may reach the ledger's fault injection.

type keyMap map[string]ed25519.PublicKey

func (k keyMap) Lookup(id string) (ed25519.PublicKey, bool) { p, ok := k[id]; return p, ok }

type gateOverFaultyLedger struct {
	t      *testing.T
	ledger *audit.Ledger
	ldir   string
	data   string // the granted directory
	faults *audit.Faults
	gate   *hostapi.Gate
	caller hostapi.Caller
	signer hostkey.Signer
}

func newGateOverFaultyLedger(t *testing.T) *gateOverFaultyLedger {
	dir := t.TempDir()
	dir, _ = filepath.EvalSymlinks(dir)
	g := &gateOverFaultyLedger{t: t, ldir: filepath.Join(dir, "audit"), data: filepath.Join(dir, "data"), faults: audit.NewFaults()}
	if err := os.MkdirAll(g.data, 0o755); err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	g.signer = hostkey.NewSigner(priv)
	g.ledger, err = audit.Open(g.ldir, audit.WithSigner(g.signer), audit.WithCheckpointInterval(time.Hour), g.faults.Option())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.ledger.Close() })
	res := "filesystem:" + g.data + "/**"
	man, err := policy.NewManifest([]policy.Permission{{Resource: res, Actions: []string{"read", "write"}}}, resource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte("version: 1\nrules:\n  - id: data\n    effect: allow\n    resource: "+res+"\n"), policy.ParseOptions{File: "test.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	g.gate, err = hostapi.NewGate(hostapi.Config{
		Tokens:    capability.NewVerifier(keyMap{g.signer.KeyID(): g.signer.Public()}),
		Policy:    policy.NewEngine(pol, nil),
		Audit:     g.ledger,
		Protected: []string{g.ldir},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := capability.NewIssuer(g.signer).Mint(capability.Request{Subject: "acme.sheets", Audience: "inst-1",
		Resource: res, Actions: []string{"read", "write"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	g.caller = hostapi.Caller{Plugin: "acme.sheets", Version: "1.0.0", Publisher: "acme", Instance: "inst-1", Session: "s-1",
		Manifest: man, Tokens: []string{tok}}
	return g
}

func (g *gateOverFaultyLedger) call(method string, params map[string]any) (json.RawMessage, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		g.t.Fatal(err)
	}
	return g.gate.Call(context.Background(), g.caller, method, "", raw)
}

func (g *gateOverFaultyLedger) write(name, content string) (json.RawMessage, error) {
	return g.call("fs.write", map[string]any{"path": filepath.Join(g.data, name), "data": base64.StdEncoding.EncodeToString([]byte(content))})
}

func (g *gateOverFaultyLedger) mustWrite(name, content string) {
	g.t.Helper()
	if _, err := g.write(name, content); err != nil {
		g.t.Fatalf("fs.write %s on a healthy disk: %v", name, err)
	}
	if err := g.gate.Flush(context.Background()); err != nil {
		g.t.Fatalf("flush on a healthy disk: %v", err)
	}
}

func (g *gateOverFaultyLedger) content(name string) string {
	b, err := os.ReadFile(filepath.Join(g.data, name))
	if errors.Is(err, os.ErrNotExist) {
		return "<absent>"
	}
	if err != nil {
		g.t.Fatal(err)
	}
	return string(b)
}

// refused checks that a call failed closed: no result, the ledger's error
// inside an unavailable error.
func (g *gateOverFaultyLedger) refused(what string, res json.RawMessage, err error, want error) {
	g.t.Helper()
	var herr *hostapi.Error
	if res != nil || !errors.As(err, &herr) || herr.Code != hostapi.CodeUnavailable || !errors.Is(err, want) {
		g.t.Fatalf("%s: result %s, error %v; want no result and an unavailable error wrapping %v", what, res, err, want)
	}
}

// reopen closes the ledger, opens its directory without faults, verifies it
// against its checkpoints and witness, and returns the fs.write events on
// file name, by outcome.
func (g *gateOverFaultyLedger) reopen(closeErr error) map[string][]string {
	g.t.Helper()
	t := g.t
	if err := g.ledger.Close(); !errors.Is(err, closeErr) {
		t.Fatalf("close: %v; want %v", err, closeErr)
	}
	l, err := audit.Open(g.ldir, audit.WithSigner(g.signer))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer l.Close()
	v, _ := audit.Verifiers(l.VerifierKeys()...)
	if _, err := audit.VerifyDir(context.Background(), g.ldir, v, audit.VerifyOptions{Witness: l.WitnessPath()}); err != nil {
		t.Fatalf("verify after the failure: %v", err)
	}
	writes := map[string][]string{}
	for e, err := range l.Read(0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Event.Action == "fs.write" {
			name := filepath.Base(strings.TrimPrefix(e.Event.Resource, "filesystem:"))
			writes[name] = append(writes[name], e.Event.Outcome)
		}
	}
	return writes
}

// TestGateFailsClosedWhenTheLedgerStops: once the ledger's writer has
// stopped for good (EIO from a segment write, or from its fdatasync, which
// is never retried), the gate performs no effect whose intent is not
// durable (an fs.write neither creates nor changes its file) and withholds
// every result (an fs.read returns nothing), until the host restarts. The
// log still verifies on reopen and holds every acknowledged call; the
// refused write left no outcome in it.
func TestGateFailsClosedWhenTheLedgerStops(t *testing.T) {
	for _, op := range []string{"write", "datasync"} {
		t.Run(op, func(t *testing.T) {
			g := newGateOverFaultyLedger(t)
			g.mustWrite("a.txt", "first")
			g.faults.FailSegments(op, syscall.EIO)

			res, err := g.write("a.txt", "second")
			g.refused("fs.write over a.txt", res, err, syscall.EIO)
			res, err = g.write("b.txt", "new")
			g.refused("fs.write of a new b.txt", res, err, syscall.EIO)
			if got := g.content("a.txt"); got != "first" {
				t.Errorf("a.txt holds %q after a write whose intent was not durable; want \"first\"", got)
			}
			if got := g.content("b.txt"); got != "<absent>" {
				t.Errorf("b.txt holds %q after a write whose intent was not durable; want no file", got)
			}
			res, err = g.call("fs.read", map[string]any{"path": filepath.Join(g.data, "a.txt")})
			g.refused("fs.read of a.txt", res, err, syscall.EIO)
			if err := g.gate.Flush(context.Background()); !errors.Is(err, syscall.EIO) {
				t.Errorf("flush after the ledger stopped: %v; want its EIO", err)
			}

			writes := g.reopen(syscall.EIO)
			if got := strings.Join(writes["a.txt"], ","); !strings.HasPrefix(got, "intent,ok") || strings.Count(got, "ok") != 1 {
				t.Errorf("a.txt's fs.write events %q; want the acknowledged intent and outcome, and no second outcome", got)
			}
			for _, o := range writes["b.txt"] {
				if o != audit.OutcomeIntent {
					t.Errorf("b.txt's fs.write has outcome %q on record; the write never happened", o)
				}
			}
		})
	}
}

// TestGateFailsClosedWhileTheLedgerStalls: on a full disk the gate refuses
// the same way, saying the ledger resumes by itself, and once there is room
// the same gate performs the write, without a restart; the ledger.outage
// event counts the refusals.
func TestGateFailsClosedWhileTheLedgerStalls(t *testing.T) {
	g := newGateOverFaultyLedger(t)
	g.mustWrite("a.txt", "first")
	full := g.faults.FailSegments("write", syscall.ENOSPC)

	res, err := g.write("b.txt", "new")
	g.refused("fs.write of b.txt on a full disk", res, err, audit.ErrStalled)
	if !strings.Contains(err.Error(), "resumes by itself") {
		t.Errorf("refusal %q does not say the ledger resumes by itself", err)
	}
	if got := g.content("b.txt"); got != "<absent>" {
		t.Errorf("b.txt holds %q after a write whose intent was not durable; want no file", got)
	}
	res, err = g.call("fs.read", map[string]any{"path": filepath.Join(g.data, "a.txt")})
	g.refused("fs.read of a.txt on a full disk", res, err, audit.ErrStalled)

	g.faults.Clear(full)
	audit.AwaitResume(t, g.ledger)
	g.mustWrite("b.txt", "new")
	if got := g.content("b.txt"); got != "new" {
		t.Errorf("b.txt holds %q after the disk had room again; want \"new\"", got)
	}
	writes := g.reopen(nil)
	if got := strings.Join(writes["b.txt"], ","); !strings.HasSuffix(got, "intent,ok") {
		t.Errorf("b.txt's fs.write events %q; want the intent and outcome written after the outage", got)
	}
}
